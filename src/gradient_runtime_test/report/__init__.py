"""Report rendering: pure functions from `RunResult` records to text (JUnit XML, Markdown, plain).

`junit` renders `junit.xml`; `markdown` renders `summary.md`, the status table the GitHub comment
is built from, and the terminal table `grt run` prints. This module holds the small text helpers
both share. Nothing here does I/O or reads the clock: the same results always render the same text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["clean", "gpu_summary", "one_line", "page_link", "shorten", "strip_ansi"]

# CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by BEL or ST) and 2-byte escapes.
_ANSI = re.compile(
    r"\x1b(?:\][^\x07\x1b]*(?:\x07|\x1b\\)|\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
# Characters XML 1.0 forbids or discourages, and other controls no reader wants: C0 controls except
# tab and newline, DEL, C1 controls, surrogates and non-characters. (Carriage returns are turned
# into newlines before this runs.)
_INVALID = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}-{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
    )
    + "]"
)
_SPACES = re.compile(r"\s+")
# A notebook test's page (TestResult.html): an .html file under notebooks/, maybe at a cell
_PAGE = re.compile(r"^notebooks/(?!(.*[/\\])?\.\.([/\\]|$)).{1,400}\.html(#cell-\d+)?$")


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences (colours, cursor moves, OSC hyperlinks)."""
    return _ANSI.sub("", text)


def clean(text: str) -> str:
    """ANSI-free text that is valid in XML and safe to print: newlines and tabs kept, other
    control characters dropped, CR LF and lone CR turned into LF."""
    text = strip_ansi(text).replace("\r\n", "\n").replace("\r", "\n")
    return _INVALID.sub("", text)


def one_line(text: str) -> str:
    """`clean` text with every run of whitespace (newlines included) collapsed to one space."""
    return _SPACES.sub(" ", clean(text)).strip()


def page_link(value: str) -> str:
    """A test's HTML page as reports show it ("notebooks/C5/a.html#cell-5"); "" when `value` is
    not such a relative path (results.json of a fan-out job is input like any other)."""
    value = one_line(value)
    return value if _PAGE.match(value) else ""


def shorten(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """`text` cut to at most `limit` characters, ending with `ellipsis` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ellipsis), 0)].rstrip() + ellipsis[: max(limit, 0)]


def gpu_summary(environment: Mapping[str, Any], *, times: str = "×") -> str:
    """The GPUs a cell saw, counted by model: "<n><times> <model>, ..."; "" when it saw none.

    `environment["gpus"]` is a list of model names (harness protocol v1); mappings with a `name`
    and a bare string are accepted too.
    """
    gpus = environment.get("gpus")
    if isinstance(gpus, str):
        gpus = [gpus]
    if not isinstance(gpus, list | tuple):
        return ""
    counts: dict[str, int] = {}
    for gpu in gpus:
        model = (gpu.get("name") or gpu.get("model")) if isinstance(gpu, Mapping) else gpu
        name = one_line(str(model or "")) or "GPU"
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n}{times} {name}" for name, n in counts.items())
