"""Load: 12 runtimes x 11 machines (132 cells) through one orchestrator and the real SDK, against
the fake Paperspace API (in its own process) with a 10-notebook running limit and 5% of all
requests failing at random; each notebook replays a healthy harness bundle for its own spec.

Why one orchestrator for all 132 cells rather than 12 `grt run`s: the orchestrator is the part that
must scale (one list request per poll whatever the number of live notebooks, one queue, one
running limit), and 12 CLI runs in threads would measure 12 independent loops of 11 cells each,
not that. The jobs are built as `grt run` builds them (same spec, command, name and tags).

Budget, with P polls, N cells, k = log interval / poll interval (3), L = running limit (10):
list requests <= P + list faults; log reads <= 3N + P*L/k; creates <= N + create faults +
running-limit refusals; the orchestrator's memory (tracemalloc peak in this process, where the
fake is not) stays under 64 MiB. docs/reliability.md has the figures of a run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness.protocol import Keep
from gradient_runtime_test.matrix.load import load_catalogue
from gradient_runtime_test.orchestrate import Job, Options, Orchestrator
from gradient_runtime_test.orchestrate.jobs import make_job
from gradient_runtime_test.plan import Cell
from gradient_runtime_test.providers.base import Handle, Launch, NotebookState, RunningLimitError
from gradient_runtime_test.providers.gradient import GradientProvider
from gradient_runtime_test.providers.retrying import RetryPolicy
from gradient_runtime_test.results import CellStatus
from gradient_runtime_test.settings import PaperspaceSettings
from tests.hardening.helpers import PROJECT, REPO

pytestmark = [pytest.mark.server, pytest.mark.slow]

RUNTIMES, MACHINES, RUNNING_LIMIT, FAULT_RATE = 12, 11, 10, 0.05
POLL_S, LOG_EVERY = 0.05, 3
LINE_DELAY_S = 0.1  # a replayed log line every 0.1 s: a cell runs about a second
MEMORY_LIMIT = 64 * 2**20
REPORT = os.environ.get("GRT_LOAD_REPORT")  # a path: write the figures there (docs/reliability.md)


class CountingProvider(GradientProvider):
    """The Gradient provider, counting what the orchestrator asks of it."""

    polls = log_reads = limit_refusals = 0

    def states(self, handles: Sequence[Handle]) -> dict[str, NotebookState]:
        self.polls += 1
        return super().states(handles)

    def logs(self, handle: Handle) -> list[str]:
        self.log_reads += 1
        return super().logs(handle)

    def create(self, launch: Launch) -> Handle:
        try:
            return super().create(launch)
        except RunningLimitError:
            self.limit_refusals += 1
            raise


@dataclasses.dataclass
class LoadFake:
    proc: subprocess.Popen[str]
    info: dict[str, str]
    stats_path: Path

    def finish(self) -> dict[str, Any]:
        """Stop the fake (close its stdin) and read what it saw."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        stats: dict[str, Any] = json.loads(self.stats_path.read_text())
        return stats


@pytest.fixture
def load_fake(tmp_path: Path) -> Iterator[LoadFake]:
    options = ["--seed", "7", "--rate", str(FAULT_RATE), "--running-limit", str(RUNNING_LIMIT)]
    options += ["--start-delay", "0.1", "--line-delay", str(LINE_DELAY_S)]
    options += ["--workdir", str(tmp_path / "fake"), "--stats", str(tmp_path / "stats.json")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.load_fake", *options],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    fake = LoadFake(proc, {}, tmp_path / "stats.json")
    try:
        fake.info = json.loads(proc.stdout.readline())
        yield fake
    finally:
        if proc.poll() is None:
            try:
                fake.finish()
            except (subprocess.TimeoutExpired, OSError, ValueError):
                proc.kill()


def jobs_for_every_cell(run_id: str, provider: GradientProvider) -> list[Job]:
    """Jobs exactly as `grt run` builds them, for 12 runtimes x 11 machines of the shipped matrices."""
    catalogue = load_catalogue(REPO / "matrices")
    runtimes = catalogue.runtimes[:RUNTIMES]
    machines = list(catalogue.machines.values())[:MACHINES]
    assert (len(runtimes), len(machines)) == (RUNTIMES, MACHINES)
    return [
        dataclasses.replace(
            make_job(
                Cell(runtime, machine),
                provider=provider,
                run_id=run_id,
                keep=Keep.NEVER,
                workspace=None,  # replayed: nothing to clone
                ref=None,
                project_id=PROJECT,
                key=f"{runtime.slug}/{machine.name}",  # unique across runtimes
            ),
            run_timeout_s=120.0,
        )
        for runtime in runtimes
        for machine in machines
    ]


def count(stats: dict[str, Any], *fragments: str, table: str = "requests") -> int:
    return sum(n for key, n in stats[table].items() if all(f in key for f in fragments))


def test_132_cells_with_a_running_limit_and_random_faults(
    load_fake: LoadFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = load_fake.info
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", info["ca_bundle"])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    settings = PaperspaceSettings("load-test-key", info["url"], info["log_url"], PROJECT)
    provider = CountingProvider(settings, retry=RetryPolicy(backoff_s=0.01))
    jobs = jobs_for_every_cell(uuid.uuid4().hex[:10], provider)
    command_bytes = sum(len(j.launch.command) for j in jobs)
    options = Options(
        max_parallel=16,  # above the running limit: the limit is hit, and waited for
        poll_interval_s=POLL_S,
        log_interval_s=LOG_EVERY * POLL_S,
        unavailable_delay_s=0.2,
        running_limit_delay_s=6 * POLL_S,
        startup_timeout_s=60,
        log_retry_s=3.0,
    )
    orchestrator = Orchestrator(provider, options)
    tracemalloc.start()
    started = time.monotonic()
    outcomes = orchestrator.run(jobs)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats_fake = load_fake.finish()
    n, polls = len(jobs), provider.polls

    statuses = {o.result.machine: o.result.status for o in outcomes}
    assert len(statuses) == n == RUNTIMES * MACHINES
    assert all(s.finished for s in statuses.values())
    odd = {m: (o.result.status, o.result.reason) for o in outcomes for m in [o.result.machine]}
    assert all(s == CellStatus.PASSED for s in statuses.values()), {
        m: v for m, v in odd.items() if v[0] != CellStatus.PASSED
    }
    notebooks = stats_fake["notebooks"]
    assert stats_fake["internal_errors"] == []
    assert len(notebooks) == n == len({nb["name"] for nb in notebooks}), "a duplicate notebook"
    assert not [nb for nb in notebooks if nb["active"]], "a notebook left running"
    assert orchestrator.leftovers == [] or all(nb["state"] == "Stopped" for nb in notebooks)

    injected = sum(stats_fake["injected"].values())
    lists = count(stats_fake, "getNotebooks (tagged)")
    logs = count(stats_fake, "/jobs/logs")
    creates = count(stats_fake, "createNotebook")
    assert injected > 0
    assert lists <= polls + count(stats_fake, "getNotebooks", table="injected")
    assert provider.log_reads <= 3 * n + polls * RUNNING_LIMIT / LOG_EVERY
    assert logs <= provider.log_reads + count(stats_fake, "/jobs/logs", table="injected")
    assert creates <= n + count(stats_fake, "createNotebook", table="injected") + (
        provider.limit_refusals
    )
    assert peak < MEMORY_LIMIT
    figures = {
        "cells": n,
        "seconds": round(elapsed, 1),
        "polls": polls,
        "requests": sum(stats_fake["requests"].values()),
        "requests_per_cell": round(sum(stats_fake["requests"].values()) / n, 1),
        "faults_injected": injected,
        "faults_by_kind": {
            kind: count(stats_fake, kind + " ", table="injected")
            for kind in ("status", "drop", "lost")
        },
        "tagged_list_requests": lists,
        "log_reads": provider.log_reads,
        "log_read_bound": round(3 * n + polls * RUNNING_LIMIT / LOG_EVERY),
        "log_requests": logs,
        "create_requests": creates,
        "running_limit_refusals": provider.limit_refusals,
        "tracemalloc_peak_mib": round(peak / 2**20, 1),
        "job_commands_mib": round(command_bytes / 2**20, 1),
        "leftovers": len(orchestrator.leftovers),
    }
    print(json.dumps(figures))
    if REPORT:
        Path(REPORT).write_text(json.dumps(figures, indent=1) + "\n")
