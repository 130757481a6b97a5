"""The result model: immutable records, and their JSON form (results.json, schema 1).

Pure: no I/O. Renderers (report/) and publishers (github/) take these records as input.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

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
    # one line; for a notebook "cell 5 (In [3]): ZeroDivisionError: division by zero"
    message: str = ""
    details: str = ""  # multi-line, ANSI-free (e.g. a traceback)
    # Notebooks only; in results.json only when set:
    cell: int | None = None  # the cell `message` names: 1-based among all the notebook's cells
    timing: Mapping[str, float] = dataclasses.field(default_factory=dict)  # seconds per phase
    cut: tuple[str, ...] = ()  # what was cut from the executed copy
    warnings: tuple[str, ...] = ()
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
        if self.cell is not None:
            data["cell"] = self.cell
        if self.timing:
            data["timing"] = {k: round(v, 3) for k, v in self.timing.items()}
        if self.cut:
            data["cut"] = list(self.cut)
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.html:
            data["html"] = self.html
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = "test") -> TestResult:
        """The test in `data`; ValueError naming `where` when it is not one."""
        data = _object(data, where)
        return cls(
            name=_text(data, "name", where, required=True),
            status=_status(TestStatus, data.get("status"), f"{where}.status"),
            duration_s=_seconds(data.get("duration_s"), f"{where}.duration_s"),
            message=_text(data, "message", where),
            details=_text(data, "details", where),
            cell=_cell_number(data.get("cell"), f"{where}.cell"),
            timing={
                str(k): _seconds(v, f"{where}.timing.{k}")
                for k, v in _object(data.get("timing"), f"{where}.timing").items()
            },
            cut=_strings(data.get("cut"), f"{where}.cut"),
            warnings=_strings(data.get("warnings"), f"{where}.warnings"),
            html=_text(data, "html", where),
        )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = _array(value, where)
    if not all(isinstance(v, str) for v in items):
        raise ValueError(f"{where}: not a list of strings")
    return tuple(items)


def _cell_number(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: not a cell number")
    return value


@dataclasses.dataclass(frozen=True)
class Reuse:
    """Where a reused cell's verdict comes from: a passed run of the same inputs (history)."""

    run_id: str
    at: str  # ISO 8601, UTC: when that run finished
    run_url: str = ""

    def to_json(self) -> dict[str, str]:
        return {"run_id": self.run_id, "at": self.at, "run_url": self.run_url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "reused_from") -> Reuse:
        return cls(
            run_id=_text(data, "run_id", where, required=True),
            at=_text(data, "at", where, required=True),
            run_url=_text(data, "run_url", where),
        )


def cost(seconds: float, price_per_hour: float | None) -> float | None:
    """USD for `seconds` on a machine at `price_per_hour`; None when there is no price."""
    return None if price_per_hour is None else seconds * price_per_hour / 3600


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


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
    def from_json(cls, data: Any, where: str = "cell") -> CellResult:
        """The cell in `data`; ValueError naming `where` when it is not one."""
        data = _object(data, where)
        tests = _array(data.get("tests"), f"{where}.tests")
        reused = data.get("reused_from")
        return cls(
            machine=_text(data, "machine", where, required=True),
            status=_status(CellStatus, data.get("status"), f"{where}.status"),
            reason=_text(data, "reason", where),
            notebook_id=_text(data, "notebook_id", where),
            url=_text(data, "url", where),
            duration_s=_seconds(data.get("duration_s"), f"{where}.duration_s"),
            billed_s=_seconds(data.get("billed_s"), f"{where}.billed_s"),
            environment=dict(_object(data.get("environment", {}), f"{where}.environment")),
            metrics=dict(_object(data.get("metrics", {}), f"{where}.metrics")),
            tests=tuple(
                TestResult.from_json(t, f"{where}.tests[{i}]") for i, t in enumerate(tests)
            ),
            log_tail=tuple(str(x) for x in _array(data.get("log_tail"), f"{where}.log_tail")),
            price_per_hour=_amount(data, "price_per_hour", where),
            estimated_cost_usd=_amount(data, "estimated_cost_usd", where),
            input_hash=_text(data, "input_hash", where),
            reused_from=None
            if reused is None
            else Reuse.from_json(_object(reused, f"{where}.reused_from")),
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
    def from_json(cls, data: Any, where: str = "run") -> RunResult:
        """The run in `data` (a results.json); ValueError naming `where` when it is not one."""
        data = _object(data, where)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"results schema {data.get('schema')!r} is not supported (valid: 1)")
        ws = _object(data.get("workspace", {}), f"{where}.workspace")
        cells = _array(data.get("cells"), f"{where}.cells")
        return cls(
            runtime=_text(data, "runtime", where, required=True),
            workspace_url=_text(ws, "url", f"{where}.workspace") or None,
            workspace_ref=_text(ws, "ref", f"{where}.workspace") or None,
            started_at=_text(data, "started_at", where),
            finished_at=_text(data, "finished_at", where),
            cells=tuple(
                CellResult.from_json(c, f"{where}.cells[{i}]") for i, c in enumerate(cells)
            ),
            container=_text(data, "container", where),
            provider=_text(data, "provider", where),
            run_id=_text(data, "run_id", where),
            run_url=_text(data, "run_url", where),
            workspace_commit=_text(ws, "commit", f"{where}.workspace") or None,
            image_digest=_text(data, "container_digest", where) or None,
            harness_version=_text(data, "harness_version", where),
            max_cost_usd=_amount(data, "max_cost_usd", where),
        )


# --- reading results.json: every value checked, every problem named by where it is --------------

S = TypeVar("S", CellStatus, TestStatus)


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: not an object")
    return value


def _array(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}: not a list")
    return value


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}.{key}: not a string")
    return value


def _status(kind: type[S], value: Any, where: str) -> S:
    if value not in {s.value for s in kind}:
        shown = repr(value) if isinstance(value, str | int | float | None) else type(value).__name__
        raise ValueError(f"{where}: {shown[:60]} is not a status (valid: {', '.join(kind)})")
    return kind(value)


def _amount(data: Mapping[str, Any], key: str, where: str) -> float | None:
    """An optional amount (USD, USD per hour): absent or null is None."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e12:
        raise ValueError(f"{where}.{key}: not an amount")
    return float(value)


def _seconds(value: Any, where: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e12:
        raise ValueError(f"{where}: not a number of seconds")
    return float(value)


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


def verified(run: RunResult) -> RunResult:
    """`run` as read from a results file, each cell's status borne out by its tests: a cell
    marked passed (or unavailable, skipped, cancelled) that holds a failed test is failed, one
    holding an errored test an error; a passed cell without tests (unless it is reused: see
    `Reuse`), or a cell that never finished, is an error. Failed and error cells stay as they are: a status only gets worse."""
    return dataclasses.replace(run, cells=tuple(_verified(cell) for cell in run.cells))


def _verified(cell: CellResult) -> CellResult:
    said = cell.status
    if not said.finished:
        return dataclasses.replace(
            cell, status=CellStatus.ERROR, reason=f"results file says {said}: not finished"
        )
    if said in (CellStatus.FAILED, CellStatus.ERROR):
        return cell
    for bad in (TestStatus.FAILED, TestStatus.ERROR):
        test = next((t for t in cell.tests if t.status == bad), None)
        if test is not None:
            status = CellStatus.FAILED if bad == TestStatus.FAILED else CellStatus.ERROR
            did = "failed" if bad == TestStatus.FAILED else "errored"
            reason = f"results file says {said}, but test {test.name[:200]} {did}"
            return dataclasses.replace(cell, status=status, reason=reason)
    if said == CellStatus.PASSED and not cell.tests and cell.reused_from is None:
        # a reused cell holds no test: a recorded pass of the same inputs stands for them
        return dataclasses.replace(
            cell, status=CellStatus.ERROR, reason="incomplete result: passed without any test"
        )
    return cell


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
