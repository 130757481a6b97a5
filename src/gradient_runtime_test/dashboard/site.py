"""Writing the dashboard: `index.html` and `runtimes/<slug>.html` under the site folder, each file
replaced atomically and readable by all (mode 0644: a web server serves them). Pages of runtimes
no longer in history are removed from `runtimes/` (the folder is the dashboard's own)."""

from __future__ import annotations

from pathlib import Path

from ..history import History
from ..report.outputs import write_atomic
from . import pages, runtime_page
from .model import STRIP, board

TITLE = "Gradient runtime tests"


def write_site(
    history: History, out: Path, *, generated: str, title: str = TITLE, strip: int = STRIP
) -> list[Path]:
    """The site for `history` under `out`; the files written, index first."""
    found = board(history, strip=strip)
    index = out / "index.html"
    write_atomic(index, pages.index(found, title=title, generated=generated, strip=strip))
    written = [index]
    for row in found.rows:
        path = out / row.page
        write_atomic(path, runtime_page.render(row, found, title=title, generated=generated))
        written.append(path)
    folder = out / "runtimes"
    for stale in sorted(folder.glob("*.html")) if folder.is_dir() else ():
        if stale not in written:
            stale.unlink()
    return written
