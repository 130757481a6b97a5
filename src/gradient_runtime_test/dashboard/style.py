"""The dashboard's look: one style sheet inlined in every page, and each status's colour, symbol
and word (a status is never told by colour alone). The pages allow this style sheet by its hash
in their Content-Security-Policy, and nothing else: no script, no request."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

from ..results import CellStatus

# status -> (symbol, CSS class); the word is the status itself
LOOK: Mapping[CellStatus, tuple[str, str]] = {
    CellStatus.PASSED: ("✓", "s-passed"),
    CellStatus.FAILED: ("✗", "s-failed"),
    CellStatus.ERROR: ("!", "s-error"),
    CellStatus.UNAVAILABLE: ("⊘", "s-unavailable"),
    CellStatus.CANCELLED: ("■", "s-cancelled"),
    CellStatus.SKIPPED: ("»", "s-skipped"),
    CellStatus.QUEUED: ("…", "s-skipped"),
    CellStatus.STARTING: ("…", "s-skipped"),
    CellStatus.RUNNING: ("…", "s-skipped"),
}

# Colours with white text hold a contrast of at least 4.5:1 (WCAG AA).
CSS = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff;
  --soft: #f6f8fa; --link: #0550ae; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1400px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 16px; }
h1 { font-size: 1.5rem; margin: 0.4em 0; }
h2 { font-size: 1.2rem; margin: 1.4em 0 0.5em; }
a { color: var(--link); }
a:focus-visible, .scroll:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
p.lead, .muted, footer { color: var(--muted); }
footer { padding-bottom: 24px; font-size: 0.85rem; }
.scroll { position: relative; overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; padding: 8px 10px; color: var(--muted); caption-side: top; }
th, td { border-top: 1px solid var(--line); padding: 8px 10px; text-align: left;
  vertical-align: top; }
thead th { background: var(--soft); white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
table.grid th[scope="row"] { position: sticky; left: 0; background: var(--soft); z-index: 1;
  min-width: 9rem; }
table.grid td { min-width: 11rem; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 12px; color: #fff;
  font-weight: 600; white-space: nowrap; }
.sym { display: inline-block; min-width: 1em; text-align: center; }
.s-passed { background: #1a7f37; }
.s-failed { background: #cf222e; }
.s-error { background: #9a3412; }
.s-unavailable { background: #59636e; }
.s-cancelled { background: #6639ba; }
.s-skipped { background: #6e7781; }
.facts, .when, .reason { font-size: 0.85rem; color: var(--muted); }
.reason { overflow-wrap: anywhere; }
ol.strip { list-style: none; display: flex; flex-wrap: wrap; gap: 3px; margin: 6px 0 0;
  padding: 0; }
ol.strip .badge { padding: 0 3px; border-radius: 3px; font-size: 0.8rem; min-width: 1.4em;
  text-align: center; text-decoration: none; }
.none { color: var(--muted); }
.sr { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 12px; padding: 0; }
@media (max-width: 640px) {
  body { font-size: 14px; }
  header, main, footer { padding: 0 8px; }
  th, td { padding: 6px; }
  table.grid td { min-width: 8.5rem; }
  table.grid th[scope="row"] { min-width: 6.5rem; }
}
""".strip()


def csp() -> str:
    """The pages' Content-Security-Policy: this style sheet only; no script, font or request."""
    digest = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
