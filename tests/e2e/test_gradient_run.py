"""`grt run --provider gradient` end to end: the real SDK against the fake Paperspace API, which
really runs each notebook's command (and so the harness) on this machine."""

from __future__ import annotations

import base64
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.carried import carried_program
from tests.conftest_paperspace import FAKE_API_KEY
from tests.e2e.gradient_helpers import PROJECT, run_args, run_grt, start_grt
from tests.e2e.workspace import WORKSPACE_URL, make_matrices, make_workspace
from tests.fakes.paperspace import FakePaperspace

pytestmark = [pytest.mark.server, pytest.mark.kernel, pytest.mark.slow]


def wait_until(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def assert_secret_only_in_header(
    fake: FakePaperspace, out: Path | None = None, *texts: str
) -> None:
    for request in fake.requests:
        assert request.api_key == FAKE_API_KEY
        others = [(k, v) for k, v in request.headers if k.lower() != "x-api-key"]
        blob = json.dumps(
            [
                request.path,
                request.raw_query,
                others,
                request.body.decode(errors="replace"),
                request.command,
            ]
        )
        assert FAKE_API_KEY not in blob
    for text in texts:
        assert FAKE_API_KEY not in text
    if out is not None:
        for file in out.rglob("*"):
            if file.is_file():
                assert FAKE_API_KEY not in file.read_text(errors="replace"), file


def test_run_two_machines_end_to_end(fake: FakePaperspace, tmp_path: Path) -> None:
    matrices = make_matrices(tmp_path)
    out = tmp_path / "out"
    proc = run_grt(
        fake,
        *run_args(matrices, out),
        "--workspace-ref",
        "main",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    cells = {c["machine"]: c for c in results["cells"]}
    assert {m: c["status"] for m, c in cells.items()} == {"C5": "passed", "A4000": "passed"}
    assert cells["A4000"]["environment"]["gpus"] == ["NVIDIA RTX A4000"]
    assert any(
        t["name"] == "notebooks/hello.ipynb" and t["status"] == "passed"
        for t in cells["C5"]["tests"]
    )
    assert (out / "notebooks" / "A4000" / "hello.ipynb").is_file()
    assert cells["C5"]["billed_s"] >= cells["C5"]["duration_s"] > 0

    creates = fake.requests_to("createNotebook")
    assert len(creates) == 2
    body = creates[0].body_json
    assert (
        body["machineType"] in ("C5", "A4000")
        and body["container"] == "paperspace/gradient-base:pt112"
    )
    assert (
        body["projectId"] == PROJECT
        and body["workspace"] == WORKSPACE_URL
        and body["workspaceRef"] == "main"
    )
    assert body["shutdownTimeout"] == 6
    assert body["name"].startswith("grt: E2E Runtime on ")
    command = base64.b64decode(body["command"]).decode()
    # the command execs the bootstrap, which execs Jupyter itself (PID 1 must handle SIGTERM)
    assert command.startswith("exec ") and carried_program(command)[:3] == [
        "1",
        "PIP_DISABLE_PIP_VERSION_CHECK=1",
        "jupyter",
    ]
    # every notebook was stopped and deleted
    assert fake.notebooks and all(nb.deleted for nb in fake.notebooks.values())
    # one list request per poll: status is never asked notebook by notebook
    calls = [r.path.rsplit("/", 1)[-1] for r in fake.requests]
    assert calls.count("range") == 2  # GPU metrics, once per notebook
    # logs() and get_metrics() read the notebook first; status is never asked notebook by notebook
    # (a delete refused while the notebook is Stopping waits with gets of its own: not counted)
    assert polling_gets(fake) == calls.count("logs") + calls.count("range")
    assert calls.count("getNotebooks") >= 2
    assert_secret_only_in_header(fake, out, proc.stdout, proc.stderr, command)


def polling_gets(fake: FakePaperspace) -> int:
    """getNotebook requests for a notebook before its first delete request."""
    deleting: set[str] = set()
    gets = 0
    for request in fake.requests:
        body = request.body_json if isinstance(request.body_json, dict) else {}
        call = request.path.rsplit("/", 1)[-1]
        if call == "deleteNotebook":
            deleting.add(body.get("notebookId", ""))
        elif call == "getNotebook" and body.get("notebookId") not in deleting:
            gets += 1
    return gets


def test_capacity_is_unavailable_not_red(fake: FakePaperspace, tmp_path: Path) -> None:
    fake.faults.capacity_machines = {"A4000"}
    matrices = make_matrices(tmp_path)
    out = tmp_path / "out"
    proc = run_grt(
        fake,
        *run_args(matrices, out),
        "--max-parallel",
        "2",
    )
    results = json.loads((out / "results.json").read_text())
    statuses = {c["machine"]: c["status"] for c in results["cells"]}
    assert statuses == {"C5": "passed", "A4000": "unavailable"}
    assert proc.returncode == 0, proc.stderr


def test_failing_notebook_names_the_cell(fake: FakePaperspace, tmp_path: Path) -> None:
    fake.repositories[WORKSPACE_URL] = make_workspace(tmp_path / "failing", failing=True)
    matrices = make_matrices(tmp_path, machines="[C5]", notebooks="[hello.ipynb, broken.ipynb]")
    out = tmp_path / "out"
    proc = run_grt(
        fake,
        *run_args(matrices, out),
    )
    assert proc.returncode == 1
    (cell,) = json.loads((out / "results.json").read_text())["cells"]
    assert cell["status"] == "failed"
    broken = next(t for t in cell["tests"] if t["name"] == "notebooks/broken.ipynb")
    assert broken["message"] == "cell 2 (In [2]): ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in (out / "summary.md").read_text()


def test_lost_create_response_is_adopted_not_duplicated(
    fake: FakePaperspace, tmp_path: Path
) -> None:
    fake.faults.lose_next_create()
    matrices = make_matrices(tmp_path, machines="[C5]")
    out = tmp_path / "out"
    proc = run_grt(
        fake,
        *run_args(matrices, out),
    )
    assert proc.returncode == 0, proc.stderr
    assert len(fake.notebooks) == 1
    (nb,) = fake.notebooks.values()
    assert "grt" in nb.tags and nb.deleted


def test_dry_run_creates_nothing_and_redacts(fake: FakePaperspace, tmp_path: Path) -> None:
    matrices = make_matrices(tmp_path)
    proc = run_grt(
        fake,
        "run",
        "--matrices",
        str(matrices),
        "--runtime",
        "E2E Runtime",
        "--provider",
        "gradient",
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [c["machineType"] for c in data["creates"]] == ["C5", "A4000"]
    assert fake.requests == []
    assert FAKE_API_KEY not in proc.stdout + proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_every_notebook_and_writes_partial_results(
    fake: FakePaperspace, tmp_path: Path, sig: signal.Signals
) -> None:
    fake.faults.stuck_machines = {"A4000"}  # never leaves start-up: still live when we signal
    matrices = make_matrices(tmp_path)
    out = tmp_path / "out"
    proc = start_grt(
        fake,
        *run_args(matrices, out),
        "--max-parallel",
        "2",
    )
    wait_until(lambda: len(fake.notebooks) == 2)
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr
    stops = fake.requests_to("stopNotebook")
    assert {r.body_json["notebookId"] for r in stops} >= set(fake.notebooks)
    assert all(r.at - sent < 3.0 for r in stops), [r.at - sent for r in stops]
    assert not [
        nb
        for nb in fake.notebooks.values()
        if nb.state not in ("Stopped", "Error") and not nb.deleted
    ]
    results = json.loads((out / "results.json").read_text())
    assert "cancelled" in {c["status"] for c in results["cells"]}


def test_sweep_cleans_up_after_sigkill(fake: FakePaperspace, tmp_path: Path) -> None:
    fake.faults.stuck_machines = {"C5", "A4000"}
    matrices = make_matrices(tmp_path)
    proc = start_grt(
        fake,
        *run_args(matrices, tmp_path / "out"),
        "--max-parallel",
        "2",
    )
    wait_until(
        lambda: len(fake.notebooks) == 2 and all("grt" in nb.tags for nb in fake.notebooks.values())
    )
    proc.kill()
    proc.communicate(timeout=30)
    assert all(not nb.deleted for nb in fake.notebooks.values())
    dry = run_grt(fake, "sweep", "--dry-run", "--older-than", "0s")
    assert dry.returncode == 0 and dry.stdout.count("would stop and delete") == 2
    assert not any(nb.deleted for nb in fake.notebooks.values())
    young = run_grt(fake, "sweep", "--older-than", "1h")
    assert young.stdout.splitlines()[-1] == "Nothing to sweep."
    # by default, only what is older than any run can last (its runtimes' shutdown_timeout)
    concurrent = run_grt(fake, "sweep", "--matrices", str(matrices))
    assert concurrent.stdout.splitlines() == [
        "Sweeping grt's notebooks older than 6h (the longest shutdown_timeout).",
        "Nothing to sweep.",
    ], concurrent.stdout
    swept = run_grt(fake, "sweep", "--older-than", "0s")
    assert swept.returncode == 0, swept.stderr
    assert all(nb.deleted for nb in fake.notebooks.values())
