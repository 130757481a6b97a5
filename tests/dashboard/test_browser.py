"""The dashboard in a real browser (headless Chromium): the grid's cells, links and colours are there
and visible, nothing is fetched, it reads on a phone, and the runtime pages open."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradient_runtime_test import history
from gradient_runtime_test.dashboard import write_site
from tests.browser import browser, hex_rgb, png_pixels, png_size
from tests.dashboard.samples import write

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chromium")]

GRID_FACTS = """(() => {
  const grid = document.querySelector('table.grid');
  const visible = (el) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const cells = [...grid.querySelectorAll('tbody td')];
  const links = [...grid.querySelectorAll('a')];
  const failed = grid.querySelector('.badge.s-failed');
  const box = failed.getBoundingClientRect();
  const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
  return {
    rows: grid.querySelectorAll('tbody tr').length,
    columns: [...grid.querySelectorAll('thead th')].map((th) => th.textContent),
    cells: cells.length, visibleCells: cells.filter(visible).length,
    links: links.length, visibleLinks: links.filter(visible).length,
    hrefs: links.map((a) => a.href),
    failedColour: getComputedStyle(failed).backgroundColor,
    failedOnTop: failed.contains(top),
    failedBox: {x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height},
    scripts: document.querySelectorAll('script, img, iframe').length,
    stylesApplied: document.styleSheets.length,
  };
})()"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dashboard")
    out = root / "site"
    write_site(history.load(write(root / "history")), out, generated="2026-11-30T09:00:00Z")
    return out


def test_the_grid_renders_in_chromium_with_visible_cells_links_and_colours(
    site: Path, tmp_path: Path
) -> None:
    index = (site / "index.html").as_uri()
    with browser(tmp_path / "profile") as page:
        page.open(index)
        facts = page.evaluate(GRID_FACTS)
        assert page.requests() == [index], "the page asked for something besides itself"
        dom = page.dom()
        shot = page.screenshot(full=True)
        badge = page.screenshot(clip=facts["failedBox"])
    assert facts["rows"] == 3
    assert facts["columns"] == ["Runtime", "A4000", "A6000", "C5", "Free-GPU"]
    assert facts["cells"] == facts["visibleCells"] == 12
    assert facts["links"] == facts["visibleLinks"] > 40
    assert all(h.startswith(("https://", "file://")) for h in facts["hrefs"])
    assert all(Path(h.removeprefix("file://")).exists() for h in facts["hrefs"] if "file" in h)
    assert facts["stylesApplied"] == 1 and facts["scripts"] == 0
    assert facts["failedColour"] == "rgb(207, 34, 46)" and facts["failedOnTop"]
    assert "PyTorch 1.12" in dom and "TensorFlow 2.9.1" in dom and "Free-GPU" in dom
    width, height = png_size(shot)
    assert width == 1280 and height > 900
    red = hex_rgb("#cf222e")
    pixels = png_pixels(badge)
    assert sum(1 for p in pixels if p == red) > len(pixels) // 3, "the failed badge is not red"


def test_on_a_phone_only_the_grid_scrolls_sideways(site: Path, tmp_path: Path) -> None:
    with browser(tmp_path / "profile") as page:
        page.open((site / "index.html").as_uri(), width=390, height=844, mobile=True)
        facts = page.evaluate(
            """(() => { const region = document.querySelector('.scroll');
            return {page: document.documentElement.scrollWidth, view: innerWidth,
                    region: region.clientWidth, inner: region.scrollWidth,
                    font: parseFloat(getComputedStyle(document.body).fontSize)}; })()"""
        )
    assert facts["page"] <= facts["view"] == 390
    assert facts["inner"] > facts["region"]  # the grid scrolls within its region
    assert facts["font"] >= 14


def test_a_runtime_page_opens_from_the_grid(site: Path, tmp_path: Path) -> None:
    with browser(tmp_path / "profile") as page:
        page.open((site / "index.html").as_uri())
        href = page.evaluate("document.querySelector('table.grid th a[href*=pytorch]').href")
        page.open(href)
        facts = page.evaluate(
            """({title: document.title, runs: document.querySelectorAll('#runs ~ div tbody tr').length,
                 back: document.querySelector('a[href="../index.html"]').href})"""
        )
        assert page.requests() == [href]
    assert facts["title"].startswith("PyTorch 1.12")
    assert facts["runs"] == 10
    assert facts["back"] == (site / "index.html").as_uri()
