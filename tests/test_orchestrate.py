"""The orchestrator's decisions, with an in-memory provider and a manual clock (no I/O).

The real providers are tested end to end elsewhere (local: real processes and kernels; gradient:
the real SDK against the fake Paperspace API). Here each scenario is scripted step by step.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from gradient_runtime_test.errors import ProviderError
from gradient_runtime_test.harness.bundle import encode_lines
from gradient_runtime_test.harness.protocol import (
    Accelerator,
    Checks,
    ExpectedTests,
    Keep,
    Machine,
    NotebookEntry,
    Spec,
    expected_tests,
)
from gradient_runtime_test.orchestrate import Job, Options, Orchestrator, Outcome
from gradient_runtime_test.providers.base import (
    CapacityError,
    Handle,
    Launch,
    NotebookState,
    RunningLimitError,
)
from gradient_runtime_test.results import CellStatus, TestStatus


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Script:
    """How one machine's notebook behaves: create errors, then per poll a state and log lines."""

    create_errors: list[Exception] = dataclasses.field(default_factory=list)
    timeline: list[tuple[NotebookState, list[str]]] = dataclasses.field(default_factory=list)


class FakeProvider:
    name = "fake"
    default_max_parallel = 1
    end_delay_s = 0.0

    def __init__(self, clock: Clock, scripts: dict[str, Script]) -> None:
        self.clock = clock
        self.scripts = scripts
        self.calls: list[tuple[str, str]] = []
        self.live: dict[str, str] = {}  # notebook id -> machine
        self.step: dict[str, int] = {}
        self.stopped: set[str] = set()
        self.deleted: set[str] = set()
        self.max_live = 0
        self.on_poll: Any = None

    def jupyter_command(self, runtime_command: str) -> str:
        return runtime_command

    def workspace_dir(self) -> str:
        return "."

    def create(self, launch: Launch) -> Handle:
        self.calls.append(("create", launch.machine))
        script = self.scripts[launch.machine]
        if script.create_errors:
            raise script.create_errors.pop(0)
        notebook_id = f"nb-{launch.machine}-{len(self.calls)}"
        self.live[notebook_id] = launch.machine
        self.step[notebook_id] = -1
        running = [n for n in self.live if n not in self.stopped]
        self.max_live = max(self.max_live, len(running))
        return Handle(notebook_id=notebook_id, name=launch.name)

    def states(self, handles: Sequence[Handle]) -> dict[str, NotebookState]:
        self.calls.append(("states", str(len(handles))))
        if self.on_poll:
            self.on_poll()
        out = {}
        for h in handles:
            timeline = self.scripts[self.live[h.notebook_id]].timeline
            self.step[h.notebook_id] = min(self.step[h.notebook_id] + 1, len(timeline) - 1)
            out[h.notebook_id] = (
                NotebookState.STOPPED
                if h.notebook_id in self.stopped
                else timeline[self.step[h.notebook_id]][0]
            )
        return out

    def logs(self, handle: Handle) -> list[str]:
        timeline = self.scripts[self.live[handle.notebook_id]].timeline
        upto = self.step[handle.notebook_id]
        lines = [line for _, chunk in timeline[: upto + 1] for line in chunk]
        new = lines[handle.log_offset :]
        handle.log_offset = len(lines)
        return new

    def stop(self, handle: Handle) -> None:
        self.calls.append(("stop", handle.notebook_id))
        self.stopped.add(handle.notebook_id)

    def delete(self, handle: Handle) -> None:
        self.calls.append(("delete", handle.notebook_id))
        self.deleted.add(handle.notebook_id)

    def metrics(self, handle: Handle) -> dict[str, Any]:
        return {"gpu_util_peak_pct": 50.0}

    def close(self) -> None:
        pass


def bundle(bundle_id: str, tests: list[dict[str, Any]]) -> list[str]:
    payload = {
        "schema": 1,
        "bundle_id": bundle_id,
        "tests": tests,
        "environment": {"gpus": ["X"]},
        "notebooks": {"a.ipynb": {"cells": []}},
    }
    return encode_lines(payload, bundle_id)


# What the scripted payloads below answer (PASS and FAIL carry exactly these tests).
ANSWERS = ExpectedTests(required=("checks/gpu.count", "notebooks/a.ipynb"))


def job(
    machine: str,
    *,
    run_timeout: float = 100.0,
    expected: tuple[tuple[str, str], ...] = (),
    answers: ExpectedTests = ANSWERS,
) -> Job:
    launch = Launch(
        cell_id=machine,
        name=f"grt: R on {machine}",
        machine=machine,
        container="c",
        command="cmd",
        environment={},
        workspace=None,
        workspace_ref=None,
        shutdown_timeout_h=6,
        tags=("grt",),
    )
    return Job(
        machine=machine,
        launch=launch,
        bundle_id=f"b{machine.lower()}",
        run_timeout_s=run_timeout,
        expected_tests=answers,
        expected_failures=expected,
    )


def make(scripts: dict[str, Script], **options: Any) -> tuple[Orchestrator, FakeProvider, Clock]:
    clock = Clock()
    provider = FakeProvider(clock, scripts)
    opts = Options(
        poll_interval_s=0.0,
        log_interval_s=0.0,
        unavailable_delay_s=0.0,
        running_limit_delay_s=0.0,
        **options,
    )
    orchestrator = Orchestrator(provider, opts, clock=clock)
    return orchestrator, provider, clock


PASS = [
    {"name": "checks/gpu.count", "status": "passed"},
    {"name": "notebooks/a.ipynb", "status": "passed"},
]
FAIL = [
    {"name": "checks/gpu.count", "status": "passed"},
    {"name": "notebooks/a.ipynb", "status": "failed", "message": "cell 2: ValueError: x"},
]


def test_passed_and_failed_cells_are_collected_stopped_and_deleted() -> None:
    scripts = {
        "A": Script(
            timeline=[
                (NotebookState.STARTING, []),
                (NotebookState.RUNNING, ["hello"]),
                (NotebookState.RUNNING, bundle("ba", PASS)),
            ]
        ),
        "B": Script(timeline=[(NotebookState.RUNNING, bundle("bb", FAIL))]),
    }
    orchestrator, provider, _ = make(scripts, max_parallel=2)
    a, b = orchestrator.run([job("A"), job("B")])
    assert a.result.status == CellStatus.PASSED and a.result.environment == {"gpus": ["X"]}
    assert b.result.status == CellStatus.FAILED
    assert b.result.failures[0].message == "cell 2: ValueError: x"
    assert a.notebooks == {"a.ipynb": {"cells": []}}
    assert provider.stopped == set(provider.live) == provider.deleted
    assert a.result.metrics["platform"] == {"gpu_util_peak_pct": 50.0}


def test_one_status_request_per_poll_whatever_the_number_of_live_notebooks() -> None:
    long = [(NotebookState.RUNNING, [])] * 5 + [(NotebookState.RUNNING, ["x"])]
    scripts = {
        m: Script(timeline=[*long, (NotebookState.RUNNING, bundle(f"b{m.lower()}", PASS))])
        for m in "ABCDE"
    }
    orchestrator, provider, _ = make(scripts, max_parallel=5)
    orchestrator.run([job(m) for m in "ABCDE"])
    polls = [c for c in provider.calls if c[0] == "states"]
    assert polls[0] == ("states", "5")
    assert len(polls) == 7  # one per poll, not one per notebook


def test_max_parallel_queues_the_rest() -> None:
    scripts = {
        m: Script(timeline=[(NotebookState.RUNNING, bundle(f"b{m.lower()}", PASS))]) for m in "ABCD"
    }
    orchestrator, provider, _ = make(scripts, max_parallel=2)
    outcomes = orchestrator.run([job(m) for m in "ABCD"])
    assert [o.result.status for o in outcomes] == [CellStatus.PASSED] * 4
    assert provider.max_live == 2


def test_capacity_is_retried_then_reported_unavailable_never_red() -> None:
    full = "We are currently out of capacity for the selected VM type."
    scripts = {
        "A": Script(create_errors=[CapacityError(full), CapacityError(full), CapacityError(full)]),
        "B": Script(
            create_errors=[CapacityError(full)],
            timeline=[(NotebookState.RUNNING, bundle("bb", PASS))],
        ),
    }
    orchestrator, provider, _ = make(scripts, max_parallel=2, unavailable_retries=2)
    a, b = orchestrator.run([job("A"), job("B")])
    assert a.result.status == CellStatus.UNAVAILABLE and "out of capacity" in a.result.reason
    assert b.result.status == CellStatus.PASSED
    assert [c for c in provider.calls if c == ("create", "A")] == [("create", "A")] * 3


def test_running_limit_waits_and_retries_instead_of_failing() -> None:
    scripts = {
        "A": Script(
            create_errors=[RunningLimitError("running notebook limit")] * 3,
            timeline=[(NotebookState.RUNNING, bundle("ba", PASS))],
        )
    }
    orchestrator, _, _ = make(scripts)
    (a,) = orchestrator.run([job("A")])
    assert a.result.status == CellStatus.PASSED


def test_other_create_errors_are_error_cells() -> None:
    scripts = {"A": Script(create_errors=[ProviderError("Cluster null not found")])}
    orchestrator, _, _ = make(scripts)
    (a,) = orchestrator.run([job("A")])
    assert (
        a.result.status == CellStatus.ERROR
        and a.result.reason == "create failed: Cluster null not found"
    )


def test_notebook_ending_without_bundle_is_error_with_log_tail() -> None:
    scripts = {
        "A": Script(
            timeline=[
                (NotebookState.RUNNING, ["starting", "Traceback", "boom"]),
                (NotebookState.FAILED, []),
            ]
        )
    }
    orchestrator, provider, _ = make(scripts)
    (a,) = orchestrator.run([job("A")])
    assert a.result.status == CellStatus.ERROR
    assert a.result.reason == "notebook ended in Error before the harness reported a result"
    assert a.result.log_tail == ("starting", "Traceback", "boom")
    assert provider.deleted


def test_corrupt_bundle_is_error_never_pass() -> None:
    lines = bundle("ba", PASS)
    lines[1] = lines[1][:-8] + "AAAAAAAA"
    scripts = {"A": Script(timeline=[(NotebookState.RUNNING, lines)])}
    orchestrator, _, _ = make(scripts)
    (a,) = orchestrator.run([job("A")])
    assert a.result.status == CellStatus.ERROR and a.result.reason.startswith(
        "result bundle unusable"
    )


def test_truncated_bundle_then_stop_is_error() -> None:
    lines = bundle("ba", PASS)
    scripts = {
        "A": Script(timeline=[(NotebookState.RUNNING, lines[:1]), (NotebookState.STOPPED, [])])
    }
    orchestrator, _, _ = make(scripts)
    (a,) = orchestrator.run([job("A")])
    assert a.result.status == CellStatus.ERROR


def test_startup_and_run_timeouts() -> None:
    scripts = {
        "A": Script(timeline=[(NotebookState.STARTING, [])]),
        "B": Script(timeline=[(NotebookState.RUNNING, [])]),
    }
    orchestrator, provider, clock = make(scripts, max_parallel=2, startup_timeout_s=50)

    def tick() -> None:
        clock.now += 10

    provider.on_poll = tick
    a, b = orchestrator.run([job("A"), job("B", run_timeout=30)])
    assert (
        a.result.status == CellStatus.ERROR
        and a.result.reason == "notebook did not start within 50 s"
    )
    assert (
        b.result.status == CellStatus.ERROR
        and b.result.reason == "no result within 30 s of start-up"
    )
    assert provider.stopped == set(provider.live)


def test_expected_failures_become_xfail_and_the_cell_passes() -> None:
    scripts = {"A": Script(timeline=[(NotebookState.RUNNING, bundle("ba", FAIL))])}
    orchestrator, _, _ = make(scripts)
    (a,) = orchestrator.run([job("A", expected=(("A", "notebooks/a.ipynb"),))])
    assert a.result.status == CellStatus.PASSED
    assert [t.status for t in a.result.tests] == [TestStatus.PASSED, TestStatus.XFAIL]


@pytest.mark.parametrize(
    ("keep", "deleted"), [(Keep.NEVER, {"A", "B"}), (Keep.FAILED, {"A"}), (Keep.ALWAYS, set())]
)
def test_keep_policy(keep: Keep, deleted: set[str]) -> None:
    scripts = {
        "A": Script(timeline=[(NotebookState.RUNNING, bundle("ba", PASS))]),
        "B": Script(timeline=[(NotebookState.RUNNING, bundle("bb", FAIL))]),
    }
    orchestrator, provider, _ = make(scripts, max_parallel=2, keep=keep)
    orchestrator.run([job("A"), job("B")])
    assert {provider.live[n] for n in provider.deleted} == deleted
    assert {provider.live[n] for n in provider.stopped} == deleted


def test_cancel_stops_every_live_notebook_and_cancels_the_queue() -> None:
    scripts = {m: Script(timeline=[(NotebookState.RUNNING, [])]) for m in "ABC"}
    clock = Clock()
    provider = FakeProvider(clock, scripts)
    cancel = threading.Event()
    polls = 0

    def on_poll() -> None:
        nonlocal polls
        polls += 1
        if polls == 3:
            cancel.set()

    provider.on_poll = on_poll
    orchestrator = Orchestrator(
        provider, Options(max_parallel=2, poll_interval_s=0.0), clock=clock, cancel=cancel
    )
    outcomes = orchestrator.run([job(m) for m in "ABC"])
    assert [o.result.status for o in outcomes] == [CellStatus.CANCELLED] * 3
    assert provider.stopped == set(provider.live) == provider.deleted
    assert len(provider.live) == 2  # C never started
    assert outcomes[2].result.notebook_id == ""


# --- the result must answer the request ----------------------------------------------------------

# A spec's request, as make_job computes it: a GPU machine, two commands, an import, two notebooks
# (one run twice).
SPEC = Spec(
    bundle_id="ba",
    machine=Machine(name="A", accelerator=Accelerator.GPU, count=1, model="A4000"),
    checks=Checks(commands=("git", "curl"), imports=("numpy",)),
    notebooks=(NotebookEntry(path="a.ipynb"), NotebookEntry(path="b.ipynb", rerun=True)),
)
COMPLETE = [
    "checks/command.git",
    "checks/command.curl",
    "checks/python.python3",
    "checks/python.python",
    "checks/gpu.visible",
    "checks/gpu.count",
    "checks/gpu.model",
    "checks/gpu.memory",
    "checks/python.kernel",
    "checks/import.numpy",
    "checks/cuda.torch",
    "checks/disk.free",
    "notebooks/a.ipynb",
    "notebooks/b.ipynb",
    "notebooks/b.ipynb[rerun]",
]


def _answer(tests: list[dict[str, Any]]) -> Outcome:
    scripts = {"A": Script(timeline=[(NotebookState.RUNNING, bundle("ba", tests))])}
    orchestrator, provider, _ = make(scripts)
    (a,) = orchestrator.run([job("A", answers=expected_tests(SPEC))])
    assert provider.stopped == set(provider.live)
    return a


def _passed(*names: str, status: str = "passed") -> list[dict[str, Any]]:
    return [{"name": name, "status": status} for name in names]


def test_a_result_answering_every_check_and_notebook_of_the_spec_passes() -> None:
    a = _answer(_passed(*COMPLETE))
    assert (a.result.status, a.result.reason) == (CellStatus.PASSED, "")


@pytest.mark.parametrize(
    ("tests", "reason"),
    [
        ([], "incomplete result: missing checks/command.git, checks/command.curl, "),
        (
            _passed(*[n for n in COMPLETE if n != "notebooks/b.ipynb"]),
            "incomplete result: missing notebooks/b.ipynb",
        ),
        (
            _passed(*[n for n in COMPLETE if not n.startswith("checks/cuda.")]),
            "incomplete result: missing checks/cuda.*",
        ),
        (
            _passed(*COMPLETE, "notebooks/c.ipynb"),
            "incomplete result: unexpected notebooks/c.ipynb",
        ),
        (_passed(*COMPLETE, "notebooks/a.ipynb"), "incomplete result: repeated notebooks/a.ipynb"),
        (
            [*_passed(*COMPLETE[:-1]), {"name": COMPLETE[-1], "status": "xfail"}],
            "incomplete result: without a valid status notebooks/b.ipynb[rerun]; missing "
            "notebooks/b.ipynb[rerun]",
        ),
        (
            [*_passed(*COMPLETE), "checks/x", {"status": "passed"}],
            "incomplete result: without a valid status tests[15], tests[16]",
        ),
    ],
    ids=["empty", "a notebook missing", "no CUDA check", "extra", "repeated", "xfail", "shapeless"],
)
def test_a_result_that_does_not_answer_the_spec_is_an_error(tests: list[Any], reason: str) -> None:
    a = _answer(tests)
    assert a.result.status == CellStatus.ERROR
    assert a.result.reason.startswith(reason), a.result.reason


def test_a_failing_but_incomplete_result_is_an_error_not_a_failure() -> None:
    tests = _passed(*[n for n in COMPLETE if n != "notebooks/b.ipynb[rerun]"])
    tests[-1]["status"] = "failed"
    a = _answer(tests)
    assert a.result.status == CellStatus.ERROR
    assert a.result.reason == "incomplete result: missing notebooks/b.ipynb[rerun]"


def test_a_broken_harness_step_stands_in_for_the_results_it_could_not_record() -> None:
    kernel = {"checks/python.kernel", "checks/import.numpy", "checks/cuda.torch"}
    tests = [
        *_passed(*[n for n in COMPLETE if n not in kernel and n != "notebooks/b.ipynb[rerun]"]),
        {"name": "checks/kernel", "status": "error", "message": "harness error: KeyError"},
    ]
    tests[-2]["status"] = "error"  # notebooks/b.ipynb broke in the harness: no [rerun] entry
    a = _answer(tests)
    assert (a.result.status, a.result.reason) == (CellStatus.ERROR, "")
    failed = [*tests[:-2], {"name": "notebooks/b.ipynb", "status": "failed"}, tests[-1]]
    # only an error stands in: a failed first run owes its [rerun] entry (skipped, at least)
    assert _answer(failed).result.reason == "incomplete result: missing notebooks/b.ipynb[rerun]"


def test_a_harness_error_stands_in_for_everything_but_passes_nothing() -> None:
    crashed = [*_passed(*COMPLETE[:4]), {"name": "harness/internal", "status": "error"}]
    a = _answer(crashed)
    assert (a.result.status, a.result.reason) == (CellStatus.ERROR, "")
    claimed = [*_passed(*COMPLETE[:4]), {"name": "harness/internal", "status": "passed"}]
    assert _answer(claimed).result.reason.startswith("incomplete result: missing ")


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"tests": "all passed"},
        {"tests": [{"name": n, "status": "passed", "duration_s": "long"} for n in COMPLETE]},
        {"tests": [{"name": n, "status": "passed"} for n in COMPLETE], "environment": ["x"]},
    ],
    ids=["a list", "tests a string", "duration a string", "environment a list"],
)
def test_a_shapeless_payload_is_an_error_not_a_crash(payload: Any) -> None:
    scripts = {"A": Script(timeline=[(NotebookState.RUNNING, encode_lines(payload, "ba"))])}
    orchestrator, _, _ = make(scripts)
    (a,) = orchestrator.run([job("A", answers=expected_tests(SPEC))])
    if isinstance(payload, dict) and "environment" in payload:
        assert (a.result.status, a.result.environment) == (CellStatus.PASSED, {})
    else:
        assert a.result.status == CellStatus.ERROR, a.result
        assert a.result.reason.startswith(
            ("incomplete result: ", "result unusable: ", "result bundle unusable: ")
        )


def test_expected_failures_cannot_turn_a_result_with_gaps_green() -> None:
    tests = [
        *_passed(*COMPLETE[:12]),
        {"name": "notebooks/a.ipynb", "status": "failed", "message": "cell 1: E"},
        {"name": "harness/internal", "status": "error", "message": "RuntimeError: bug"},
    ]
    scripts = {"A": Script(timeline=[(NotebookState.RUNNING, bundle("ba", tests))])}
    orchestrator, _, _ = make(scripts)
    expected = (("A", "notebooks/a.ipynb"), ("A", "harness/internal"))
    (a,) = orchestrator.run([job("A", answers=expected_tests(SPEC), expected=expected)])
    assert a.result.status == CellStatus.ERROR  # notebooks/b.ipynb has no verdict
    assert {t.status for t in a.result.tests[-2:]} == {TestStatus.XFAIL}
