"""`grt run --provider gradient` against the platform as it really behaves (issue 13): a stalled
API, 429s, preemption and states nobody knows, late and repeated log lines, a limit worded in
unknown words, deletes refused while stopping. The real SDK talks to the fake Paperspace API,
which replays each cell's harness output (no kernels)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.providers.gradient_api import GradientApi
from tests.fakes.paperspace import FakePaperspace
from tests.fakes.paperspace.faults import LIST_PAGE_SIZE, Interrupt
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import (
    CHATTER,
    PROJECT,
    RUNTIME,
    Result,
    gradient_env,
    live_notebooks,
    replay,
    results,
    write_matrices,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

POLL_S = 0.05
# Small timeouts, so that a stalled API gives up in seconds here (minutes by default).
STALL_ENV = {
    "GRT_API_CONNECT_TIMEOUT": "0.3",
    "GRT_API_READ_TIMEOUT": "0.3",
    "GRT_API_OUTAGE": "2",
}


def run(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path, **env: str
) -> tuple[Result, dict[str, dict[str, Any]], float]:
    """`grt run` of the hardening runtime on C5 and C7: its result, cells and seconds taken."""
    matrices = write_matrices(tmp_path)
    out = tmp_path / "out"
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    started = time.monotonic()
    result = canaries.grt([*argv, "--out", str(out)], gradient_env(ps, canaries.api_key, **env))
    return result, results(out), time.monotonic() - started


def when(predicate: Any, then: Any) -> threading.Thread:
    """Run `then()` once `predicate()` holds (checked every 10 ms, for 30 s at most)."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if predicate():
                then()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def running(ps: FakePaperspace, count: int) -> Any:
    return lambda: sum(nb.state == "Running" for nb in ps.notebooks.values()) >= count


def test_an_api_stalled_from_the_start_ends_the_run_by_itself(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    ps.faults.replay_log = replay()
    ps.faults.stalled_servers = {"api"}

    result, cells, took = run(ps, canaries, tmp_path, **STALL_ENV)

    assert result.code == 1, result.text
    assert {c["status"] for c in cells.values()} == {"error"}
    assert all("ReadTimeout" in c["reason"] for c in cells.values()), cells
    assert took < 20, took
    assert "Traceback" not in result.text


def test_an_api_that_stalls_mid_run_ends_the_run_with_error_cells(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    ps.faults.replay_log = replay(before=CHATTER)
    ps.faults.replay_line_delay_s = 0.3  # the cells run ~6 s: the stall comes first
    watcher = when(running(ps, 2), lambda: ps.faults.stalled_servers.update({"api", "logs"}))

    result, cells, took = run(ps, canaries, tmp_path, **STALL_ENV)

    watcher.join(1)
    assert result.code == 1, result.text
    assert {c["status"] for c in cells.values()} == {"error"}  # none passed, none lost
    assert all("API failed for " in c["reason"] for c in cells.values()), cells
    assert took < 30, took
    assert "`grt sweep --run " in result.err  # what could not be ended is named


def test_429s_on_create_and_on_polls_leave_a_run_that_passes(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    ps.faults.replay_log = replay(before=CHATTER)
    ps.faults.replay_line_delay_s = 0.02
    for path, count in (
        ("createNotebook", 3),
        ("updateTags", 1),
        ("getNotebooks", 4),
        ("/jobs/logs", 2),
        ("stopNotebook", 1),
        ("deleteNotebook", 1),
    ):
        ps.faults.rate_limit_next(path, count, retry_after="1")

    result, cells, _ = run(ps, canaries, tmp_path, GRT_RETRY_AFTER_MAX="0.2")

    assert result.code == 0, result.text
    assert {m: c["status"] for m, c in cells.items()} == {"C5": "passed", "C7": "passed"}
    assert not any(rule.remaining for rule in ps.faults.rules)  # every 429 was served
    assert len(ps.notebooks) == 2 and all(nb.deleted for nb in ps.notebooks.values())


def test_a_preempted_cell_settles_within_a_poll_or_two_and_runs_again(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    ps.faults.replay_log = replay(before=CHATTER)
    ps.faults.replay_line_delay_s = 0.05
    ps.faults.interrupt_machines = {"C5": Interrupt(0.3, "Preempted", "spot VM reclaimed")}
    preempted_at: list[float] = []

    def first_preempted() -> bool:
        return any(nb.state == "Preempted" for nb in ps.notebooks.values())

    def note() -> None:
        preempted_at.append(time.monotonic())
        ps.faults.interrupt_machines = {}  # the next notebook on C5 runs to the end

    watcher = when(first_preempted, note)
    result, cells, _ = run(ps, canaries, tmp_path)

    watcher.join(1)
    assert result.code == 0, result.text
    assert {m: c["status"] for m, c in cells.items()} == {"C5": "passed", "C7": "passed"}
    [gone] = [nb for nb in ps.notebooks.values() if nb.state == "Preempted"]
    assert gone.deleted
    [stop] = [r for r in ps.requests_to("stopNotebook") if gone.handle in r.body.decode()]
    assert stop.at - preempted_at[0] < 2 * POLL_S + 0.5  # a poll or two, and the stop's way
    assert len(ps.notebooks) == 3 and live_notebooks(ps) == []


def test_preempted_every_time_is_unavailable_with_the_reason(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    ps.faults.replay_log = replay(before=CHATTER)
    ps.faults.replay_line_delay_s = 0.05
    ps.faults.interrupt_machines = {"C5": Interrupt(0.2, "Preempted", "spot VM reclaimed")}

    result, cells, _ = run(ps, canaries, tmp_path)

    assert result.code == 0, result.text  # unavailable is no verdict on the runtime
    assert cells["C5"]["status"] == "unavailable"
    assert "Preempted: spot VM reclaimed" in cells["C5"]["reason"]
    assert cells["C7"]["status"] == "passed"
    assert sum(nb.spec.machine_type == "C5" for nb in ps.notebooks.values()) == 3


@pytest.mark.parametrize("state", ["Cancelled", "Failed", "Cancel", "Error"])
def test_a_notebook_the_platform_ends_is_an_error_at_once_with_its_words(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path, state: str
) -> None:
    ps.faults.replay_log = replay(before=CHATTER)
    ps.faults.replay_line_delay_s = 0.1
    ps.faults.interrupt_machines = {"C5": Interrupt(0.2, state, "ended by the platform")}

    result, cells, took = run(ps, canaries, tmp_path)

    assert result.code == 1, result.text
    assert cells["C5"]["status"] == "error"
    assert f"ended in {state}: ended by the platform" in cells["C5"]["reason"]
    assert cells["C7"]["status"] == "passed"
    assert took < 15


def test_a_state_nobody_knows_is_treated_as_ended_after_a_while(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ps.faults.replay_log = replay(before=CHATTER)
    ps.faults.replay_line_delay_s = 0.1
    ps.faults.interrupt_machines = {"C5": Interrupt(0.2, "Hibernating", None)}

    result, cells, _ = run(ps, canaries, tmp_path)

    assert result.code == 1, result.text
    assert cells["C5"]["status"] == "error"
    assert "a state not known here (Hibernating)" in cells["C5"]["reason"]
    logged = [r for r in caplog.records if "a state grt does not know" in r.getMessage()]
    assert len(logged) == 1 and "'Hibernating'" in logged[0].getMessage()  # logged once
    assert cells["C7"]["status"] == "passed"


def test_late_repeated_and_reordered_log_lines_still_make_a_result(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    ps.faults.replay_log = replay(before=CHATTER)
    ps.faults.replay_line_delay_s = 0.01
    ps.faults.late_log_every = 2  # a frame of each bundle is late, whichever rows they get
    ps.faults.late_log_s = 0.4
    ps.faults.duplicate_log_every = 4
    ps.faults.reverse_log_rows = True

    result, cells, _ = run(ps, canaries, tmp_path)

    assert result.code == 0, result.text
    assert {m: c["status"] for m, c in cells.items()} == {"C5": "passed", "C7": "passed"}
    from_start = [r for r in ps.requests_to("/jobs/logs") if r.param("line") == "1"]
    assert len(from_start) > 2  # a late chunk was missed, and found by reading again


def test_a_limit_in_words_nobody_knows_waits_for_a_slot(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    words = "Your team cannot start more notebooks on its current plan ({limit})"
    ps.faults.replay_log = replay(before=CHATTER)
    ps.faults.replay_line_delay_s = 0.02
    ps.faults.running_limit = 1
    ps.faults.running_limit_message = words

    result, cells, _ = run(ps, canaries, tmp_path)

    assert result.code == 0, result.text
    assert {m: c["status"] for m, c in cells.items()} == {"C5": "passed", "C7": "passed"}
    refusal = words.format(limit=1)
    assert refusal in result.err  # the refusal, verbatim, in the progress lines...
    assert any(refusal in r.getMessage() for r in caplog.records)  # ...logged...
    assert sum(refusal in c["reason"] for c in cells.values()) == 1  # ...and in results.json
    assert len(ps.notebooks) == 2


def test_deletes_refused_while_stopping_are_retried_once_stopped(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    ps.faults.replay_log = replay()
    ps.faults.teardown_s = 0.3  # every notebook shows Stopping a while before Stopped

    result, cells, _ = run(ps, canaries, tmp_path)

    assert result.code == 0, result.text
    assert {c["status"] for c in cells.values()} == {"passed"}
    assert all(nb.deleted for nb in ps.notebooks.values())
    assert "WARNING: notebook" not in result.err


def test_sweep_pages_and_by_default_spares_what_a_run_may_still_use(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    api = GradientApi(canaries.api_key, config_host=ps.url, log_host=ps.log_url)
    ps.faults.replay_log = None  # each notebook runs `sleep`: it lives until stopped

    def spawn(run_id: str, count: int) -> list[str]:
        return [
            api.create(
                name=f"grt: Hardened on C5 [{run_id}{i:08x}]",
                machine_type="C5",
                container="paperspace/gradient-base:pt112",
                project_id=PROJECT,
                command="sleep 600",
                tags=["grt", f"grt-run-{run_id}"],
            ).id
            for i in range(count)
        ]

    old, young = spawn("aaaa", LIST_PAGE_SIZE + 5), spawn("bbbb", 2)
    for handle in old[:3]:
        ps.notebook(handle).created_at -= dt.timedelta(hours=3)
    matrices = write_matrices(tmp_path, RUNTIME + "shutdown_timeout: 2\n")
    env = gradient_env(ps, canaries.api_key)

    default = canaries.grt(["sweep", "--matrices", str(matrices)], env)
    assert default.code == 0, default.text
    assert default.out.splitlines()[0] == (
        "Sweeping grt's notebooks older than 2h (the longest shutdown_timeout)."
    )
    assert {h for h, nb in ps.notebooks.items() if nb.deleted} == set(old[:3])

    one_run = canaries.grt(["sweep", "--run", "bbbb"], env)
    assert one_run.code == 0 and one_run.out.count("stopped and deleted") == 2, one_run.text
    assert all(ps.notebook(h).deleted for h in young)

    rest = canaries.grt(["sweep", "--older-than", "0s"], env)
    assert rest.code == 0 and rest.out.count("stopped and deleted") == len(old) - 3, rest.text
    assert live_notebooks(ps) == [] and all(nb.deleted for nb in ps.notebooks.values())
    assert len(ps.requests_to("getNotebooks")) > 3  # the lists were read page by page

    bad = canaries.grt(["sweep", "--run", "$(touch pwned)"], env)
    assert bad.code == 2 and "--run" in bad.err
