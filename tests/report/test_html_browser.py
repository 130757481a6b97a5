"""A notebook page in headless Chromium: a link to a cell far down scrolls to it, the failing cell
is marked and visible, and hostile outputs neither run nor fetch anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradient_runtime_test.report.html import Pages
from gradient_runtime_test.results import TestResult, TestStatus
from tests.browser import browser
from tests.report.notebooks import executed

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chromium")]

FILLER = 30  # Markdown cells between the first cells and the failing one
FAILING = 5 + FILLER


def test_a_link_to_the_failing_cell_scrolls_to_it_and_nothing_runs(tmp_path: Path) -> None:
    failed = TestResult(
        "notebooks/demo.ipynb", TestStatus.FAILED, message=f"cell {FAILING}: ZeroDivisionError"
    )
    written, problems = Pages().write(
        tmp_path,
        "C5",
        {"demo.ipynb": executed(filler=FILLER)},
        [failed],
        title="T",
        injected={"demo.ipynb"},
    )
    assert not problems
    url = (tmp_path / written["demo.ipynb"].link(failed)).as_uri().replace("%23", "#")
    assert url.endswith(f"demo.html#cell-{FAILING}")
    with browser(tmp_path / "profile") as page:
        page.open(url, width=1000, height=700)
        facts = page.evaluate(
            """(() => { const target = document.querySelector(':target');
            const image = document.querySelector('img[src^="data:image/png"]');
            return {target: target && target.id, top: target.getBoundingClientRect().top,
                    scrolled: scrollY, height: innerHeight,
                    failed: target.classList.contains('grt-failed'),
                    image: image.naturalWidth, pwned: window.pwned === undefined,
                    anchors: document.querySelectorAll('[id^="cell-"]').length}; })()"""
        )
        requests = page.requests()
    assert facts["target"] == f"cell-{FAILING}" and facts["failed"]
    assert facts["scrolled"] > 0 and 0 <= facts["top"] < facts["height"]
    assert facts["image"] == 1  # the embedded PNG decoded
    assert facts["pwned"]  # no hostile script ran
    assert facts["anchors"] == 6 + FILLER + 1  # the file's cells and the injected one
    assert requests == [url.split("#")[0]]
