"""One runtime's page (`runtimes/<slug>.html`): its latest result per machine with the failing
tests, every run kept in history (newest first), and its billed cost per night. Pure; escaping
as in `pages`."""

from __future__ import annotations

from collections.abc import Sequence

from ..history import Record, Run
from ..report.markdown import human_duration, money
from ..results import CellStatus
from .model import NIGHTS, Board, Night, Row, total
from .pages import badge, e, footer, nights_table, page, run_date, url, when
from .style import LOOK

_NAME_CHARS = 200
_FAILURES_SHOWN = 5
_NUM = ' class="num"'


def _tests(record: Record) -> str:
    return ", ".join(f"{n} {e(status)}" for status, n in sorted(record.tests.items())) or "—"


def _failures(record: Record) -> str:
    if not record.failures:
        return e(record.reason, 300) if record.status != CellStatus.PASSED else ""
    shown = "".join(
        f"<li><code>{e(name, 300)}</code></li>" for name in record.failures[:_FAILURES_SHOWN]
    )
    more = len(record.failures) - _FAILURES_SHOWN
    extra = f"<li>… and {more} more</li>" if more > 0 else ""
    return f"<ul>{shown}{extra}</ul>"


def _links(record: Record) -> str:
    links = []
    if run := url(record.run_url):
        links.append(f'<a href="{run}">run</a>')
    if notebook := url(record.notebook_url):
        links.append(f'<a href="{notebook}">notebook</a>')
    return " · ".join(links) or "—"


def _latest(row: Row) -> str:
    lines = []
    for machine in row.machines:
        r = row.tiles[machine].latest
        word = f"{r.status.value} (reused)" if r.reused_from else r.status.value
        lines.append(
            f'<tr><th scope="row">{e(machine, _NAME_CHARS)}</th><td>{badge(r.status, word=word)}</td>'
            f"<td>{when(r.finished_at)}</td>"
            f'<td class="num">{e(human_duration(r.duration_s))}</td>'
            f'<td class="num">{e(money(r.cost_usd))}</td><td>{_tests(r)}</td>'
            f"<td>{_failures(r)}</td><td>{_links(r)}</td></tr>"
        )
    heads = ("Machine", "Status", "Finished", "Duration", "Billed", "Tests", "Failures", "Links")
    head = "".join(
        f'<th scope="col"{_NUM if h in ("Duration", "Billed") else ""}>{h}</th>' for h in heads
    )
    table = (
        "<table><caption>The latest result on each machine.</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )
    return _section("latest", "Latest per machine", table)


def _section(anchor: str, title: str, table: str) -> str:
    return (
        f'<section><h2 id="{anchor}">{title}</h2>'
        f'<div class="scroll" role="region" aria-labelledby="{anchor}" tabindex="0">{table}</div>'
        "</section>"
    )


def _mark(record: Record | None) -> str:
    if record is None:
        return (
            '<td class="none"><span aria-hidden="true">—</span><span class="sr">not run</span></td>'
        )
    symbol, css = LOOK[record.status]
    word = f"{record.status.value} (reused)" if record.reused_from else record.status.value
    return (
        f'<td><span class="badge {css}" title="{e(word)}"><span aria-hidden="true">{symbol}</span>'
        f'<span class="sr">{e(word)}</span></span></td>'
    )


def _runs(row: Row) -> str:
    head = "".join(f'<th scope="col">{e(m, _NAME_CHARS)}</th>' for m in row.machines)
    lines = []
    for run in reversed(row.runs):
        by_machine = {r.machine: r for r in run.records}
        first = run.records[0]
        link = url(first.run_url)
        name = when(run_date(run))
        label = f'<a href="{link}">{name}</a>' if link else name
        marks = "".join(_mark(by_machine.get(m)) for m in row.machines)
        lines.append(
            f'<tr><th scope="row">{label}<div class="facts">{e(run.run_id, 80)}</div></th>'
            f"<td>{e(first.event) or '—'}</td>{marks}"
            f'<td class="num">{e(money(run.cost_usd))}</td></tr>'
        )
    table = (
        f"<table><caption>Every run kept in history, newest first ({len(row.runs)}).</caption>"
        f'<thead><tr><th scope="col">Run (started)</th><th scope="col">Event</th>{head}'
        f'<th scope="col" class="num">Billed</th></tr></thead><tbody>{"".join(lines)}</tbody></table>'
    )
    return _section("runs", "Runs", table)


def nights(runs: Sequence[Run], keep: int = NIGHTS) -> tuple[Night, ...]:
    """The runtime's billed cost per night (the UTC date each run started), newest first."""
    by_date: dict[str, list[Run]] = {}
    for run in runs:
        date = run_date(run)[:10]
        if len(date) == 10:
            by_date.setdefault(date, []).append(run)
    return tuple(
        Night(date, len(found), total(r.cost_usd for r in found), {})
        for date, found in sorted(by_date.items(), reverse=True)[:keep]
    )


def render(row: Row, board: Board, *, title: str, generated: str) -> str:
    """The page of one runtime of the board."""
    latest = max((t.latest for t in row.tiles.values()), key=lambda r: r.finished_at, default=None)
    facts = [f"{len(row.runs)} runs kept", f"billed in all: {money(row.cost_usd)}"]
    if latest is not None and latest.container:
        facts.append(f"container {latest.container}")
    table = nights_table(
        nights(row.runs), label="Billed cost per night, newest first.", split=False
    )
    body = (
        f'<header><p><a href="../index.html">← {e(title)}</a></p>'
        f'<h1>{e(row.runtime, _NAME_CHARS)}</h1><p class="lead">{e("; ".join(facts))}.</p></header>'
        f"<main>{_latest(row)}{_runs(row)}{_section('nights', 'Cost per night', table)}</main>"
        f"{footer(generated, board)}"
    )
    return page(f"{row.runtime} · {title}", body)
