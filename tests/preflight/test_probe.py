"""`grt doctor --probe` against the fake Paperspace API: it prints the cost first, creates one
notebook (never two) on the cheapest CPU machine only with --yes, records what the platform did,
ends the notebook in every case and writes a report without the key."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.command import MAX_COMMAND_CHARS
from gradient_runtime_test.matrix.load import load_catalogue
from gradient_runtime_test.preflight.probe import Probe, ProbeOptions, our_command_size
from gradient_runtime_test.providers.base import Handle
from gradient_runtime_test.providers.gradient import GradientProvider
from gradient_runtime_test.settings import PaperspaceSettings
from tests.conftest_paperspace import FAKE_API_KEY
from tests.fakes.paperspace import FakePaperspace
from tests.fakes.paperspace.replay import knobs
from tests.hardening.helpers import Result, grt, wait_until
from tests.preflight.helpers import PROJECT, doctor_env, write_matrices

pytestmark = pytest.mark.server


@pytest.fixture
def matrices(tmp_path: Path) -> Path:
    return write_matrices(tmp_path)


@pytest.fixture
def fake(fake_paperspace: FakePaperspace) -> FakePaperspace:
    fake_paperspace.faults.start_delay_s = 1.0  # Pending for 0.25 s, then Provisioning
    fake_paperspace.faults.teardown_s = 0.3  # a stop shows Stopping a while
    return fake_paperspace


def probe(fake: FakePaperspace, matrices: Path, report: Path, *args: str, **env: str) -> Result:
    argv = ["doctor", "--probe", "--matrices", str(matrices), "--probe-out", str(report), *args]
    return grt(argv, doctor_env(fake, **env))


def test_without_yes_it_prints_the_cost_and_creates_nothing(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    result = probe(fake, matrices, tmp_path / "probe.json")

    assert result.code == 0, result.text
    first, second = result.out.splitlines()
    assert first.startswith("Probe: one notebook on C7 (the cheapest CPU machine offered), image")
    assert "estimated at most $0.01 ($0.05/h)" in first
    assert second == "Nothing was created: add --yes to create it."
    assert [r.path for r in fake.requests] == ["/vmTypes/getVmTypesByClusters"]
    assert not (tmp_path / "probe.json").exists()


def test_with_yes_one_notebook_is_created_recorded_and_ended(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    out = tmp_path / "probe.json"
    result = probe(fake, matrices, out, "--yes")

    assert result.code == 0, result.text
    assert result.out.startswith("Probe: one notebook on C7")  # the cost, before anything else
    (notebook,) = fake.notebooks.values()
    assert notebook.spec.machine_type == "C7" and notebook.deleted
    assert notebook.name.startswith("grt: probe on C7 [") and "grt" in notebook.tags
    assert notebook.spec.shutdown_timeout == 1  # the platform's backstop
    report = json.loads(out.read_text())
    catalogue = load_catalogue(matrices)
    ours = our_command_size(catalogue.runtimes[0], catalogue.machines["C7"])
    assert report["create"]["accepted"] is True
    assert report["create"]["command_chars"] == ours == len(notebook.spec.command or "")
    assert report["create"]["command_intact"] is True
    assert report["start_states"] == ["Pending", "Provisioning"]
    assert [s["state"] for s in report["states"]][-2:] == ["Stopping", "Stopped"]
    logs = report["logs"]
    assert logs["long_line"]["kept"] == 1000  # the fake's line cap
    assert logs["burst"]["received"] == 500 and logs["order"] == "ascending"
    assert logs["page"] == {"asked": 100, "got": 100}
    assert logs["from_line"]["first"] == 200 and logs["after_stop"]["end_marker"] is True
    assert report["list_unpaged"] == {"count": 1, "total": 1, "running_total": 1, "capped": False}
    assert report["delete_while_stopping"]["tried"] is True
    assert report["delete_while_stopping"]["words"] == "Cannot delete notebook while it is stopping"
    assert report["stop_stopped"] == {
        "tried": True,
        "accepted": True,
        "words": None,
        "status": None,
    }
    assert report["ended"] is True and report["errors"] == []
    assert FAKE_API_KEY not in out.read_text() + result.text
    assert (
        "Delete while stopping: refused: Cannot delete notebook while it is stopping" in result.out
    )
    # Replayed, the report gives back the knobs of the fake it probed.
    replayed, faults = knobs(report), fake.faults
    assert replayed["start_states"] == faults.start_states
    assert replayed["log_line_limit"] == faults.log_line_limit
    assert replayed["refuse_delete_while"] == faults.refuse_delete_while
    assert replayed["delete_refusal_message"] == faults.delete_refusal_message.format(
        state="stopping"
    )
    assert replayed["stop_ended_message"] is faults.stop_ended_message is None
    assert replayed["reverse_log_rows"] is faults.reverse_log_rows is False
    assert "list_page_size" not in replayed and "log_page_size" not in replayed


def test_a_log_served_in_small_pages_is_read_whole(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    fake.faults.log_page_size = 60
    out = tmp_path / "probe.json"
    result = probe(fake, matrices, out, "--yes")

    assert result.code == 0, result.text
    report = json.loads(out.read_text())
    logs = report["logs"]
    assert logs["burst"]["received"] == 500 and logs["end_seen"]
    assert logs["pages_read"] >= 9 and logs["page"] == {"asked": 100, "got": 60}
    assert knobs(report)["log_page_size"] == 60


def test_a_notebook_the_platform_fails_is_recorded_and_still_ended(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    fake.faults.error_machines = {"C7": "Error pulling image: manifest unknown"}
    out = tmp_path / "probe.json"
    result = probe(fake, matrices, out, "--yes")

    assert result.code == 1
    (notebook,) = fake.notebooks.values()
    assert notebook.deleted
    report = json.loads(out.read_text())
    assert report["states"][-1]["state"] == "Error"
    assert "manifest unknown" in report["states"][-1]["job_error"]
    assert "long_line" not in report.get("logs", {})
    assert report["errors"] == [{"step": "start", "error": "it ended (Error)"}]


def test_a_lost_create_answer_adopts_the_notebook_instead_of_creating_another(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    fake.faults.lose_next_create()
    out = tmp_path / "probe.json"
    result = probe(fake, matrices, out, "--yes")

    assert len(fake.requests_to("createNotebook")) == 1
    (notebook,) = fake.notebooks.values()
    assert notebook.deleted
    report = json.loads(out.read_text())
    assert (
        report["create"]["adopted"] is True and report["create"]["notebook_id"] == notebook.handle
    )
    assert result.code == 0, result.text


def test_a_lost_create_that_cannot_be_looked_up_is_not_created_again(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    fake.faults.lose_next_create()
    fake.faults.fail_next("getNotebooks", count=20, status=503)
    result = probe(fake, matrices, tmp_path / "probe.json", "--yes")

    assert result.code == 1
    assert len(fake.requests_to("createNotebook")) == 1
    assert "`grt sweep --older-than 0s` ends it" in result.out


def test_a_refused_create_is_kept_verbatim(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    fake.faults.max_command_chars = 20_000
    fake.faults.command_refusal_message = "Notebook command exceeds 20000 characters"
    out = tmp_path / "probe.json"
    result = probe(fake, matrices, out, "--yes")

    assert result.code == 1
    assert not fake.notebooks
    create = json.loads(out.read_text())["create"]
    assert create["accepted"] is False and create["status"] == 400
    assert create["words"] == "Notebook command exceeds 20000 characters"
    assert "The platform refused a" in result.out and "exceeds 20000" in result.out
    assert create["command_chars"] < MAX_COMMAND_CHARS


def test_a_report_that_cannot_be_written_stops_it_before_anything_is_created(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    result = probe(fake, matrices, tmp_path, "--yes")  # a folder
    assert result.code == 2 and "--probe-out:" in result.err and "is a folder" in result.err
    no_project = probe(fake, matrices, tmp_path / "p.json", "--yes", PAPERSPACE_PROJECT_ID="")
    assert no_project.code == 2 and "--project-id is not set" in no_project.err
    assert not fake.notebooks and not fake.requests_to("createNotebook")


def test_a_notebook_that_never_starts_is_ended_at_the_startup_timeout(
    fake: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    fake.faults.stuck_machines = {"C7"}
    result = probe(fake, matrices, tmp_path / "probe.json", "--yes", GRT_STARTUP_TIMEOUT="1")

    assert result.code == 1
    (notebook,) = fake.notebooks.values()
    assert notebook.deleted


def test_whatever_breaks_inside_the_block_the_notebook_is_ended(
    fake: FakePaperspace, gradient_sdk: Any, tmp_path: Path
) -> None:
    settings = PaperspaceSettings(
        api_key=FAKE_API_KEY, config_host=fake.url, log_host=fake.log_url, project_id=PROJECT
    )
    options = ProbeOptions(out_path=tmp_path / "probe.json", create=True, project_id=PROJECT)
    run = Probe(GradientProvider(settings), options, say=print, clock=lambda: 0.0)
    created = run.api.create(
        name="grt: probe on C7 [0123456789ab]",
        machine_type="C7",
        container="paperspace/gradient-base:pt112",
        project_id=PROJECT,
        command="exec jupyter lab",
    )
    fake.notebook(created.id).wait_for_state("Running")

    with pytest.raises(ZeroDivisionError), run.owned(Handle(created.id, "probe")):
        _ = 1 / 0

    assert fake.notebook(created.id).deleted
    assert run.report["ended"] is True and run.report["cleanup"]["ended"] is True


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_notebook_and_writes_the_report(
    fake: FakePaperspace, matrices: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    fake.faults.stuck_machines = {"C7"}  # it never starts: the probe waits
    out = tmp_path / "probe.json"
    argv = ["doctor", "--probe", "--yes", "--matrices", str(matrices), "--probe-out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        env=doctor_env(fake, GRT_STARTUP_TIMEOUT="120"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: len(fake.requests_to("getNotebook")) >= 2, what="the probe following")
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, stdout + stderr
    (notebook,) = fake.notebooks.values()
    assert notebook.deleted
    report = json.loads(out.read_text())
    assert report["interrupted"] == sig.name and report["ended"] is True
    assert FAKE_API_KEY not in out.read_text() + stdout + stderr
