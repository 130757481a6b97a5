"""Notebooks side by side: the scheduler's limits, the spec's `parallel`, and the same verdicts
as one at a time (the zipapp end to end, on the fixture notebooks)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness.engine import Job, Outcome
from gradient_runtime_test.harness.schedule import (
    Scheduler,
    effective_parallel,
    kernels_ahead,
    usable_cpus,
)
from gradient_runtime_test.harness.spec import SpecError, parse_spec
from tests.harness.conftest import MAIN_NOTEBOOKS
from tests.harness.helpers import HarnessRun, make_spec, path_with


class CountingEngine:
    """Starts a "kernel" (sleeps), takes the job's slot, "runs" (sleeps); counts what overlaps."""

    name = "counting"
    version = "0"

    def __init__(self, start_s: float = 0.02, run_s: float = 0.05) -> None:
        self.start_s, self.run_s = start_s, run_s
        self.lock = threading.Lock()
        self.started = self.running = self.max_started = self.max_running = 0

    def _count(self, field: str, delta: int) -> None:
        with self.lock:
            value = getattr(self, field) + delta
            setattr(self, field, value)
            peak = "max_" + field
            setattr(self, peak, max(getattr(self, peak), value))

    def execute(self, job: Job) -> list[Outcome]:
        self._count("started", 1)
        try:
            time.sleep(self.start_s)
            with job.slot:
                self._count("running", 1)
                time.sleep(self.run_s)
                self._count("running", -1)
        finally:
            self._count("started", -1)
        return [Outcome(job.nb, None, self.run_s)]


def jobs(n: int) -> list[Job]:
    return [Job({"cells": [], "i": i}, "python3", ".", {}) for i in range(n)]


@pytest.mark.parametrize(("parallel", "ahead"), [(1, 0), (1, 2), (2, 1), (3, 0)])
def test_at_most_parallel_run_and_ahead_more_start(parallel: int, ahead: int) -> None:
    engine = CountingEngine()
    with Scheduler(engine, parallel=parallel, ahead=ahead) as scheduler:
        futures = [scheduler.submit(job) for job in jobs(8)]
    assert [f.result()[0].nb["i"] for f in futures] == list(range(8))
    assert engine.max_running == parallel
    assert engine.max_started == parallel + ahead


def test_time_waiting_for_a_slot_is_not_the_jobs_time() -> None:
    engine = CountingEngine(start_s=0.0, run_s=0.5)
    queued = jobs(2)
    with Scheduler(engine, parallel=1, ahead=1) as scheduler:
        for job in queued:
            scheduler.submit(job)
    # both "kernels" are ready at once: either job may take the one slot first
    first, second = sorted(queued, key=lambda job: job.waited_s)
    assert first.waited_s < 0.25 and second.waited_s >= 0.4
    assert 0.4 <= second.busy_s < 0.9  # its own run, not its wait


def test_a_context_is_held_while_a_job_runs() -> None:
    held: list[bool] = []

    class During:
        def __enter__(self) -> None:
            held.append(True)

        def __exit__(self, *exc: Any) -> None:
            held.append(False)

    with Scheduler(CountingEngine(), parallel=1, ahead=0) as scheduler:
        scheduler.submit(jobs(1)[0], during=During).result()
    assert held == [True, False]


def test_effective_parallel() -> None:
    assert effective_parallel(0, jobs=10, cpus=4) == 4  # 0: one per CPU
    assert effective_parallel(8, jobs=10, cpus=4) == 4  # never more than the CPUs
    assert effective_parallel(2, jobs=10, cpus=4) == 2
    assert effective_parallel(0, jobs=3, cpus=16) == 3  # nor than the jobs
    assert effective_parallel(0, jobs=0, cpus=16) == 1
    assert usable_cpus() >= 1
    assert kernels_ahead(1) == 2 and kernels_ahead(4) == 1


@pytest.mark.parametrize("value", [-1, 65, 1.5, True, "2"])
def test_spec_parallel_must_be_a_small_whole_number(tmp_path: Path, value: Any) -> None:
    with pytest.raises(SpecError, match=r"spec\.parallel"):
        parse_spec(make_spec(tmp_path, parallel=value))


def test_spec_parallel_defaults_to_one_at_a_time(tmp_path: Path) -> None:
    assert parse_spec(make_spec(tmp_path)).parallel == 1
    assert parse_spec(make_spec(tmp_path, parallel=0)).parallel == 0


@pytest.mark.kernel
@pytest.mark.xdist_group("grt-harness-runs")
def test_side_by_side_gives_the_verdicts_of_one_at_a_time(
    main_run: HarnessRun, workspace: Path, pyz: Path, tools: Path, tmp_path: Path
) -> None:
    """The main run's notebooks (one at a time) again, two at a time on a CPU machine."""
    run = HarnessRun(
        [sys.executable, str(pyz)],
        make_spec(workspace, notebooks=MAIN_NOTEBOOKS, parallel=2),
        tmp_path / "parallel.json",
        {"PATH": path_with(tools, Path(sys.executable).parent), "HOME": str(tmp_path)},
    ).wait()
    assert run.returncode == 0, run.stderr
    assert run.payload["environment"]["parallel_notebooks"] == min(2, usable_cpus())

    def verdicts(payload: dict[str, Any]) -> dict[str, tuple[str, str]]:
        return {
            t["name"]: (t["status"], _timing_free(t["message"]))
            for t in payload["tests"]
            if t["name"].startswith("notebooks/")
        }

    assert verdicts(run.payload) == verdicts(main_run.payload)
    assert list(verdicts(run.payload)) == list(verdicts(main_run.payload))  # the spec's order
    assert run.payload["notebooks"].keys() == main_run.payload["notebooks"].keys()


def _timing_free(message: str) -> str:
    """A whole-notebook timeout strikes in a cell that depends on the machine's load."""
    return (
        message.split(": ", 1)[1].split(";", maxsplit=1)[0]
        if "NotebookTimeout" in message
        else message
    )
