"""What the dashboard shows, computed from a run history (docs/history.md). Pure.

A `Board` holds one row per runtime (its latest record per machine and a strip of the last
results), the machines as columns, and billed cost per runtime and per night (the UTC date a run
started on). Every text in it is still raw history text: the pages escape it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from ..history import History, Record, Run
from ..history.records import slug

STRIP = 10  # results per cell in the strip
NIGHTS = 30  # nights in the cost-per-night table
_DIGITS = re.compile(r"(\d+)")


def total(costs: Iterable[float | None]) -> float | None:
    """The sum of the known costs; None when none is known (no machine had a price)."""
    known = [c for c in costs if c is not None]
    return sum(known) if known else None


@dataclasses.dataclass(frozen=True)
class Tile:
    """One runtime x machine: its latest record and its last results, oldest first."""

    latest: Record
    strip: tuple[Record, ...]


@dataclasses.dataclass(frozen=True)
class Row:
    """One runtime: its tiles by machine, its runs (oldest first) and their billed total."""

    runtime: str
    page: str  # the runtime's page, relative to the site's root
    tiles: Mapping[str, Tile]
    runs: tuple[Run, ...]
    machines: tuple[str, ...]  # those it was run on, in column order

    @property
    def cost_usd(self) -> float | None:
        return total(r.cost_usd for r in self.runs)


@dataclasses.dataclass(frozen=True)
class Night:
    """A UTC date: the runs that started on it and what they billed."""

    date: str  # YYYY-MM-DD
    runs: int
    cost_usd: float | None
    by_runtime: Mapping[str, float | None]


@dataclasses.dataclass(frozen=True)
class Board:
    rows: tuple[Row, ...]
    machines: tuple[str, ...]  # the grid's columns
    nights: tuple[Night, ...]  # newest first
    records: int
    skipped: int  # history lines that were not records

    @property
    def cost_usd(self) -> float | None:
        return total(row.cost_usd for row in self.rows)


def machine_order(name: str) -> tuple[object, ...]:
    """Natural order: A4000 before A100000, A6000x2 after A6000, case aside."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
        for part in _DIGITS.split(name)
        if part
    )


def night_of(record: Record) -> str:
    """The UTC date a record's run started on ('' when its time is not a date)."""
    date = record.started_at[:10]
    return date if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else ""


def board(history: History, *, strip: int = STRIP, nights: int = NIGHTS) -> Board:
    """The dashboard's content: runtimes by name, machines in natural order."""
    machines = tuple(sorted({r.machine for r in history.records}, key=machine_order))
    pages = _pages(history.runtimes())
    rows = tuple(
        _row(history, runtime, pages[runtime], machines, strip)
        for runtime in sorted(history.runtimes(), key=str.lower)
    )
    return Board(rows, machines, _nights(history, nights), len(history.records), history.skipped)


def _row(history: History, runtime: str, page: str, machines: tuple[str, ...], n: int) -> Row:
    own = {r.machine for r in history.of(runtime)}
    tiles = {}
    for machine in machines:
        if machine in own:
            last = history.last(runtime, machine, n)
            tiles[machine] = Tile(last[-1], last)
    return Row(
        runtime=runtime,
        page=page,
        tiles=tiles,
        runs=history.runs(runtime),
        machines=tuple(m for m in machines if m in own),
    )


def _pages(runtimes: Iterable[str]) -> dict[str, str]:
    """A page per runtime, `runtimes/<slug>.html`; runtimes whose slugs collide get -2, -3..."""
    pages: dict[str, str] = {}
    taken: set[str] = set()
    for runtime in sorted(runtimes):
        base = slug(runtime)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        pages[runtime] = f"runtimes/{name}.html"
    return pages


def _nights(history: History, keep: int) -> tuple[Night, ...]:
    runs: dict[str, list[Record]] = {}
    for record in history.records:
        if date := night_of(record):
            runs.setdefault(date, []).append(record)
    found = []
    for date in sorted(runs, reverse=True)[:keep]:
        records = runs[date]
        by_runtime: dict[str, list[float | None]] = {}
        for r in records:
            by_runtime.setdefault(r.runtime, []).append(r.cost_usd)
        found.append(
            Night(
                date=date,
                runs=len({(r.runtime, r.run_id) for r in records}),
                cost_usd=total(r.cost_usd for r in records),
                by_runtime={name: total(costs) for name, costs in sorted(by_runtime.items())},
            )
        )
    return tuple(found)
