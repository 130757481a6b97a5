"""The orchestrator facing the platform as it really behaves: notebooks preempted, cancelled or in
states nobody knows, an API that stops answering, creates refused in unknown words, log lines that
arrive late or twice. An in-memory provider and a manual clock (no I/O); the real provider is
driven through the fake Paperspace API in tests/e2e/test_gradient_platform.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from gradient_runtime_test.orchestrate import Options, Orchestrator
from gradient_runtime_test.providers.base import (
    Handle,
    Launch,
    NotebookState,
    RefusedError,
    TransientError,
)
from gradient_runtime_test.results import CellStatus
from tests.test_orchestrate import FAIL, PASS, Clock, bundle, job

RUNNING, STARTING = NotebookState.RUNNING, NotebookState.STARTING
PREEMPTED, FAILED, UNKNOWN = NotebookState.PREEMPTED, NotebookState.FAILED, NotebookState.UNKNOWN


@dataclasses.dataclass
class Life:
    """One notebook: per poll, its state and the log lines it adds; `late` lines (by index) reach
    the logs only after the read that passed them (they are found by reading from the start)."""

    timeline: list[tuple[NotebookState, list[str]]]
    detail: str = ""
    late: frozenset[int] = frozenset()


class PlatformProvider:
    name = "fake"
    default_max_parallel = 1
    end_delay_s = 0.0

    def __init__(self, clock: Clock, lives: dict[str, list[Life | Exception]]) -> None:
        self.clock = clock
        self.lives = lives
        self.calls: list[tuple[str, str]] = []
        self.life: dict[str, Life] = {}
        self.step: dict[str, int] = {}
        self.arrived: dict[str, set[int]] = {}
        self.failing_states = False
        self.poll_s = 1.0  # each poll moves the clock on this much
        self.create_s = 0.0

    def jupyter_command(self, runtime_command: str) -> str:
        return runtime_command

    def workspace_dir(self) -> str:
        return "."

    def create(self, launch: Launch) -> Handle:
        self.calls.append(("create", launch.machine))
        self.clock.now += self.create_s
        item = self.lives[launch.machine].pop(0)
        if isinstance(item, Exception):
            raise item
        notebook_id = f"nb-{launch.machine}-{len(self.calls)}"
        self.life[notebook_id], self.step[notebook_id] = item, -1
        self.arrived[notebook_id] = set()
        return Handle(notebook_id=notebook_id, name=launch.name)

    def states(self, handles: Sequence[Handle]) -> dict[str, NotebookState]:
        self.calls.append(("states", str(len(handles))))
        self.clock.now += self.poll_s
        if self.failing_states:
            raise TransientError("list notebooks: ReadTimeout: read timed out")
        out = {}
        for h in handles:
            life = self.life[h.notebook_id]
            self.step[h.notebook_id] = min(self.step[h.notebook_id] + 1, len(life.timeline) - 1)
            state = life.timeline[self.step[h.notebook_id]][0]
            h.detail = life.detail if state in (PREEMPTED, FAILED, UNKNOWN) else ""
            out[h.notebook_id] = state
        return out

    def logs(self, handle: Handle) -> list[str]:
        self.calls.append(("logs", f"{handle.notebook_id}@{handle.log_offset}"))
        life = self.life[handle.notebook_id]
        upto = self.step[handle.notebook_id]
        lines = [line for _, chunk in life.timeline[: upto + 1] for line in chunk]
        arrived = self.arrived[handle.notebook_id]
        page = [
            line
            for i, line in enumerate(lines)
            if i >= handle.log_offset and (i not in life.late or i in arrived)
        ]
        arrived.update(i for i in life.late if i < len(lines))  # late: there from now on
        handle.log_offset = len(lines)
        step = self.step[handle.notebook_id]
        ended = life.timeline[step][0] not in (STARTING, RUNNING, UNKNOWN)
        handle.log_ended = ended and step == len(life.timeline) - 1
        return page

    def stop(self, handle: Handle) -> None:
        self.calls.append(("stop", handle.notebook_id))

    def delete(self, handle: Handle) -> None:
        self.calls.append(("delete", handle.notebook_id))

    def metrics(self, handle: Handle) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


def make(
    lives: dict[str, list[Life | Exception]], **options: Any
) -> tuple[Orchestrator, PlatformProvider, list[tuple[float, str, CellStatus, str]]]:
    clock = Clock()
    provider = PlatformProvider(clock, lives)
    defaults: dict[str, Any] = {
        "poll_interval_s": 0.0,
        "log_interval_s": 0.0,
        "unavailable_delay_s": 0.0,
        "running_limit_delay_s": 0.0,
    }
    seen: list[tuple[float, str, CellStatus, str]] = []
    orchestrator = Orchestrator(
        provider,
        Options(**{**defaults, **options}),
        clock=clock,
        progress=lambda m, s, d: seen.append((clock.now, m, s, d)),
    )
    return orchestrator, provider, seen


def passing(bundle_id: str, *, late: frozenset[int] = frozenset()) -> Life:
    return Life(
        [(STARTING, []), (RUNNING, ["hello"]), (RUNNING, bundle(bundle_id, PASS))], late=late
    )


def polls(provider: PlatformProvider) -> int:
    return sum(call[0] == "states" for call in provider.calls)


# --- states -------------------------------------------------------------------------------------


def test_a_preempted_cell_runs_again_and_passes() -> None:
    preempted = Life(
        [(STARTING, []), (RUNNING, ["hello"]), (PREEMPTED, [])], "Preempted: reclaimed"
    )
    orchestrator, provider, seen = make({"A": [preempted, passing("ba")]})

    (a,) = orchestrator.run([job("A")])

    assert a.result.status == CellStatus.PASSED
    stopped = [c[1] for c in provider.calls if c[0] == "stop"]
    assert len(stopped) == 2 and ("delete", "nb-A-1") in provider.calls  # the first one ended
    retried = next(s for s in seen if s[2] == CellStatus.QUEUED and "preempted" in s[3])
    assert "Preempted: reclaimed" in retried[3]
    assert retried[0] == 3.0  # settled on the poll that showed it (one poll a second here)


def test_preempted_again_and_again_is_unavailable_with_the_platforms_words() -> None:
    lives: list[Life | Exception] = [
        Life([(RUNNING, []), (PREEMPTED, [])], "Preempted: spot capacity reclaimed")
        for _ in range(3)
    ]
    orchestrator, provider, _ = make({"A": lives, "B": [passing("bb")]}, max_parallel=2)

    a, b = orchestrator.run([job("A"), job("B")])

    assert a.result.status == CellStatus.UNAVAILABLE
    assert "spot capacity reclaimed" in a.result.reason
    assert b.result.status == CellStatus.PASSED  # the run goes on
    assert sum(c == ("create", "A") for c in provider.calls) == 3  # 2 retries, like capacity
    assert sum(c[0] == "delete" and "nb-A" in c[1] for c in provider.calls) == 3


def test_cancelled_or_failed_ends_the_cell_at_once_with_the_platforms_words() -> None:
    cancelled = Life([(RUNNING, ["hello"]), (FAILED, ["bye"])], "Cancelled")
    orchestrator, provider, _ = make({"A": [cancelled]})

    (a,) = orchestrator.run([job("A")])

    assert a.result.status == CellStatus.ERROR
    assert a.result.reason == "notebook ended in Cancelled, before the harness reported a result"
    assert polls(provider) == 2 and a.result.log_tail == ("hello", "bye")


def test_a_complete_bundle_is_the_result_whatever_the_state_shows() -> None:
    for state in (PREEMPTED, FAILED, UNKNOWN):
        life = Life([(RUNNING, ["hello"]), (state, bundle("ba", FAIL))], f"{state.value}: gone")
        orchestrator, _, _ = make({"A": [life]})
        (a,) = orchestrator.run([job("A")])
        assert a.result.status == CellStatus.FAILED, state  # the harness's verdict


def test_an_unknown_state_is_followed_then_treated_as_ended() -> None:
    life = Life([(STARTING, []), *[(UNKNOWN, [])] * 100], "Hibernating")
    orchestrator, provider, _ = make({"A": [life]}, unknown_state_s=10.0)

    (a,) = orchestrator.run([job("A")])

    assert a.result.status == CellStatus.ERROR
    assert "a state not known here (Hibernating)" in a.result.reason
    assert 11 <= polls(provider) <= 13  # ten seconds of it, not the start-up timeout
    assert ("stop", "nb-A-1") in provider.calls


# --- an API that stops answering ------------------------------------------------------------------


def test_a_dead_api_ends_live_and_queued_cells_as_errors() -> None:
    lives: dict[str, list[Life | Exception]] = {
        m: [Life([(RUNNING, [])] * 1000)] for m in ("A", "B", "C")
    }
    orchestrator, provider, _ = make(lives, max_parallel=1, api_outage_s=30.0)
    provider.failing_states = True

    outcomes = orchestrator.run([job(m) for m in ("A", "B", "C")])

    assert [o.result.status for o in outcomes] == [CellStatus.ERROR] * 3
    assert all("the fake API failed for 30 s" in o.result.reason for o in outcomes)
    assert "ReadTimeout" in outcomes[0].result.reason
    assert [c for c in provider.calls if c[0] == "create"] == [("create", "A")]
    assert polls(provider) == 30
    assert ("stop", "nb-A-1") in provider.calls


def test_failing_creates_count_towards_an_outage() -> None:
    timeout = TransientError("create notebook: ReadTimeout")
    lives: dict[str, list[Life | Exception]] = {m: [timeout] for m in "ABCDE"}
    orchestrator, provider, _ = make(lives, api_outage_s=25.0)
    provider.create_s = 10.0

    outcomes = orchestrator.run([job(m) for m in "ABCDE"])

    assert [o.result.reason.split(":")[0] for o in outcomes] == [
        "create failed",
        "create failed",
        "create failed",
        "the fake API failed for 30 s without a break, so the run gave up (last error",
        "the fake API failed for 30 s without a break, so the run gave up (last error",
    ]
    assert sum(c[0] == "create" for c in provider.calls) == 3


def test_an_answer_between_failures_restarts_the_count() -> None:
    orchestrator, provider, _ = make({"A": [passing("ba")]}, api_outage_s=1.5)
    answered = provider.states

    def flaky(handles: Sequence[Handle]) -> dict[str, NotebookState]:
        provider.failing_states = polls(provider) % 2 == 0  # every other poll fails
        return answered(handles)

    provider.states = flaky  # type: ignore[method-assign]
    (a,) = orchestrator.run([job("A")])
    assert a.result.status == CellStatus.PASSED


# --- creates refused in unknown words -----------------------------------------------------------

WORDS = "Your team cannot start more GPU notebooks on its current plan"


def test_an_unknown_refusal_while_ours_run_waits_once_for_a_slot() -> None:
    long = Life([(RUNNING, [])] * 5 + [(RUNNING, bundle("ba", PASS))])
    lives: dict[str, list[Life | Exception]] = {
        "A": [long],
        "B": [RefusedError(f"create notebook: {WORDS}"), passing("bb")],
    }
    orchestrator, provider, seen = make(lives, max_parallel=2)

    a, b = orchestrator.run([job("A"), job("B")])

    assert (a.result.status, b.result.status) == (CellStatus.PASSED, CellStatus.PASSED)
    assert a.result.reason == ""
    assert b.result.reason == (  # kept verbatim in results.json
        f"created after waiting for a slot; first refused: create notebook: {WORDS}"
    )
    creates = [i for i, c in enumerate(provider.calls) if c == ("create", "B")]
    a_stopped = provider.calls.index(("stop", "nb-A-1"))
    assert len(creates) == 2 and creates[0] < a_stopped < creates[1]  # once A's was stopped
    assert any(s[2] == CellStatus.QUEUED and WORDS in s[3] for s in seen)


def test_an_unknown_refusal_again_after_waiting_is_an_error_kept_verbatim() -> None:
    lives: dict[str, list[Life | Exception]] = {
        "A": [passing("ba")],
        "B": [RefusedError(f"create notebook: {WORDS}")] * 2,
    }
    orchestrator, _, _ = make(lives, max_parallel=2)

    _, b = orchestrator.run([job("A"), job("B")])

    assert b.result.status == CellStatus.ERROR
    assert b.result.reason == (
        f"create refused (again, after waiting for a slot): create notebook: {WORDS}"
    )


def test_an_unknown_refusal_with_nothing_of_ours_running_is_an_error_at_once() -> None:
    orchestrator, provider, _ = make({"A": [RefusedError(f"create notebook: {WORDS}")]})
    (a,) = orchestrator.run([job("A")])
    assert a.result.reason == f"create refused: create notebook: {WORDS}"
    assert provider.calls == [("create", "A")]


# --- logs read defensively ---------------------------------------------------------------------


def test_a_late_chunk_is_found_by_reading_the_log_again_from_the_start() -> None:
    lines = bundle("ba", PASS)
    assert len(lines) >= 3
    life = Life([(RUNNING, ["hello", *lines]), (NotebookState.STOPPED, [])], late=frozenset({2}))
    orchestrator, provider, _ = make({"A": [life]})

    (a,) = orchestrator.run([job("A")])

    assert a.result.status == CellStatus.PASSED
    reads = [c[1] for c in provider.calls if c[0] == "logs"]
    assert reads[0] == "nb-A-1@0" and reads.count("nb-A-1@0") == 2  # read again once, whole
    assert polls(provider) == 3  # it ended on the second poll, was read again on the third


def test_a_bundle_with_a_chunk_lost_for_good_is_read_again_once_then_an_error() -> None:
    lines = bundle("ba", PASS)
    life = Life(
        [(RUNNING, ["hello"]), (RUNNING, lines[:1] + lines[2:]), (NotebookState.STOPPED, [])]
    )
    orchestrator, provider, _ = make({"A": [life]})

    (a,) = orchestrator.run([job("A")])

    assert a.result.status == CellStatus.ERROR and "truncated" in a.result.reason
    rereads = [c for c in provider.calls if c[0] == "logs" and c[1] == "nb-A-1@0"]
    assert len(rereads) == 2  # the first read, and the one read again


def test_repeated_and_reordered_bundle_lines_are_fine() -> None:
    lines = bundle("ba", PASS)
    shuffled = [*lines[::-1], *lines]
    orchestrator, _, _ = make({"A": [Life([(RUNNING, shuffled)])]})
    (a,) = orchestrator.run([job("A")])
    assert a.result.status == CellStatus.PASSED


def test_an_ended_notebook_whose_log_has_not_ended_is_read_a_while_longer() -> None:
    lines = bundle("ba", PASS)
    stopped = NotebookState.STOPPED
    life = Life([(RUNNING, ["hello"]), (stopped, lines[:2]), (stopped, []), (stopped, lines[2:])])
    orchestrator, provider, _ = make({"A": [life]})

    (a,) = orchestrator.run([job("A")])

    assert a.result.status == CellStatus.PASSED
    assert polls(provider) == 4
