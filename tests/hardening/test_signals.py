"""The orchestrator interrupted at each phase of a cell: SIGINT and SIGTERM (in-process: grt's
handlers run; a guard handler catches anything late) and SIGKILL (a `grt` process, then
`grt sweep`).

SIGINT/SIGTERM: exit 130/143, stop requests for every live notebook at once, results.json written
with the unfinished cells `cancelled` (a cell whose result was already read keeps it), no notebook
created twice or left running, one PR comment. SIGKILL: nothing of grt runs any more, so there is
no results.json; `grt sweep` then ends every notebook the run left, tagged or not yet tagged.

SIGKILL while notebooks start up is tests/e2e/test_gradient_run.py's
`test_sweep_cleans_up_after_sigkill`; SIGINT/SIGTERM with notebooks stuck starting is its
`test_signal_stops_every_notebook_and_writes_partial_results`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.paperspace import FakePaperspace
from tests.github.helpers import PR
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import (
    CHATTER,
    CREATE,
    STOP,
    TAG,
    ScriptedFaults,
    any_notebook,
    gradient_env,
    live_notebooks,
    replay,
    results,
    start_grt_process,
    wait_until,
    write_matrices,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

LONG_RUN = 0.2  # seconds between replayed log lines: with CHATTER a cell runs ~4 s


@dataclasses.dataclass(frozen=True)
class Phase:
    """How to reach a phase, when to signal, and what each cell ends as."""

    max_parallel: int
    faults: Callable[[ScriptedFaults], None]
    ready: Callable[[FakePaperspace], bool]
    statuses: dict[str, str]
    notebooks: tuple[int, ...]  # how many may have been created (each exactly once)


def _slow_run(f: ScriptedFaults) -> None:
    f.replay_log = replay(before=CHATTER)
    f.replay_line_delay_s = LONG_RUN


def _slow_create(f: ScriptedFaults) -> None:
    _slow_run(f)
    f.script(CREATE, "delay", delay_s=1.0, times=1)


def _slow_start(f: ScriptedFaults) -> None:
    f.start_delay_s = 5.0


def _slow_stop(f: ScriptedFaults) -> None:
    f.script(STOP, "delay", delay_s=1.0, times=1)


def _running(ps: FakePaperspace) -> bool:
    return any_notebook(ps, "Running")()


def _both(ps: FakePaperspace, state: str) -> bool:
    notebooks = list(ps.notebooks.values())
    return len(notebooks) == 2 and all(nb.state == state for nb in notebooks)


CANCELLED = {"C5": "cancelled", "C7": "cancelled"}
PHASES = {
    # C5 runs, C7 waits for a free slot (--max-parallel 1)
    "queued": Phase(1, _slow_run, _running, CANCELLED, (1,)),
    # the create request is on its way when the signal comes
    "creating": Phase(1, _slow_create, lambda ps: bool(ps.requests_to(CREATE)), CANCELLED, (1,)),
    "starting": Phase(2, _slow_start, lambda ps: _both(ps, "Provisioning"), CANCELLED, (2,)),
    "running": Phase(2, _slow_run, lambda ps: _both(ps, "Running"), CANCELLED, (2,)),
    # C5's result is in, its stop request is on its way: C5 keeps its result (C7 may have been
    # created in the slot C5's ended notebook freed, and is then cancelled)
    "stopping": Phase(
        1,
        _slow_stop,
        lambda ps: bool(ps.requests_to(STOP)),
        {"C5": "passed", "C7": "cancelled"},
        (1, 2),
    ),
}


@contextlib.contextmanager
def late_signal_guard() -> Iterator[list[int]]:
    """Handlers that only note SIGINT/SIGTERM, around the run: grt installs its own while it
    runs and puts these back after, so a signal that came too late fails the test instead of
    ending the test process."""
    late: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda n, _f: late.append(n)) for s in sigs}
    try:
        yield late
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def signal_when(ready: Callable[[], bool], sig: int, sent: list[float]) -> threading.Thread:
    def send() -> None:
        wait_until(ready, 30, "the phase to signal in")
        sent.append(time.monotonic())
        os.kill(os.getpid(), sig)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("phase", list(PHASES))
def test_sigint_and_sigterm_at_each_phase(
    phase: str, sig: int, ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    spec = PHASES[phase]
    faults = ScriptedFaults(replay_log=replay())
    spec.faults(faults)
    ps.faults = faults
    matrices = write_matrices(tmp_path)
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    argv += ["--out", str(tmp_path / "out"), "--max-parallel", str(spec.max_parallel)]
    sent: list[float] = []
    with late_signal_guard() as late:
        thread = signal_when(lambda: spec.ready(ps), sig, sent)
        result = canaries.grt(argv, gradient_env(ps, canaries.api_key))
        thread.join(5)
    assert late == [], "the signal came after the run"
    assert result.code == 128 + sig, result.text
    cells = results(tmp_path / "out")
    assert {m: c["status"] for m, c in cells.items()} == spec.statuses
    assert all(c["reason"] == "run cancelled" for c in cells.values() if c["status"] == "cancelled")
    assert len(ps.notebooks) in spec.notebooks
    assert len(ps.notebooks) == len(ps.requests_to(CREATE)), "a notebook was created twice"
    assert live_notebooks(ps) == [], "a notebook was left running"
    assert all(nb.deleted for nb in ps.notebooks.values())
    stops = [r for r in ps.requests_to(STOP) if r.at >= sent[0]]
    assert all(r.at - sent[0] < 3.0 for r in stops)


def test_sigterm_while_running_in_a_pull_request_leaves_one_comment_saying_cancelled(
    ps: FakePaperspace,
    gh: FakeGitHub,
    actions_env: dict[str, str],
    canaries: Canaries,
    tmp_path: Path,
) -> None:
    faults = ScriptedFaults()
    _slow_run(faults)
    ps.faults = faults
    matrices = write_matrices(tmp_path)
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    argv += ["--out", str(tmp_path / "out"), "--comment", "--check-run"]
    env = {**gradient_env(ps, canaries.api_key), **actions_env}
    sent: list[float] = []
    with late_signal_guard() as late:
        thread = signal_when(
            lambda: _running(ps) and bool(gh.comments_on(PR)), signal.SIGTERM, sent
        )
        result = canaries.grt(argv, env)
        thread.join(5)
    assert late == [] and result.code == 143, result.text
    (comment,) = gh.comments_on(PR)
    assert "cancelled" in comment.body
    assert {c["status"] for c in results(tmp_path / "out").values()} == {"cancelled"}
    assert live_notebooks(ps) == []


# --- SIGKILL, then `grt sweep` ------------------------------------------------------------------


def _hold_tags(f: ScriptedFaults) -> None:
    _slow_run(f)
    f.script(TAG, "delay", delay_s=1.5, times=1)
    f.script(TAG, "status", times=1)  # the held request is then refused: never tagged


def _hold_stop(f: ScriptedFaults) -> None:
    f.script(STOP, "delay", delay_s=1.5, times=1)


KILL_PHASES = {
    "queued": Phase(1, _slow_run, _running, {}, (1,)),
    "creating": Phase(1, _hold_tags, lambda ps: bool(ps.requests_to(TAG)), {}, (1,)),
    "running": Phase(2, _slow_run, lambda ps: _both(ps, "Running"), {}, (2,)),
    "stopping": Phase(1, _hold_stop, lambda ps: bool(ps.requests_to(STOP)), {}, (1, 2)),
}


@pytest.mark.parametrize("phase", list(KILL_PHASES))
def test_sigkill_at_each_phase_then_sweep(
    phase: str, ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    spec = KILL_PHASES[phase]
    faults = ScriptedFaults(replay_log=replay())
    spec.faults(faults)
    ps.faults = faults
    matrices = write_matrices(tmp_path)
    env = gradient_env(ps, canaries.api_key)
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    proc = start_grt_process(
        [*argv, "--out", str(tmp_path / "out"), "--max-parallel", str(spec.max_parallel)], env
    )
    try:
        wait_until(lambda: spec.ready(ps), 60, f"phase {phase}")
    finally:
        proc.kill()
        out, err = proc.communicate(timeout=30)
    canaries.texts += [("stdout of a killed grt", out), ("stderr of a killed grt", err)]
    assert len(ps.notebooks) in spec.notebooks
    if phase == "creating":
        assert not any("grt" in nb.tags for nb in ps.notebooks.values())  # killed before tagging
    swept = canaries.grt(["sweep", "--older-than", "0s"], env)
    assert swept.code == 0, swept.text
    assert all(nb.deleted for nb in ps.notebooks.values()), swept.text
    assert live_notebooks(ps) == []
    again = canaries.grt(["sweep", "--older-than", "0s"], env).out
    assert again.splitlines()[-1] == "Nothing to sweep."
