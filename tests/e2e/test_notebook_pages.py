"""A local run with a failing notebook (issue 18's "done when"): its executed copy is written as
HTML with the anchor the failure names; results.json, JUnit and summary.md point at it; and the
page opens offline in headless Chromium at the failing cell."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser import browser, hex_rgb, png_pixels
from tests.e2e.workspace import REPO

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

PAGE = "notebooks/C5/analysis/summary.html"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict[str, Any]]:
    """The example runtime, with the parameter its summary notebook checks set wrong: the
    notebook's 5th cell (the 6th of the executed copy, after the injected parameters) fails."""
    root = tmp_path_factory.mktemp("pages-run")
    shutil.copytree(REPO / "examples", root / "examples")  # matrices beside their workspace
    matrices = root / "examples" / "matrices"
    runtime = matrices / "runtimes" / "example.yaml"
    text = runtime.read_text(encoding="utf-8")
    runtime.write_text(text.replace("parameters: {rounds: 3}", "parameters: {rounds: 2}"))
    out = root / "out"
    argv = ["run", "--matrices", str(matrices), "--runtime", "Example", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GRT_POLL_INTERVAL": "0.1"},
        check=False,
    )
    assert "no HTML page" not in proc.stderr, proc.stderr
    (cell,) = json.loads((out / "results.json").read_text(encoding="utf-8"))["cells"]
    return proc.returncode, out, {t["name"]: t for t in cell["tests"]}


def test_the_failure_points_at_its_cell_in_every_report(
    run: tuple[int, Path, dict[str, Any]],
) -> None:
    code, out, tests = run
    assert code == 1
    failed = tests["notebooks/analysis/summary.ipynb"]
    assert failed["status"] == "failed"
    assert failed["message"].startswith("cell 5 (In [")  # the 5th cell of the notebook file
    assert failed["cell"] == 5
    assert failed["html"] == f"{PAGE}#cell-5"
    assert tests["notebooks/hello.ipynb"]["html"] == "notebooks/C5/hello.html"
    assert "html" not in tests["checks/import.json"]
    page = (out / PAGE).read_text(encoding="utf-8")
    found = re.search(r'<div[^>]*\bid="cell-5"[^>]*>', page)
    assert found, "no anchor cell-5"
    cell = page[found.start() :]  # the notebook's last cell
    assert 'class="grt-cell' not in cell[found.end() - found.start() :]
    assert "grt-failed" in cell and "the matrix injects rounds=3" in cell
    assert 'id="cell-parameters"' in page  # the injected cell, not counted
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    assert f"Executed notebook: {PAGE}#cell-5" in junit
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert f"📄 Executed notebook: `{PAGE}#cell-5` in the output folder" in summary
    for name in ("hello", "magics", "analysis/summary"):
        assert (out / "notebooks" / "C5" / f"{name}.html").is_file()
        assert (out / "notebooks" / "C5" / f"{name}.ipynb").is_file()


def test_the_page_opens_offline_at_the_failing_cell(
    run: tuple[int, Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, out, _ = run
    url = (out / PAGE).as_uri() + "#cell-5"
    with browser(tmp_path / "profile") as page:
        page.open(url, width=1000, height=700)
        facts = page.evaluate(
            """(() => { const target = document.querySelector(':target');
            const banner = target.querySelector('.grt-banner');
            const box = banner.getBoundingClientRect();
            return {target: target.id, top: target.getBoundingClientRect().top,
                    height: innerHeight, banner: banner.textContent,
                    colour: getComputedStyle(banner).backgroundColor,
                    box: {x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height},
                    scripts: document.scripts.length,
                    index: document.querySelector('nav.grt-index a[href="#cell-5"]') !== null}; })()"""
        )
        requests = page.requests()
        banner = page.screenshot(clip=facts["box"])
    assert requests == [url.split("#")[0]]  # nothing fetched, from a CDN or anywhere
    assert facts["target"] == "cell-5" and 0 <= facts["top"] < facts["height"]
    assert facts["banner"].startswith("✗ Failed here: cell 5")
    assert facts["colour"] == "rgb(207, 34, 46)" and facts["index"] and facts["scripts"] == 0
    red = hex_rgb("#cf222e")
    pixels = png_pixels(banner)
    assert sum(1 for p in pixels if p == red) > len(pixels) // 3
