"""Executed notebooks as HTML pages, made on the runner (never inside a notebook) with nbconvert's
HTMLExporter and its `lab` template, anchored at their cells.

- Every cell is anchored `id="cell-<n>"`, n its 1-based position among all the cells of the
  notebook *file*: the number a failure message names ("cell 5 (In [3]): ..."). The parameters
  cell grt injects is not in the file: it is anchored `cell-parameters` and not counted.
- A failing cell is marked (a red frame and a banner with the failure, named for screen readers),
  and an index of the notebook's failures, linking to their cells, opens the page.
- Offline and inert: the template drops the CDN scripts of `lab` (require.js, MathJax, mermaid,
  widgets), outputs' HTML and Markdown are sanitized (no script), images are the outputs' own
  `data:` URIs, and a Content-Security-Policy forbids every request and script. Math in
  Markdown stays as TeX. Outputs are the executed copy's, capped as the harness capped them.
- A page is a convenience: `Pages.write` leaves out a notebook nbconvert cannot render (and says
  why), and never changes a verdict.

nbconvert is imported on first use (it takes about a second): `Pages.warm` starts that in a
thread while the cells run, so the pages cost the run little time at its end.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import html
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..harness.nbfile import INJECTED_TAG
from ..results import RunResult, TestResult, TestStatus
from . import one_line, shorten

NOTEBOOK_PREFIX = "notebooks/"
RERUN = "[rerun]"
_CELL = re.compile(r"^cell (\d+)\b")
_MESSAGE_CHARS = 300
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "base-uri 'none'; form-action 'none'"
)
CSS = """
.grt-index { border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px 16px; margin: 16px 0;
  background: #f6f8fa; font-family: system-ui, sans-serif; }
.grt-index h1 { font-size: 1.3rem; margin: 0.3em 0; }
.grt-index h2 { font-size: 1.05rem; margin: 0.6em 0 0.3em; }
.grt-verdict { display: inline-block; padding: 1px 8px; border-radius: 12px; color: #fff;
  font-weight: 600; }
.grt-passed { background: #1a7f37; }
.grt-failed-verdict { background: #cf222e; }
.grt-cell.grt-failed { outline: 3px solid #cf222e; outline-offset: 2px; border-radius: 2px; }
.grt-banner { margin: 0 0 4px; padding: 4px 8px; background: #cf222e; color: #fff;
  font-family: system-ui, sans-serif; font-weight: 600; overflow-wrap: anywhere; }
.grt-cell:target { scroll-margin-top: 8px; }
"""
# The lab template, made offline: no CDN script, a policy that forbids requests, every cell
# wrapped in its anchor, and the index of failures before the first cell.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head -%}
<meta http-equiv="Content-Security-Policy" content="{{ resources.grt.csp }}">
<meta name="referrer" content="no-referrer">
{{ super() }}
{%- endblock html_head -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.grt.css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.grt.index }}
{%- endblock body_header -%}
{%- block data_mermaid scoped -%}
<pre class="jp-OutputArea-output">{{ output.data['text/vnd.mermaid'] | escape_html }}</pre>
{%- endblock data_mermaid -%}
{%- block any_cell scoped -%}
{{ cell.metadata.grt.open }}
{{ super() }}
</div>
{%- endblock any_cell -%}
"""
TEMPLATE_NAME = "grt-notebook.html.j2"
_SAMPLE = {  # rendered while the cells run, through every path a real page takes
    "nbformat": 4,
    "nbformat_minor": 4,
    "metadata": {"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# *x* `y`"},
        {
            "cell_type": "code",
            "metadata": {},
            "source": "%time x = 1\nx",
            "execution_count": 1,
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": "\x1b[31mx\x1b[0m\n"},
                {
                    "output_type": "execute_result",
                    "execution_count": 1,
                    "metadata": {},
                    "data": {"text/plain": "1", "text/html": "<table><tr><td>1</td></tr></table>"},
                },
                {
                    "output_type": "error",
                    "ename": "E",
                    "evalue": "e",
                    "traceback": ["\x1b[31mE\x1b[0m"],
                },
            ],
        },
    ],
}


# What outputs' HTML and Markdown may keep (nbconvert's own `clean_html` escapes headings,
# paragraphs, images and table heads): structure and text, images as data: URIs, links out.
_TAG_WORDS = (
    "a abbr b blockquote br caption code col colgroup dd del details div dl dt em figcaption "
    "figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strong sub "
    "summary sup table tbody td tfoot th thead tr tt u ul var"
)
_TAGS = frozenset(_TAG_WORDS.split())
_DROPPED = re.compile(
    r"<(script|style|noscript|template|textarea|title|iframe|object|svg|math)\b.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
_OURS = re.compile(r"^(cell-|grt-)", re.IGNORECASE)


def _allowed(tag: str, name: str, value: str) -> bool:
    """Attributes outputs keep: no event handler, no id that could take one of our anchors."""
    if name in ("class", "title", "style", "align", "colspan", "rowspan", "alt"):
        return True
    if name == "id":
        return not _OURS.match(value)
    if tag == "img" and name in ("src", "width", "height"):
        return name != "src" or value.lower().startswith("data:image/")
    return tag == "a" and name == "href" and value.lower().startswith(("http://", "https://", "#"))


def clean_html(element: object) -> str:
    """HTML from a notebook (outputs, Markdown, raw cells) without scripts, styles sheets,
    frames, forms, meta tags or event handlers; images only as data: URIs."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    text = element.decode() if isinstance(element, bytes) else str(element)
    return str(
        bleach.clean(
            _DROPPED.sub("", text),
            tags=_TAGS,
            attributes=_allowed,
            protocols={"http", "https", "data"},
            strip=True,
            strip_comments=True,
            css_sanitizer=CSSSanitizer(),
        )
    )


@dataclasses.dataclass(frozen=True)
class Failure:
    """A failing test of one executed notebook, and the cell it names (None: no cell)."""

    test: str
    cell: int | None
    message: str


def cell_number(test: TestResult) -> int | None:
    """The cell a notebook test's failure names: its `cell` (1-based among all the cells of the
    notebook file), else the number its message starts with ("cell 5 (In [3]): ...", as results
    of an older grt say it)."""
    if test.cell is not None and test.cell > 0:
        return test.cell
    match = _CELL.match(test.message)
    return int(match[1]) if match else None


def page_name(key: str) -> str | None:
    """The page of an executed copy (`notebooks/<machine>/<key>`): `a/b.ipynb` -> `a/b.html`,
    `a/b.ipynb[rerun]` -> `a/b.rerun.html`. None for a key that is not a notebook path."""
    rerun = key.endswith(RERUN)
    path = key.removesuffix(RERUN)
    if not path.endswith(".ipynb"):
        return None
    return path.removesuffix(".ipynb") + (".rerun.html" if rerun else ".html")


def positions(nb: Mapping[str, Any], *, injected: bool) -> list[int | None]:
    """Each cell's 1-based position in the notebook file, in the executed copy's order; None for
    the parameters cell grt injected (`injected`: it did, tagging it `injected-parameters`)."""
    found: list[int | None] = []
    position = 0
    for cell in nb.get("cells") or ():
        meta = cell.get("metadata") if isinstance(cell, Mapping) else None
        tags = meta.get("tags") if isinstance(meta, Mapping) else None
        if injected and isinstance(tags, list) and INJECTED_TAG in tags:
            found.append(None)
        else:
            position += 1
            found.append(position)
    return found


def _e(text: str, limit: int = _MESSAGE_CHARS) -> str:
    return html.escape(shorten(one_line(text), limit), quote=True)


def index_html(title: str, failures: Sequence[Failure], status: str) -> str:
    """The box that opens a page: what it is, its verdict, and its failures linked to their cells."""
    good = status in ("passed", "xfail", "xpass", "skipped", "")
    symbol, css = ("✓", "grt-passed") if good else ("✗", "grt-failed-verdict")
    word = html.escape(status or "not reported")
    verdict = f'<p><span class="grt-verdict {css}">{symbol} {word}</span></p>'
    items = []
    for f in failures:
        where = f'<a href="#cell-{f.cell}">cell {f.cell}</a>' if f.cell else "the notebook"
        items.append(f"<li>{where}: {_e(f.message)} <small>({_e(f.test)})</small></li>")
    listed = (
        f'<h2 id="grt-failures">Failures</h2><ol aria-labelledby="grt-failures">{"".join(items)}</ol>'
        if items
        else "<p>No failure in this notebook.</p>"
    )
    return (
        f'<nav class="grt-index jp-RenderedHTMLCommon" aria-label="Result">'
        f"<h1>{_e(title, 400)}</h1>{verdict}{listed}</nav>"
    )


def _open_tag(position: int | None, failure: Failure | None) -> str:
    anchor = "cell-parameters" if position is None else f"cell-{position}"
    if failure is None:
        return f'<div id="{anchor}" class="grt-cell">'
    text = f"✗ Failed here: {failure.message}"
    return (
        f'<div id="{anchor}" class="grt-cell grt-failed" role="group" aria-label="{_e(text)}">'
        f'<p class="grt-banner">{_e(text)}</p>'
    )


@dataclasses.dataclass(frozen=True)
class Page:
    """A page written: its path under the output folder, and the failures it anchors."""

    path: str  # e.g. "notebooks/C5/a.html"
    failures: tuple[Failure, ...]

    def link(self, test: TestResult) -> str:
        """Where a test points in it: the failing cell's anchor, or the page."""
        cell = next((f.cell for f in self.failures if f.test == test.name), None)
        return f"{self.path}#cell-{cell}" if cell else self.path


class Pages:
    """Renders executed copies into HTML pages with one exporter (its templates compiled once)."""

    def __init__(self) -> None:
        self._exporter: Any = None
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None

    def warm(self) -> None:
        """Import nbconvert and compile the template in the background."""
        if self._warming is None:
            self._warming = threading.Thread(target=self._quietly, name="grt-html", daemon=True)
            self._warming.start()

    def _quietly(self) -> None:
        """The first page costs most (import, template compiled, style sheets read): make one."""
        if sys.platform == "linux":  # this thread only, below the cells' own work
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        with contextlib.suppress(Exception):  # tried again, and reported, when a page is made
            self._render(_SAMPLE, title="", status="passed", failures=(), injected=False)

    def _make(self) -> Any:
        with self._lock:
            if self._exporter is None:
                import jinja2
                from nbconvert import HTMLExporter

                quiet = logging.getLogger(f"{__name__}.nbconvert")  # not "alt text missing"
                quiet.setLevel(logging.ERROR)

                self._exporter = HTMLExporter(  # type: ignore[no-untyped-call]
                    template_name="lab",
                    template_file=TEMPLATE_NAME,
                    extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})],
                    extra_template_basedirs=[],  # never a template from the current folder
                    sanitize_html=True,
                    filters={"clean_html": clean_html},
                    embed_images=False,  # never a file of this machine in a page
                    exclude_anchor_links=True,
                    log=quiet,
                )
            return self._exporter

    def render(
        self,
        nb: Mapping[str, Any],
        *,
        title: str,
        status: str,
        failures: Sequence[Failure] = (),
        injected: bool = False,
    ) -> str:
        """One executed notebook as an HTML page. Raises whatever nbconvert raises."""
        if self._warming is not None:
            self._warming.join()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._render(
                nb, title=title, status=status, failures=failures, injected=injected
            )

    def _render(
        self,
        nb: Mapping[str, Any],
        *,
        title: str,
        status: str,
        failures: Sequence[Failure],
        injected: bool,
    ) -> str:
        import nbformat

        exporter = self._make()
        copied = copy.deepcopy(dict(nb))
        by_cell = {f.cell: f for f in failures if f.cell is not None}
        cells = copied.get("cells") or ()
        for cell, position in zip(cells, positions(copied, injected=injected), strict=True):
            failure = by_cell.get(position) if position is not None else None
            cell.setdefault("metadata", {})["grt"] = {"open": _open_tag(position, failure)}
        resources = {
            "metadata": {"name": title},
            "grt": {"csp": CSP, "css": CSS, "index": index_html(title, failures, status)},
        }
        node = nbformat.from_dict(copied)  # type: ignore[no-untyped-call]
        body, _ = exporter.from_notebook_node(node, resources=resources)
        return str(body)

    def write(
        self,
        out: Path,
        machine: str,
        notebooks: Mapping[str, Any],
        tests: Sequence[TestResult],
        *,
        title: str,
        injected: Collection[str] = (),
    ) -> tuple[dict[str, Page], list[str]]:
        """A page beside each executed copy under `out/notebooks/<machine>/`: the pages by
        notebook key, and one line for each copy that could not be rendered."""
        from .outputs import safe_relative, write_atomic

        folder = safe_relative(machine)
        pages: dict[str, Page] = {}
        problems: list[str] = []
        if folder is None:
            return pages, problems
        for key, nb in notebooks.items():
            name = page_name(key)
            rel = safe_relative(name) if name else None
            if rel is None or not isinstance(nb, dict):
                continue
            own = [t for t in tests if t.name == NOTEBOOK_PREFIX + key]
            failures = _failures(own)
            path = PurePosixPath("notebooks", folder, rel)
            try:
                text = self.render(
                    nb,
                    title=f"{key} on {machine} · {title}",
                    status=own[0].status.value if own else "",
                    failures=failures,
                    injected=key.removesuffix(RERUN) in injected,
                )
                write_atomic(out / path, text)
            except Exception as exc:  # a page is a convenience: say why, keep the verdict
                problems.append(f"{machine}: {key}: no HTML page ({_reason(exc)})")
                continue
            pages[key] = Page(str(path), tuple(failures))
        return pages, problems


def with_pages(run: RunResult, pages: Mapping[str, Mapping[str, Page]]) -> RunResult:
    """`run` with each notebook test pointing at its page (`pages`: machine -> key -> page)."""
    cells = []
    for cell in run.cells:
        own = pages.get(cell.machine) or {}
        tests = tuple(
            dataclasses.replace(t, html=own[key].link(t))
            if (key := t.name.removeprefix(NOTEBOOK_PREFIX)) in own
            and t.name.startswith(NOTEBOOK_PREFIX)
            else t
            for t in cell.tests
        )
        cells.append(dataclasses.replace(cell, tests=tests))
    return dataclasses.replace(run, cells=tuple(cells))


def _reason(exc: Exception) -> str:
    text = one_line(str(exc)) or type(exc).__name__
    return shorten(f"{type(exc).__name__}: {text}", 300)


def _failures(tests: Sequence[TestResult]) -> list[Failure]:
    failing = (TestStatus.FAILED, TestStatus.ERROR)
    return [Failure(t.name, cell_number(t), t.message) for t in tests if t.status in failing]
