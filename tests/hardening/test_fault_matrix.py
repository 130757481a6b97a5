"""The fault matrix: every request fault of the fake Paperspace API at every phase of a cell, and
the platform's own faults, through `grt run --provider gradient` (in-process, the harness's bundle
replayed by the fake). docs/reliability.md has the table; each row here is one of its cells.

Whatever goes wrong: results.json is written with a status for every cell, no notebook is
created twice, none is left running, and a notebook that could not be deleted is named in a
warning (and `grt sweep` ends it).

Bursts of 5xx and dropped connections on every endpoint are in tests/e2e/test_gradient_faults.py
(`test_transient_faults_on_every_endpoint_are_retried`); the platform's capacity, running limit,
stuck and failed start-ups, start-up delay and log line limit there and in
tests/e2e/test_gradient_run.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.paperspace import FakePaperspace
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import (
    CHATTER,
    CREATE,
    DELETE,
    LIST,
    LOGS,
    METRICS,
    RUNTIME,
    STOP,
    TAG,
    Result,
    ScriptedFaults,
    any_notebook,
    gradient_env,
    live_notebooks,
    replay,
    results,
    write_matrices,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

REFUSAL = b'{"status": 400, "message": "Bad request: refused by the fake platform"}'
STARTING = ("Pending", "Provisioning")


@dataclasses.dataclass(frozen=True)
class Expect:
    status: str = "passed"
    code: int = 0
    reason: str = ""  # a fragment of the cell's reason
    notebooks: int = 1  # created, in all (never a duplicate)
    deleted: bool = True  # every notebook deleted at the end
    tagged: bool = True
    leftover: str = ""  # the warning naming a notebook that could not be ended


# Where the outcome needs the outage to outlast the provider's retries (~0.3 s here), it lasts
# 3 s, so that a slow machine cannot turn it into a pass; elsewhere 1 s.
OUTAGE_S = {"create": 3.0, "tag": 3.0, "delete": 3.0}
PASSED = Expect()
CREATE_FAILED = Expect("error", 1, "create failed: create notebook: ", notebooks=0)
STOPPED_NOT_DELETED = Expect(deleted=False, leftover="was stopped but not deleted")

# (phase, fault) -> expected outcome. Faults: "lost" = the request takes effect but its answer is
# lost, twice; "outage" = 503 for every request of the phase during 1 s or 3 s (longer than the
# provider's own retries: 4 retries, back-off 0.02 s doubling here, 2 s doubling by default);
# "refused" = 400 "Bad request" for every request from that phase on, for good.
MATRIX: dict[tuple[str, str], Expect] = {
    ("create", "lost"): dataclasses.replace(PASSED, notebooks=2),  # 2 cells, both adopted
    ("create", "outage"): CREATE_FAILED,
    # an unrecognised refusal, kept verbatim (nothing else of the run is up: no wait for a slot)
    ("create", "refused"): Expect("error", 1, "create refused: create notebook: ", notebooks=0),
    ("tag", "lost"): PASSED,
    ("tag", "outage"): dataclasses.replace(PASSED, tagged=False),  # followed by id instead
    ("tag", "refused"): dataclasses.replace(PASSED, tagged=False),
    ("start-up", "lost"): PASSED,
    ("start-up", "outage"): PASSED,
    ("start-up", "refused"): Expect("error", 1, "notebook did not start within 2 s"),
    ("running", "lost"): PASSED,
    ("running", "outage"): PASSED,
    ("logs", "lost"): PASSED,
    ("logs", "outage"): PASSED,
    ("logs", "refused"): Expect("error", 1, "its logs could not be read: read notebook logs: "),
    ("final logs", "lost"): PASSED,
    ("final logs", "outage"): PASSED,  # the ended notebook is kept and asked again
    ("final logs", "refused"): Expect("error", 1, "its logs could not be read: "),
    ("stop", "lost"): PASSED,
    ("stop", "outage"): PASSED,  # the delete ends it
    ("stop", "refused"): PASSED,
    ("delete", "lost"): PASSED,
    ("delete", "outage"): STOPPED_NOT_DELETED,
    ("delete", "refused"): STOPPED_NOT_DELETED,
    ("metrics", "lost"): PASSED,
    ("metrics", "outage"): PASSED,
    ("metrics", "refused"): PASSED,
}

PHASES: dict[str, tuple[str, Callable[[FakePaperspace], Callable[[], bool] | None]]] = {
    "create": (CREATE, lambda ps: None),
    "tag": (TAG, lambda ps: None),
    "start-up": (LIST, lambda ps: any_notebook(ps, *STARTING)),
    "running": (LIST, lambda ps: any_notebook(ps, "Running")),
    "logs": (LOGS, lambda ps: any_notebook(ps, "Running")),
    "final logs": (LOGS, lambda ps: any_notebook(ps, "Stopped")),  # the read after it ended
    "stop": (STOP, lambda ps: None),
    "delete": (DELETE, lambda ps: None),
    "metrics": (METRICS, lambda ps: None),
}


@dataclasses.dataclass
class Ran:
    result: Result
    cells: dict[str, dict[str, Any]]
    faults: ScriptedFaults


def run_gradient(
    ps: FakePaperspace,
    canaries: Canaries,
    tmp_path: Path,
    faults: ScriptedFaults,
    *,
    machines: str = "[C5]",
    env: dict[str, str] | None = None,
) -> Ran:
    """`grt run --provider gradient` of the hardening runtime on `machines`, `faults` armed."""
    if faults.replay_log is None:
        faults.replay_log = replay()
    ps.faults = faults
    matrices = write_matrices(tmp_path, RUNTIME.replace("[C5, C7]", machines))
    out = tmp_path / "out"
    run_env = gradient_env(ps, canaries.api_key, GRT_POLL_INTERVAL="0.1", **(env or {}))
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    result = canaries.grt([*argv, "--out", str(out), "--max-parallel", "2"], run_env)
    return Ran(result, results(out), faults)


@pytest.mark.parametrize(("phase", "fault"), list(MATRIX), ids=[f"{p}-{f}" for p, f in MATRIX])
def test_request_fault_at_each_phase(
    phase: str, fault: str, ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    expect = MATRIX[phase, fault]
    path, gate = PHASES[phase]
    faults = ScriptedFaults(
        start_delay_s=1.2 if phase == "start-up" else 0.1, replay_line_delay_s=0.1
    )
    if phase == "logs":  # runs ~2 s: its logs are read while it runs, however rarely
        faults.replay_log = replay(before=CHATTER)
    if fault == "lost":
        faults.script(path, "lost", times=2, when=gate(ps))
    elif fault == "outage":
        faults.script(path, "status", seconds=OUTAGE_S.get(phase, 1.0), when=gate(ps))
    else:
        faults.script(path, "status", status=400, body=REFUSAL, when=gate(ps), latch=True)
    machines = "[C5, C7]" if (phase, fault) == ("create", "lost") else "[C5]"
    ran = run_gradient(
        ps, canaries, tmp_path, faults, machines=machines, env={"GRT_STARTUP_TIMEOUT": "2"}
    )

    assert sum(ran.faults.injected.values()) >= 1, "the fault never fired"
    assert ran.result.code == expect.code, ran.result.text
    assert "Traceback" not in ran.result.text
    for cell in ran.cells.values():
        assert cell["status"] == expect.status, cell
        assert expect.reason in cell["reason"], cell["reason"]
    notebooks = list(ps.notebooks.values())
    assert len(notebooks) == expect.notebooks, "a notebook was created twice"
    assert len({nb.name for nb in notebooks}) == len(notebooks)
    assert live_notebooks(ps) == [], "a notebook was left running"
    assert all(nb.deleted == expect.deleted for nb in notebooks)
    assert all(("grt" in nb.tags) == expect.tagged for nb in notebooks)
    if expect.leftover:
        (nb,) = notebooks
        assert f"WARNING: notebook {nb.handle} (C5) {expect.leftover}" in ran.result.err
        ps.faults.scripts.clear()  # type: ignore[attr-defined]
        run_id = next(t for t in nb.tags if t.startswith("grt-run-")).removeprefix("grt-run-")
        assert f"`grt sweep --run {run_id}`" in ran.result.err
        swept = canaries.grt(["sweep", "--run", run_id], gradient_env(ps, canaries.api_key))
        assert swept.code == 0 and nb.deleted, swept.text
    else:
        assert "WARNING: notebook" not in ran.result.err


# --- the platform's own faults, beyond those in tests/e2e --------------------------------------


def _drop_chunk(lines: list[str]) -> list[str]:
    return [line for line in lines if " 1/" not in line]  # chunk 1 never arrives


def _corrupt(lines: list[str]) -> list[str]:
    return [line[:-4] + "AAAA" if " 1/" in line else line for line in lines]


@pytest.mark.parametrize(
    ("knob", "reason"),
    [
        ("bundle-truncated", "result bundle unusable: "),
        ("bundle-corrupt", "result bundle unusable: "),
        ("no-bundle", "notebook is stopped before the harness reported a result"),
    ],
)
def test_a_bundle_short_of_complete_is_an_error_never_a_pass(
    knob: str, reason: str, ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    mangle = {"bundle-truncated": _drop_chunk, "bundle-corrupt": _corrupt}.get(knob)
    faults = ScriptedFaults(replay_line_delay_s=0.05)
    faults.replay_log = replay(
        mangle=mangle or (lambda lines: []), after=("Traceback: the harness died",)
    )
    ran = run_gradient(ps, canaries, tmp_path, faults)
    assert ran.result.code == 1, ran.result.text
    cell = ran.cells["C5"]
    assert cell["status"] == "error" and reason in cell["reason"], cell
    if knob == "no-bundle":
        assert cell["log_tail"][-1] == "Traceback: the harness died"
    assert len(ps.notebooks) == 1 and live_notebooks(ps) == []
    assert all(nb.deleted for nb in ps.notebooks.values())


def test_a_notebook_deleted_by_someone_else_is_an_error(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    faults = ScriptedFaults(replay_line_delay_s=0.3)

    def delete_when_running() -> bool:
        for nb in ps.notebooks.values():
            if nb.state == "Running" and not nb.deleted:
                nb.mark_deleted()  # as if deleted in the console
        return False

    # A hook rather than a fault: each list request deletes a running notebook, then goes on.
    faults.script(LIST, "status", when=delete_when_running)
    ran = run_gradient(ps, canaries, tmp_path, faults)
    assert ran.result.code == 1, ran.result.text
    assert ran.cells["C5"]["status"] == "error"
    assert "notebook is gone before the harness reported a result" in ran.cells["C5"]["reason"]
    assert live_notebooks(ps) == []


def test_a_failing_notebook_is_failed_and_ended(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    faults = ScriptedFaults()
    faults.replay_log = replay(failing="hello.ipynb")
    ran = run_gradient(ps, canaries, tmp_path, faults)
    assert ran.result.code == 1
    assert ran.cells["C5"]["status"] == "failed"
    assert all(nb.deleted for nb in ps.notebooks.values())
