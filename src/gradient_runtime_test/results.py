"""The result model: immutable records, and their JSON form (results.json, schema 1).

Pure: no I/O. Renderers (report/) and publishers (github/) take these records as input.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SCHEMA = 1


class CellStatus(enum.StrEnum):
    """Outcome of one runtime x machine cell."""

    QUEUED = "queued"  # live progress only; never in a finished results.json
    STARTING = "starting"  # live progress only
    RUNNING = "running"  # live progress only
    PASSED = "passed"
    FAILED = "failed"  # a test failed: the runtime is broken on this machine
    ERROR = "error"  # infrastructure or harness broke: no verdict on the runtime
    UNAVAILABLE = "unavailable"  # the platform had no capacity/quota for the machine
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self not in (CellStatus.QUEUED, CellStatus.STARTING, CellStatus.RUNNING)


class TestStatus(enum.StrEnum):
    """Outcome of one test inside a cell (a check or a notebook)."""

    __test__ = False  # not a pytest class

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    XFAIL = "xfail"  # failed, and matrices declare it an expected failure
    XPASS = "xpass"  # passed although declared an expected failure


@dataclasses.dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class

    name: str  # e.g. "checks/gpu.count", "notebooks/quick_start.ipynb", "notebooks/a.ipynb[rerun]"
    status: TestStatus
    duration_s: float = 0.0
    message: str = ""  # one line: for a notebook, "cell 3: ZeroDivisionError: division by zero"
    details: str = ""  # multi-line, ANSI-free (e.g. a traceback)
    # A notebook's executed copy as HTML, relative to the output folder, at the failing cell
    # ("notebooks/C5/a.html#cell-5"); in results.json only when set
    html: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "status": self.status.value,
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
            "details": self.details,
        }
        if self.html:
            data["html"] = self.html
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestResult:
        return cls(
            name=str(data["name"]),
            status=TestStatus(data["status"]),
            duration_s=float(data.get("duration_s") or 0.0),
            message=str(data.get("message") or ""),
            details=str(data.get("details") or ""),
            html=str(data.get("html") or ""),
        )


@dataclasses.dataclass(frozen=True)
class Reuse:
    """Where a reused cell's verdict comes from: a passed run of the same inputs (history)."""

    run_id: str
    at: str  # ISO 8601, UTC: when that run finished
    run_url: str = ""

    def to_json(self) -> dict[str, str]:
        return {"run_id": self.run_id, "at": self.at, "run_url": self.run_url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reuse:
        return cls(
            run_id=str(data["run_id"]), at=str(data["at"]), run_url=str(data.get("run_url") or "")
        )


def cost(seconds: float, price_per_hour: float | None) -> float | None:
    """USD for `seconds` on a machine at `price_per_hour`; None when there is no price."""
    return None if price_per_hour is None else seconds * price_per_hour / 3600


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclasses.dataclass(frozen=True)
class CellResult:
    machine: str
    status: CellStatus
    reason: str = ""  # why error/unavailable/cancelled/skipped, one line
    notebook_id: str = ""
    url: str = ""  # console link of the notebook, when there is one
    duration_s: float = 0.0
    billed_s: float = 0.0  # create to stop
    environment: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    metrics: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    tests: tuple[TestResult, ...] = ()
    log_tail: tuple[str, ...] = ()  # last log lines, for error cells
    price_per_hour: float | None = None  # USD, what billed_s costs (None: no known price)
    estimated_cost_usd: float | None = None  # before the run, from the expected duration
    input_hash: str = ""  # every input that decides the verdict (history; "" when unknown)
    reused_from: Reuse | None = None  # not run: a passed run of the same inputs stands

    @property
    def cost_usd(self) -> float | None:
        """USD billed for this cell: billed seconds at the machine's price (None: no price)."""
        return cost(self.billed_s, self.price_per_hour)

    def counts(self, prefix: str) -> tuple[int, int]:
        """(passed, total) over tests whose name starts with prefix; skipped ones not counted."""
        relevant = [
            t for t in self.tests if t.name.startswith(prefix) and t.status != TestStatus.SKIPPED
        ]
        ok = (TestStatus.PASSED, TestStatus.XFAIL, TestStatus.XPASS)
        return sum(1 for t in relevant if t.status in ok), len(relevant)

    @property
    def failures(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.status in (TestStatus.FAILED, TestStatus.ERROR))

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "status": self.status.value,
            "reason": self.reason,
            "notebook_id": self.notebook_id,
            "url": self.url,
            "duration_s": round(self.duration_s, 3),
            "billed_s": round(self.billed_s, 3),
            "environment": dict(self.environment),
            "metrics": dict(self.metrics),
            "tests": [t.to_json() for t in self.tests],
            "log_tail": list(self.log_tail),
            "price_per_hour": self.price_per_hour,
            "cost_usd": _money(self.cost_usd),
            "estimated_cost_usd": _money(self.estimated_cost_usd),
            "input_hash": self.input_hash,
            "reused_from": self.reused_from.to_json() if self.reused_from else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CellResult:
        reused = data.get("reused_from")
        return cls(
            machine=str(data["machine"]),
            status=CellStatus(data["status"]),
            reason=str(data.get("reason") or ""),
            notebook_id=str(data.get("notebook_id") or ""),
            url=str(data.get("url") or ""),
            duration_s=float(data.get("duration_s") or 0.0),
            billed_s=float(data.get("billed_s") or 0.0),
            environment=dict(data.get("environment") or {}),
            metrics=dict(data.get("metrics") or {}),
            tests=tuple(TestResult.from_json(t) for t in data.get("tests") or ()),
            log_tail=tuple(str(x) for x in data.get("log_tail") or ()),
            price_per_hour=_number(data.get("price_per_hour")),
            estimated_cost_usd=_number(data.get("estimated_cost_usd")),
            input_hash=str(data.get("input_hash") or ""),
            reused_from=Reuse.from_json(reused) if isinstance(reused, Mapping) else None,
        )


@dataclasses.dataclass(frozen=True)
class RunResult:
    runtime: str
    workspace_url: str | None
    workspace_ref: str | None
    started_at: str  # ISO 8601, UTC
    finished_at: str
    cells: tuple[CellResult, ...]
    container: str = ""
    provider: str = ""
    run_id: str = ""  # the workflow run ("<id>/<attempt>") in GitHub Actions, else grt's own
    run_url: str = ""
    workspace_commit: str | None = None  # the commit workspace_ref resolved to, when resolved
    image_digest: str | None = None  # the container's digest, when its registry gave one
    harness_version: str = ""
    max_cost_usd: float | None = None  # the budget the run was held to

    @property
    def cost_usd(self) -> float | None:
        """USD billed for the run: the sum over priced cells (None when no cell has a price)."""
        costs = [c.cost_usd for c in self.cells if c.cost_usd is not None]
        return sum(costs) if costs else None

    @property
    def estimated_cost_usd(self) -> float | None:
        """USD the run was expected to cost before it started (None when nothing was priced)."""
        estimates = [c.estimated_cost_usd for c in self.cells if c.estimated_cost_usd is not None]
        return sum(estimates) if estimates else None

    @property
    def unpriced(self) -> int:
        """Cells whose machine has no known price (their cost is not in `cost_usd`)."""
        return sum(1 for c in self.cells if c.price_per_hour is None)

    @property
    def conclusion(self) -> CellStatus:
        """The worst cell status: failed > error > cancelled > unavailable > passed."""
        statuses = {c.status for c in self.cells}
        for worst in (CellStatus.FAILED, CellStatus.ERROR, CellStatus.CANCELLED):
            if worst in statuses:
                return worst
        if CellStatus.UNAVAILABLE in statuses:
            return CellStatus.UNAVAILABLE
        if statuses == {CellStatus.SKIPPED}:
            return CellStatus.SKIPPED
        return CellStatus.PASSED

    def count(self, status: CellStatus) -> int:
        return sum(1 for c in self.cells if c.status == status)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "runtime": self.runtime,
            "container": self.container,
            "provider": self.provider,
            "workspace": {
                "url": self.workspace_url,
                "ref": self.workspace_ref,
                "commit": self.workspace_commit,
            },
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "run_id": self.run_id,
            "run_url": self.run_url,
            "container_digest": self.image_digest,
            "harness_version": self.harness_version,
            "cost_usd": _money(self.cost_usd),
            "estimated_cost_usd": _money(self.estimated_cost_usd),
            "max_cost_usd": self.max_cost_usd,
            "cells": [c.to_json() for c in self.cells],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"results schema {data.get('schema')!r} is not supported (valid: 1)")
        ws = data.get("workspace") or {}
        return cls(
            runtime=str(data["runtime"]),
            workspace_url=ws.get("url"),
            workspace_ref=ws.get("ref"),
            started_at=str(data.get("started_at") or ""),
            finished_at=str(data.get("finished_at") or ""),
            cells=tuple(CellResult.from_json(c) for c in data.get("cells") or ()),
            container=str(data.get("container") or ""),
            provider=str(data.get("provider") or ""),
            run_id=str(data.get("run_id") or ""),
            run_url=str(data.get("run_url") or ""),
            workspace_commit=ws.get("commit") or None,
            image_digest=data.get("container_digest") or None,
            harness_version=str(data.get("harness_version") or ""),
            max_cost_usd=_number(data.get("max_cost_usd")),
        )


def exit_code(runs: Sequence[RunResult], fail_on: str) -> int:
    """1 when a cell failed (or, with fail_on="error", errored); never with fail_on="never"."""
    if fail_on == "never":
        return 0
    bad = {CellStatus.FAILED} if fail_on == "failed" else {CellStatus.FAILED, CellStatus.ERROR}
    return 1 if any(c.status in bad for r in runs for c in r.cells) else 0


def merge(results: Sequence[RunResult]) -> list[RunResult]:
    """Merge fan-out results: one RunResult per runtime, cells ordered as first seen.

    A later result for the same (runtime, machine) replaces an earlier one (a re-run job).
    """
    by_runtime: dict[str, list[RunResult]] = {}
    for r in results:
        by_runtime.setdefault(r.runtime, []).append(r)
    merged = []
    for runtime, parts in by_runtime.items():
        cells: dict[str, CellResult] = {}
        for part in parts:
            for cell in part.cells:
                cells[cell.machine] = cell
        first = parts[0]
        merged.append(
            dataclasses.replace(
                first,
                runtime=runtime,
                started_at=min(p.started_at for p in parts),
                finished_at=max(p.finished_at for p in parts),
                cells=tuple(cells.values()),
            )
        )
    return merged


def apply_expected_failures(cell: CellResult, expected: Iterable[tuple[str, str]]) -> CellResult:
    """Turn failed tests listed as (machine, test) into xfail, passed ones into xpass.

    A cell whose only failures are expected is passed.
    """
    wanted = {test for machine, test in expected if machine in (cell.machine, "*")}
    if not wanted:
        return cell
    tests = []
    for test in cell.tests:
        if test.name in wanted and test.status in (TestStatus.FAILED, TestStatus.ERROR):
            test = dataclasses.replace(test, status=TestStatus.XFAIL)  # noqa: PLW2901
        elif test.name in wanted and test.status == TestStatus.PASSED:
            test = dataclasses.replace(test, status=TestStatus.XPASS)  # noqa: PLW2901
        tests.append(test)
    status = cell.status
    if status == CellStatus.FAILED and not any(
        t.status in (TestStatus.FAILED, TestStatus.ERROR) for t in tests
    ):
        status = CellStatus.PASSED
    return dataclasses.replace(cell, tests=tuple(tests), status=status)
