"""The dashboard's pages as HTML text: `index` (the runtime x machine grid and the cost tables) and
`runtime_page` (one runtime's runs). Pure.

Every text that comes from history is made one line and HTML-escaped (it is result-derived: a
runtime, machine, reason or test name may be hostile); only http(s) URLs become links. Status is
told by a symbol and a word as well as a colour. No script, no external resource: each page
carries its style sheet and a Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from ..history import Record, Run
from ..report import one_line, shorten
from ..report.markdown import human_duration, money
from ..results import CellStatus
from .model import Board, Night, Row, Tile
from .style import CSS, LOOK, csp

_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})")
_REASON_CHARS = 120
_NAME_CHARS = 200


def e(text: object, limit: int = 2000) -> str:
    """`text` as one line of HTML text (also safe inside a quoted attribute)."""
    return html.escape(shorten(one_line(str(text)), limit), quote=True)


def url(value: str) -> str | None:
    """`value` as an attribute-safe http(s) URL, or None (no link for anything else)."""
    value = one_line(value)
    if not re.match(r"https?://[^\s\"'<>`]+$", value, re.IGNORECASE):
        return None
    return html.escape(value, quote=True)


def when(iso: str) -> str:
    """An ISO 8601 UTC time as `2026-11-30 03:41 UTC` in a <time> element."""
    match = _TIME.match(one_line(iso))
    if not match:
        return e(iso) or "—"
    return f'<time datetime="{e(iso)}">{match[1]} {match[2]} UTC</time>'


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp()}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def badge(status: CellStatus, *, word: str | None = None) -> str:
    symbol, css = LOOK[status]
    text = e(word if word is not None else status.value)
    return f'<span class="badge {css}"><span class="sym" aria-hidden="true">{symbol}</span> {text}</span>'


def _status_word(record: Record) -> str:
    return f"{record.status.value} (reused)" if record.reused_from else record.status.value


def _legend() -> str:
    shown = (
        CellStatus.PASSED,
        CellStatus.FAILED,
        CellStatus.ERROR,
        CellStatus.UNAVAILABLE,
        CellStatus.CANCELLED,
        CellStatus.SKIPPED,
    )
    items = "".join(f"<li>{badge(s)}</li>" for s in shown)
    return f'<ul class="legend" aria-label="Legend">{items}</ul>'


def _region(label_id: str, table: str) -> str:
    """A table that scrolls sideways on a narrow screen, reachable by keyboard."""
    return (
        f'<div class="scroll" role="region" aria-labelledby="{label_id}" tabindex="0">{table}</div>'
    )


# -- the grid ----------------------------------------------------------------------------------


def _strip(records: Sequence[Record]) -> str:
    items = []
    for r in records:
        symbol, css = LOOK[r.status]
        label = f"{_status_word(r)}, {_plain_time(r.finished_at)}"
        inner = f'<span aria-hidden="true">{symbol}</span><span class="sr">{e(label)}</span>'
        link = url(r.run_url)
        attrs = f'class="badge {css}" title="{e(label)}"'
        items.append(
            f'<li><a {attrs} href="{link}">{inner}</a></li>'
            if link
            else f"<li><span {attrs}>{inner}</span></li>"
        )
    noun = "result" if len(records) == 1 else "results"
    return f'<ol class="strip" aria-label="Last {len(records)} {noun}, oldest first">{"".join(items)}</ol>'


def _plain_time(iso: str) -> str:
    match = _TIME.match(one_line(iso))
    return f"{match[1]} {match[2]} UTC" if match else one_line(iso)


def _facts(record: Record) -> str:
    parts = [human_duration(record.duration_s), money(record.cost_usd)]
    return " · ".join(e(p) for p in parts)


def _reason(record: Record) -> str:
    text = record.reason
    if record.status == CellStatus.FAILED and record.failures:
        text = ", ".join(record.failures)
    if not one_line(text) or record.status == CellStatus.PASSED:
        return ""
    return f'<div class="reason">{e(text, _REASON_CHARS)}</div>'


def _run_link(record: Record, context: str) -> str:
    link = url(record.run_url)
    if not link:
        return ""
    return f'<div><a href="{link}">run<span class="sr"> of {e(context)}</span></a></div>'


def tile(t: Tile, runtime: str, machine: str) -> str:
    r = t.latest
    return (
        f"<td>{badge(r.status, word=_status_word(r))}"
        f'<div class="when">{when(r.finished_at)}</div>'
        f'<div class="facts">{_facts(r)}</div>'
        f"{_reason(r)}{_run_link(r, f'{runtime} on {machine}')}{_strip(t.strip)}</td>"
    )


def _empty_cell() -> str:
    return (
        '<td class="none"><span aria-hidden="true">—</span><span class="sr">not tested</span></td>'
    )


def _grid_row(row: Row, machines: Sequence[str], prefix: str = "") -> str:
    name = e(row.runtime, _NAME_CHARS)
    head = (
        f'<th scope="row"><a href="{e(prefix + row.page)}">{name}</a>'
        f'<div class="facts">billed {e(money(row.cost_usd))}</div></th>'
    )
    cells = [
        tile(row.tiles[m], row.runtime, m) if m in row.tiles else _empty_cell() for m in machines
    ]
    return f"<tr>{head}{''.join(cells)}</tr>"


def grid(board: Board, strip: int) -> str:
    head = "".join(f'<th scope="col">{e(m, _NAME_CHARS)}</th>' for m in board.machines)
    rows = "".join(_grid_row(row, board.machines) for row in board.rows)
    caption = (
        f"Latest result per runtime (rows) and machine (columns): status, when it finished, "
        f"duration, billed cost and its run; below, the last {strip} results, oldest first."
    )
    table = (
        f'<table class="grid"><caption>{e(caption)}</caption>'
        f'<thead><tr><th scope="col">Runtime</th>{head}</tr></thead><tbody>{rows}</tbody></table>'
    )
    return f'<section><h2 id="grid">Runtimes × machines</h2>{_legend()}{_region("grid", table)}</section>'


# -- cost tables -------------------------------------------------------------------------------


def _cost_per_runtime(board: Board) -> str:
    rows = "".join(
        f'<tr><th scope="row"><a href="{e(row.page)}">{e(row.runtime, _NAME_CHARS)}</a></th>'
        f'<td class="num">{len(row.runs)}</td><td class="num">{e(money(row.cost_usd))}</td></tr>'
        for row in board.rows
    )
    runs = sum(len(row.runs) for row in board.rows)
    table = (
        "<table><caption>Billed cost of the runs kept in history, per runtime.</caption>"
        '<thead><tr><th scope="col">Runtime</th><th scope="col" class="num">Runs</th>'
        '<th scope="col" class="num">Billed</th></tr></thead>'
        f"<tbody>{rows}</tbody>"
        f'<tfoot><tr><th scope="row">All runtimes</th><td class="num">{runs}</td>'
        f'<td class="num">{e(money(board.cost_usd))}</td></tr></tfoot></table>'
    )
    return f'<section><h2 id="per-runtime">Cost per runtime</h2>{_region("per-runtime", table)}</section>'


def nights_table(nights: Sequence[Night], *, label: str, split: bool) -> str:
    """Billed cost per night, newest first; `split`: with each runtime's share."""
    rows = []
    for night in nights:
        shares = ", ".join(
            f"{e(name, _NAME_CHARS)} {e(money(cost))}" for name, cost in night.by_runtime.items()
        )
        rows.append(
            f'<tr><th scope="row"><time datetime="{e(night.date)}">{e(night.date)}</time></th>'
            f'<td class="num">{night.runs}</td><td class="num">{e(money(night.cost_usd))}</td>'
            + (f"<td>{shares}</td>" if split else "")
            + "</tr>"
        )
    extra = '<th scope="col">Per runtime</th>' if split else ""
    table = (
        f"<table><caption>{e(label)}</caption>"
        '<thead><tr><th scope="col">Night (UTC date the run started)</th>'
        f'<th scope="col" class="num">Runs</th><th scope="col" class="num">Billed</th>{extra}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return table


def _per_night(board: Board) -> str:
    label = f"Billed cost per night, the last {len(board.nights)} nights with runs, newest first."
    table = nights_table(board.nights, label=label, split=True)
    return f'<section><h2 id="per-night">Cost per night</h2>{_region("per-night", table)}</section>'


# -- pages -------------------------------------------------------------------------------------


def footer(generated: str, board: Board) -> str:
    skipped = (
        f" {board.skipped} history line{'s' if board.skipped != 1 else ''} could not be read."
        if board.skipped
        else ""
    )
    return (
        f"<footer><p>Generated {when(generated)} by gradient-runtime-test from "
        f"{board.records} history record{'s' if board.records != 1 else ''}.{e(skipped)}</p>"
        "</footer>"
    )


def index(board: Board, *, title: str, generated: str, strip: int) -> str:
    """`index.html`: the grid, then cost per runtime and per night."""
    lead = (
        f"{len(board.rows)} runtime{'s' if len(board.rows) != 1 else ''} on "
        f"{len(board.machines)} machine type{'s' if len(board.machines) != 1 else ''}; "
        f"billed in all: {money(board.cost_usd)}."
    )
    if not board.rows:
        content = "<p>No runs recorded yet: the history is empty.</p>"
    else:
        content = grid(board, strip) + _cost_per_runtime(board) + _per_night(board)
    body = (
        f'<header><h1>{e(title)}</h1><p class="lead">{e(lead)}</p></header>'
        f"<main>{content}</main>{footer(generated, board)}"
    )
    return page(title, body)


def run_date(run: Run) -> str:
    return min((r.started_at for r in run.records), default="")
