"""History records: one per cell per run (docs/history.md, docs/history.schema.json). Pure.

A record says what one cell of one run found and cost, and what it was run on: enough for the
next run to compare against it or reuse it, and for a dashboard (runtime x machine, last results,
cost per runtime and per night, links to the runs).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..results import CellResult, CellStatus, Reuse, RunResult, TestStatus

SCHEMA = 1
MAX_FAILURES = 20  # failing test names kept per record
_SLUG = re.compile(r"[^a-z0-9]+")

# machine -> (cell status, names of failing tests): what a previous run looked like
Cells = Mapping[str, tuple[str, tuple[str, ...]]]


def slug(runtime: str) -> str:
    """The file name stem of a runtime's history ('PyTorch 1.12' -> 'pytorch-1-12')."""
    return _SLUG.sub("-", runtime.lower()).strip("-")[:64].strip("-") or "runtime"


@dataclasses.dataclass(frozen=True)
class Record:
    run_id: str
    runtime: str
    machine: str
    status: CellStatus
    started_at: str  # the run's, ISO 8601 UTC
    finished_at: str
    run_url: str = ""
    event: str = ""  # the GitHub event (schedule, pull_request, ...); "" outside Actions
    reason: str = ""
    duration_s: float = 0.0
    billed_s: float = 0.0
    price_per_hour: float | None = None
    cost_usd: float | None = None
    estimated_cost_usd: float | None = None
    provider: str = ""
    container: str = ""
    image_digest: str | None = None
    workspace_url: str | None = None
    workspace_ref: str | None = None
    workspace_commit: str | None = None
    input_hash: str = ""  # "" when the inputs could not all be pinned down: never reused
    harness_version: str = ""
    notebook_id: str = ""
    notebook_url: str = ""
    tests: Mapping[str, int] = dataclasses.field(default_factory=dict)  # count per test status
    failures: tuple[str, ...] = ()  # failing test names (at most MAX_FAILURES)
    reused_from: Reuse | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """One record per run, runtime and machine: a later one replaces an earlier one."""
        return (self.run_id, self.runtime, self.machine)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        data["failures"] = list(self.failures)
        data["tests"] = dict(self.tests)
        data["reused_from"] = self.reused_from.to_json() if self.reused_from else None
        for name in ("duration_s", "billed_s"):
            data[name] = round(data[name], 3)
        for name in ("cost_usd", "estimated_cost_usd"):
            data[name] = None if data[name] is None else round(data[name], 6)
        return {"v": SCHEMA, **data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """A record from its JSON form; ValueError (or KeyError, TypeError) when it is not one."""
        if data.get("v") != SCHEMA:
            raise ValueError(f"history record version {data.get('v')!r} (valid: {SCHEMA})")
        reused = data.get("reused_from")
        tests = data.get("tests") or {}
        if not isinstance(tests, Mapping):
            raise TypeError("tests")
        return cls(
            run_id=_text(data["run_id"]),
            runtime=_text(data["runtime"]),
            machine=_text(data["machine"]),
            status=CellStatus(data["status"]),
            started_at=_text(data["started_at"]),
            finished_at=_text(data["finished_at"]),
            run_url=_text(data.get("run_url")),
            event=_text(data.get("event")),
            reason=_text(data.get("reason")),
            duration_s=float(data.get("duration_s") or 0.0),
            billed_s=float(data.get("billed_s") or 0.0),
            price_per_hour=_number(data.get("price_per_hour")),
            cost_usd=_number(data.get("cost_usd")),
            estimated_cost_usd=_number(data.get("estimated_cost_usd")),
            provider=_text(data.get("provider")),
            container=_text(data.get("container")),
            image_digest=_text(data.get("image_digest")) or None,
            workspace_url=_text(data.get("workspace_url")) or None,
            workspace_ref=_text(data.get("workspace_ref")) or None,
            workspace_commit=_text(data.get("workspace_commit")) or None,
            input_hash=_text(data.get("input_hash")),
            harness_version=_text(data.get("harness_version")),
            notebook_id=_text(data.get("notebook_id")),
            notebook_url=_text(data.get("notebook_url")),
            tests={str(k): int(v) for k, v in tests.items()},
            failures=tuple(_text(n) for n in data.get("failures") or ())[:MAX_FAILURES],
            reused_from=Reuse.from_json(reused) if isinstance(reused, Mapping) else None,
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def records_of(run: RunResult, *, event: str = "") -> tuple[Record, ...]:
    """One record per finished cell of `run`."""
    return tuple(_record(run, cell, event) for cell in run.cells if cell.status.finished)


def _record(run: RunResult, cell: CellResult, event: str) -> Record:
    counts: dict[str, int] = {}
    for test in cell.tests:
        counts[test.status.value] = counts.get(test.status.value, 0) + 1
    failing = (TestStatus.FAILED, TestStatus.ERROR)
    return Record(
        run_id=run.run_id,
        run_url=run.run_url,
        event=event,
        runtime=run.runtime,
        machine=cell.machine,
        status=cell.status,
        reason=cell.reason,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_s=cell.duration_s,
        billed_s=cell.billed_s,
        price_per_hour=cell.price_per_hour,
        cost_usd=cell.cost_usd,
        estimated_cost_usd=cell.estimated_cost_usd,
        provider=run.provider,
        container=run.container,
        image_digest=run.image_digest,
        workspace_url=run.workspace_url,
        workspace_ref=run.workspace_ref,
        workspace_commit=run.workspace_commit,
        input_hash=cell.input_hash,
        harness_version=run.harness_version,
        notebook_id=cell.notebook_id,
        notebook_url=cell.url,
        tests=counts,
        failures=tuple(t.name for t in cell.tests if t.status in failing)[:MAX_FAILURES],
        reused_from=cell.reused_from,
    )


def order(records: Iterable[Record]) -> list[Record]:
    """Oldest run first (by when it finished, then its id); one record per key, the last kept."""
    unique = {r.key: r for r in records}
    return sorted(unique.values(), key=lambda r: (r.finished_at, r.run_id))


def bounded(records: Iterable[Record], keep_runs: int) -> list[Record]:
    """The records of each runtime's last `keep_runs` runs, oldest first."""
    ordered = order(records)
    runs: dict[str, list[str]] = {}
    for r in ordered:
        ids = runs.setdefault(r.runtime, [])
        if r.run_id not in ids:
            ids.append(r.run_id)
    kept = {(runtime, run_id) for runtime, ids in runs.items() for run_id in ids[-keep_runs:]}
    return [r for r in ordered if (r.runtime, r.run_id) in kept]


def previous_cells(records: Sequence[Record], runtime: str, *, before: str) -> Cells | None:
    """The cells of `runtime`'s last recorded run other than the run `before` (the current one):
    the baseline of "changes since the previous run". None when there is none."""
    runs = [r for r in order(records) if r.runtime == runtime and r.run_id != before]
    if not runs:
        return None
    last = runs[-1].run_id
    return {r.machine: (r.status.value, r.failures) for r in runs if r.run_id == last}
