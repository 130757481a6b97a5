"""A cell's records as the orchestrator carries it: the job to run, its state while it runs, what
it found, and the outcome once it is done."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..harness.protocol import ExpectedTests
from ..providers.base import Handle, Launch, NotebookState
from ..results import CellResult, TestResult, cost


@dataclasses.dataclass(frozen=True)
class Job:
    """One cell to run: what to create and how to judge it."""

    machine: str
    launch: Launch
    bundle_id: str
    run_timeout_s: float  # from Running to a complete bundle
    expected_tests: ExpectedTests  # what the harness's result must answer (from the spec)
    expected_failures: tuple[tuple[str, str], ...] = ()
    price_per_hour: float | None = None  # USD; None: unknown (counted as 0 against a budget)
    expected_s: float = 0.0  # how long the cell is expected to bill, for the cost estimate

    @property
    def estimated_cost_usd(self) -> float | None:
        return cost(self.expected_s, self.price_per_hour)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A finished cell: its result plus what is written beside it."""

    result: CellResult
    log: tuple[str, ...] = ()
    notebooks: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Live:
    """A cell whose notebook was created and has not finished yet."""

    job: Job
    handle: Handle
    created_at: float
    state: NotebookState = NotebookState.STARTING
    running_since: float | None = None
    last_log_read: float = float("-inf")
    log: list[str] = dataclasses.field(default_factory=list)
    log_error: str | None = None  # why the last log read failed
    log_failing_since: float | None = None  # when reading the logs of the ended notebook failed
    attempts: int = 0  # earlier tries of this job that the platform had no machine for
    unknown_since: float | None = None  # since when the provider does not know its state
    ended_since: float | None = None  # since when the platform shows it ended
    truncated_since: float | None = None  # since when its log ends a bundle with chunks missing
    rewind: bool = False  # its log is to be read again from the start, at the next read
    rewound: bool = False  # it was


@dataclasses.dataclass(frozen=True)
class Findings:
    """What the harness reported for a cell (nothing when it ended without a result)."""

    tests: tuple[TestResult, ...] = ()
    environment: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    metrics: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    notebooks: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    harness_s: float | None = None  # how long the harness ran, by its own clock

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Findings:
        return cls(
            tests=tuple(TestResult.from_json(t) for t in payload.get("tests", ())),
            environment=_mapping(payload.get("environment")),
            metrics=_mapping(payload.get("metrics")),
            notebooks=_mapping(payload.get("notebooks")),
            harness_s=_harness_seconds(payload),
        )


@dataclasses.dataclass(frozen=True)
class Settled:
    """A finished cell's notebook after stop, metrics and delete."""

    metrics: dict[str, Any]
    stopped_at: float
    leftover: str | None  # what is left of the notebook, if it could not be deleted


@dataclasses.dataclass(frozen=True)
class Leftover:
    """A notebook that could not be stopped or deleted: `grt sweep` ends it."""

    machine: str
    notebook_id: str
    what: str  # "may still be running" | "was stopped but not deleted"
    run_id: str = ""

    @property
    def message(self) -> str:
        sweep = f"grt sweep --run {self.run_id}" if self.run_id else "grt sweep"
        return f"notebook {self.notebook_id} ({self.machine}) {self.what}: `{sweep}` stops and deletes it"


def _mapping(value: Any) -> Mapping[str, Any]:
    """An object of the payload; anything else (a forged or broken payload) counts as none."""
    return value if isinstance(value, dict) else {}


def _harness_seconds(payload: Mapping[str, Any]) -> float | None:
    """How long the harness ran, by its own clock (polling would blur it by an interval)."""
    try:
        start = dt.datetime.fromisoformat(str(payload["started_at"]).replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(str(payload["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds >= 0 else None
