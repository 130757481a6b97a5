"""Executed notebooks as HTML pages (report/html.py): anchors that match the failure messages,
the failing cell marked and indexed, nothing that runs or fetches, and a notebook that cannot be
rendered leaves its verdict alone."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from gradient_runtime_test.report.html import (
    CSP,
    Pages,
    cell_number,
    clean_html,
    page_name,
    positions,
    with_pages,
)
from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult, TestStatus
from tests.report.notebooks import CAPPED, PNG, executed

FAILED = TestResult(
    "notebooks/a/demo.ipynb",
    TestStatus.FAILED,
    message="cell 5 (In [5]): ZeroDivisionError: division by zero",
)


@pytest.fixture(scope="module")
def pages() -> Pages:
    return Pages()


@pytest.fixture(scope="module")
def page(pages: Pages, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("pages")
    written, problems = pages.write(
        out,
        "C5",
        {"a/demo.ipynb": executed()},
        [FAILED],
        title="Example",
        injected={"a/demo.ipynb"},
    )
    assert problems == [] and written["a/demo.ipynb"].path == "notebooks/C5/a/demo.html"
    return (out / "notebooks" / "C5" / "a" / "demo.html").read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _cell_html(page: str, anchor: str) -> str:
    """The HTML of the wrapper `id=anchor`, up to the next cell's wrapper."""
    start = re.search(rf'<div[^>]*\bid="{anchor}"', page)
    assert start, f"no element with id {anchor}"
    end = re.search(r'<div[^>]*\bclass="grt-cell', page[start.end() :])
    return page[start.start() : start.end() + (end.start() if end else len(page))]


def test_positions_count_the_files_cells_and_leave_out_the_injected_one() -> None:
    nb = executed()
    assert positions(nb, injected=True) == [1, 2, None, 3, 4, 5, 6]
    # without parameters grt injected nothing: a tagged cell from the file counts as any other
    assert positions(nb, injected=False) == [1, 2, 3, 4, 5, 6, 7]
    assert positions({"cells": [1, {"metadata": "x"}, {}]}, injected=True) == [1, 2, 3]


def test_every_cell_is_anchored_with_the_number_the_failure_names(page: str) -> None:
    for n in range(1, 7):
        assert len(re.findall(rf'\bid="cell-{n}"', page)) == 1, n
    assert "rounds = 3" in _text(_cell_html(page, "cell-parameters"))  # the injected cell
    assert "rounds = 1" in _text(_cell_html(page, "cell-2"))
    failing = _cell_html(page, "cell-5")
    assert "1 / 0" in _text(failing) and "grt-failed" in failing
    assert "✗ Failed here: cell 5 (In [5]): ZeroDivisionError: division by zero" in failing
    assert "grt-failed" not in _cell_html(page, "cell-4")


def test_the_page_opens_with_an_index_of_failures_linked_to_their_cells(page: str) -> None:
    main = page[page.index("<main>") :]
    index = main[: main.index("</nav>")]
    assert "demo.ipynb on C5 · Example" in index and "✗ failed" in index
    assert '<a href="#cell-5">cell 5</a>: cell 5 (In [5]): ZeroDivisionError' in index
    assert main.index("</nav>") < main.index('id="cell-1"')


def test_the_page_runs_nothing_and_fetches_nothing(page: str) -> None:
    head = page[: page.index("</head>")]
    assert head.index("Content-Security-Policy") < head.index("<style")
    assert f'content="{CSP}"' in head
    assert "default-src 'none'" in CSP and "script" not in CSP
    assert not re.search(r"<(script|iframe|object|embed|link|base|form)\b", page, re.I)
    assert not re.search(r"http-equiv=\"?refresh", page, re.I)
    assert not re.search(r"<[^>]+\son\w+\s*=", page, re.I)
    assert page.count("window.pwned") == 1  # only the mermaid output's text, escaped
    for src in re.findall(r'\bsrc="([^"]*)"', page):
        assert src.startswith("data:image/"), src
    for url in re.findall(r'\b(?:src|href)="(https?://[^"]*)"', page):
        pytest.fail(f"a request or link to {url}")


def test_outputs_keep_their_structure_images_and_caps(page: str) -> None:
    assert f"data:image/png;base64,{PNG}" in page  # embedded
    assert "<h3>A real heading</h3>" in page and "<th>col</th>" in page
    assert "<h1" in page and "Title</h1>" in page  # Markdown rendered, not escaped
    assert "123456 characters cut by gradient-runtime-test" in page  # capped stays capped
    assert CAPPED.splitlines()[0] in page
    assert "&lt;/pre&gt;&lt;script&gt;" in page  # a mermaid output shows as text
    assert 'id="cell-1" onclick' not in page and page.count('id="cell-1"') == 1


def test_clean_html_keeps_structure_and_drops_what_runs() -> None:
    cleaned = clean_html(
        '<p id="cell-3" class="x">a</p><p id="ok">b</p><style>x{}</style>'
        '<a href="javascript:x()">j</a><a href="https://ok.example/">ok</a>'
        '<img src="data:image/png;base64,AA" onerror="x()"><svg onload="x()"></svg>'
    )
    assert cleaned == (
        '<p class="x">a</p><p id="ok">b</p><a>j</a><a href="https://ok.example/">ok</a>'
        '<img src="data:image/png;base64,AA">'
    )


def test_cell_number_prefers_the_field_and_falls_back_to_the_message() -> None:
    assert cell_number(FAILED) == 5
    assert (
        cell_number(TestResult("notebooks/x.ipynb", TestStatus.FAILED, message="cell 12: E")) == 12
    )
    assert (
        cell_number(TestResult("notebooks/x.ipynb", TestStatus.ERROR, message="notebook timeout"))
        is None
    )
    with_field = TestResult("notebooks/x.ipynb", TestStatus.FAILED, message="cell 5: E", cell=7)
    assert cell_number(with_field) == 7


def test_page_names_sit_beside_the_executed_copies() -> None:
    assert page_name("a/b.ipynb") == "a/b.html"
    assert page_name("a/b.ipynb[rerun]") == "a/b.rerun.html"
    assert page_name("notes.txt") is None


def test_a_notebook_that_cannot_be_rendered_keeps_its_verdict(pages: Pages, tmp_path: Path) -> None:
    broken = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": ["not a cell", 3]}
    rerun = TestResult("notebooks/good.ipynb[rerun]", TestStatus.FAILED, message="cell 5: E")
    tests = (
        TestResult("notebooks/broken.ipynb", TestStatus.FAILED, message="cell 1: E"),
        TestResult("notebooks/good.ipynb", TestStatus.PASSED),
        rerun,
    )
    notebooks = {
        "broken.ipynb": broken,
        "good.ipynb": executed(),
        "good.ipynb[rerun]": executed(),
        "../escape.ipynb": executed(),
        "not-a-dict.ipynb": "{}",
    }
    written, problems = pages.write(tmp_path, "C5", notebooks, tests, title="Example")
    assert sorted(written) == ["good.ipynb", "good.ipynb[rerun]"]
    assert len(problems) == 1 and problems[0].startswith("C5: broken.ipynb: no HTML page (")
    assert not (tmp_path / "notebooks" / "C5" / "broken.html").exists()
    assert (
        not (tmp_path / "escape.html").exists()
        and not (tmp_path / "notebooks" / "escape.html").exists()
    )
    run = RunResult(
        "Example", None, None, "t0", "t1", (CellResult("C5", CellStatus.FAILED, tests=tests),)
    )
    linked = {t.name: t.html for t in with_pages(run, {"C5": written}).cells[0].tests}
    assert linked == {
        "notebooks/broken.ipynb": "",
        "notebooks/good.ipynb": "notebooks/C5/good.html",
        "notebooks/good.ipynb[rerun]": "notebooks/C5/good.rerun.html#cell-5",
    }
    rerun_page = (tmp_path / "notebooks" / "C5" / "good.rerun.html").read_text(encoding="utf-8")
    assert "grt-failed" in _cell_html(rerun_page, "cell-5")
    # the link survives results.json
    again = TestResult.from_json(
        json.loads(json.dumps(with_pages(run, {"C5": written}).cells[0].tests[2].to_json()))
    )
    assert again.html == "notebooks/C5/good.rerun.html#cell-5"
    assert "html" not in tests[0].to_json()  # only when set
