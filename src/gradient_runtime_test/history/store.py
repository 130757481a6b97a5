"""The history folder: `<runtime slug>.jsonl` files, one record a line, oldest run first.

Writes hold a lock on the folder (`.lock`) for the read-merge-write, and replace each file
atomically, so two processes appending at once both keep their records. A line that is not a
valid record (a hand edit, a conflict marker) is left out and counted, never fatal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..report.outputs import write_atomic
from .records import Record, bounded, order, slug

KEEP_RUNS = 100  # runs kept per runtime
SUFFIX = ".jsonl"
LOCK = ".lock"


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of one runtime, as history has it."""

    run_id: str
    records: tuple[Record, ...]  # one per machine

    @property
    def cost_usd(self) -> float | None:
        costs = [r.cost_usd for r in self.records if r.cost_usd is not None]
        return sum(costs) if costs else None


@dataclasses.dataclass(frozen=True)
class History:
    """Every record of a history folder, oldest run first."""

    records: tuple[Record, ...] = ()
    skipped: int = 0  # lines that were not valid records

    def runtimes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.runtime for r in self.records))

    def of(self, runtime: str) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.runtime == runtime)

    def runs(self, runtime: str) -> tuple[Run, ...]:
        """The runtime's runs, oldest first."""
        by_run: dict[str, list[Record]] = {}
        for record in self.of(runtime):
            by_run.setdefault(record.run_id, []).append(record)
        return tuple(Run(run_id, tuple(rs)) for run_id, rs in by_run.items())

    def last(self, runtime: str, machine: str, n: int) -> tuple[Record, ...]:
        """The cell's last `n` records, oldest first."""
        found = [r for r in self.of(runtime) if r.machine == machine]
        return tuple(found[-n:]) if n > 0 else ()


def parse(text: str) -> tuple[list[Record], int]:
    """The records in a JSON-lines text, and how many non-empty lines were not records."""
    found: list[Record] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            found.append(Record.from_json(data))
        except (ValueError, KeyError, TypeError):
            bad += 1
    return found, bad


def render(records: Iterable[Record]) -> str:
    return "".join(
        json.dumps(r.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n" for r in records
    )


def load(folder: Path) -> History:
    """Every record under `folder` (an absent folder is an empty history)."""
    records: list[Record] = []
    skipped = 0
    for file in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else ():
        found, bad = parse(file.read_text(encoding="utf-8", errors="replace"))
        records += found
        skipped += bad
    return History(tuple(order(records)), skipped)


def append(folder: Path, records: Sequence[Record], *, keep_runs: int = KEEP_RUNS) -> list[Path]:
    """Add `records` to their runtimes' files (replacing records of the same run and machine),
    keeping each runtime's last `keep_runs` runs. The files written."""
    by_file: dict[str, list[Record]] = {}
    for record in records:
        by_file.setdefault(slug(record.runtime) + SUFFIX, []).append(record)
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        for name, new in by_file.items():
            path = folder / name
            old, _ = parse(path.read_text(encoding="utf-8")) if path.exists() else ([], 0)
            write_atomic(path, render(bounded([*old, *new], keep_runs)))
            written.append(path)
    return written


def merge_texts(ours: str, theirs: str, *, keep_runs: int = KEEP_RUNS) -> str:
    """Two versions of one history file as one: every record of both (theirs first, so ours wins a
    tie on the same run and machine), bounded. Invalid lines are dropped."""
    mine, _ = parse(ours)
    other, _ = parse(theirs)
    return render(bounded([*other, *mine], keep_runs))


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
