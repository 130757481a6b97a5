"""The fake Paperspace API, driven by the real ``gradient`` SDK, against the recorded spec."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest_paperspace import FAKE_API_KEY
from tests.fakes.paperspace import (
    CAPACITY_MESSAGE,
    NOT_FOUND_MESSAGE,
    FakePaperspace,
    Faults,
    NotebookSpec,
)
from tests.procs import with_argv

pytestmark = pytest.mark.server

IMAGE = "paperspace/gradient-base:pt112-tf29-jax0317-py39-20230125"
REPO_ROOT = Path(__file__).resolve().parents[1]


def create(client: Any, command: str = "exec jupyter lab --allow-root", **options: Any) -> str:
    options = {"machine_type": "A4000", "container": IMAGE, "project_id": "pr1", **options}
    handle: str = client.create(command=command, **options)
    return handle


def log_lines(client: Any, handle: str) -> list[str]:
    return [row.message for row in client.logs(handle)]


def wait_for_log(client: Any, handle: str, text: str, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = log_lines(client, handle)
        if any(text in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


# --- requests as recorded -------------------------------------------------------------------------


def test_create_minimal_sends_the_recorded_request(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    handle = notebooks_client.create(machine_type="P5000", container=IMAGE, project_id="pr3abc")

    assert isinstance(handle, str) and handle in fake_paperspace.notebooks
    [request] = fake_paperspace.requests
    assert (request.server, request.method, request.path) == (
        "api",
        "POST",
        "/notebooks/v2/createNotebook",
    )
    assert request.body_json == {"machineType": "P5000", "container": IMAGE, "projectId": "pr3abc"}
    assert request.header("X-API-Key") == FAKE_API_KEY
    assert request.header("ps_client_name") == "gradient-cli-sdk"


def test_create_with_all_options_and_tags(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    handle = notebooks_client.create(
        machine_type="A100",
        project_id="pr3abc123",
        cluster_id="clg07azjl",
        container="paperspace/gradient-base:latest",
        container_id=3,
        name="my-notebook",
        registry_username="ru",
        registry_password="rp",
        command="echo FOO=$FOO; exec jupyter lab --allow-root",
        shutdown_timeout=6,
        is_preemptible=False,
        is_public=False,
        workspace="none",
        workspace_ref="main",
        workspace_username="wu",
        workspace_password="wp",
        tags=["tag1", "gpu"],
        environment={"FOO": "bar"},
    )

    create_request, get_tags, update_tags = fake_paperspace.requests
    body = create_request.body_json
    assert (
        body["command"]
        == base64.b64encode(b"echo FOO=$FOO; exec jupyter lab --allow-root").decode()
    )
    assert create_request.command == "echo FOO=$FOO; exec jupyter lab --allow-root"
    assert body["isPreemptible"] is False and body["containerId"] == 3
    assert body["environment"] == {"FOO": "bar"} and body["shutdownTimeout"] == 6
    assert "tags" not in body
    assert (get_tags.method, get_tags.path, get_tags.raw_query) == (
        "GET",
        "/entityTags/getTags",
        f"entity=notebook&entityIds={handle}",
    )
    assert (update_tags.method, update_tags.path) == ("PUT", "/entityTags/updateTags")
    assert update_tags.body_json == {
        "entity": "notebook",
        "entityId": handle,
        "tags": ["tag1", "gpu"],
    }
    notebook = fake_paperspace.notebook(handle)
    assert notebook.tags == ["tag1", "gpu"]
    assert notebook.spec.shutdown_timeout == 6 and notebook.name == "my-notebook"
    assert "FOO=bar" in wait_for_log(notebooks_client, handle, "FOO=")


def test_get_reads_the_json_body_of_a_get(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    handle = create(notebooks_client, name="nb", tags=["t"])
    fake_paperspace.notebook(handle).wait_for_state("Running")
    fake_paperspace.clear_requests()

    notebook = notebooks_client.get(handle)

    [request] = fake_paperspace.requests
    assert (request.method, request.path, request.raw_query) == (
        "GET",
        "/notebooks/getNotebook",
        "",
    )
    assert request.body_json == {"notebookId": handle}
    assert request.header("Content-Type") == "application/json"
    assert (notebook.id, notebook.name, notebook.state, notebook.tags) == (
        handle,
        "nb",
        "Running",
        ["t"],
    )
    assert notebook.job_handle == fake_paperspace.notebook(handle).job_handle
    assert notebook.metrics_url == fake_paperspace.metrics_address
    assert notebook.vm_type == "A4000" and notebook.project_handle == "pr1"
    assert notebook.dt_created is not None and notebook.dt_created.tzinfo is not None


def test_list_filters_by_tags_and_hides_deleted(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    first = create(notebooks_client, tags=["run-1", "gpu"])
    second = create(notebooks_client, tags=["run-1"])
    other = create(notebooks_client, tags=["run-2"])
    gone = create(notebooks_client, tags=["run-1"])
    notebooks_client.delete(gone)
    fake_paperspace.clear_requests()

    everything = notebooks_client.list(tags=[])
    run_1 = notebooks_client.list(tags=["run-1"])
    both, meta = notebooks_client.list(tags=["run-1", "gpu"], get_meta=True)
    page = notebooks_client.list(tags=[], limit=1, offset=1)

    assert [nb.id for nb in everything] == [other, second, first]  # "jobId desc"
    assert [nb.id for nb in run_1] == [second, first]
    assert [nb.id for nb in both] == [first]
    assert meta["total"] == 1 and meta["displayTotal"] == 1
    assert [nb.id for nb in page] == [second]
    request = fake_paperspace.requests_to("/notebooks/getNotebooks")[1]
    assert request.query["tagFilter[0]"] == ["run-1"]
    assert json.loads(request.query["filter"][0])["filter"]["where"] == {"dtDeleted": None}


def test_list_without_tags_is_broken_in_the_sdk(notebooks_client: Any) -> None:
    with pytest.raises(TypeError):
        notebooks_client.list()


def test_stop_is_a_post_and_ends_the_command(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    handle = create(notebooks_client)
    notebook = fake_paperspace.notebook(handle)
    wait_for_log(notebooks_client, handle, "is running at")

    notebooks_client.stop(handle)

    [request] = fake_paperspace.requests_to("stopNotebook")
    assert request.method == "POST" and request.body_json == {"notebookId": handle}
    assert notebook.wait_for_state("Stopped") == "Stopped"
    assert notebook.stop_reason == "api" and notebook.returncode == 0
    lines = log_lines(notebooks_client, handle)
    assert "received signal" in lines[-2] and lines[-1] == "PSEOF"
    assert notebooks_client.get(handle).dt_finished is not None


def test_stop_kills_a_command_that_ignores_sigterm(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    handle = create(notebooks_client, "trap '' TERM; echo ready; while :; do sleep 0.1; done")
    wait_for_log(notebooks_client, handle, "ready")

    started = time.monotonic()
    notebooks_client.stop(handle)
    assert fake_paperspace.notebook(handle).wait_for_state("Stopping", "Stopped") == "Stopping"

    assert fake_paperspace.notebook(handle).wait_for_state("Stopped") == "Stopped"
    assert 0.9 < time.monotonic() - started < 5  # stop_grace_s is 1 s in the fixture


def test_delete_is_a_post_and_then_the_notebook_is_gone(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    handle = create(notebooks_client)

    notebooks_client.delete(handle)

    [request] = fake_paperspace.requests_to("deleteNotebook")
    assert request.method == "POST" and request.body_json == {"notebookId": handle}
    error = gradient_sdk.api_sdk.sdk_exceptions.ResourceFetchingError
    with pytest.raises(error, match=re.escape(f"Failed to fetch data: {NOT_FOUND_MESSAGE}")):
        notebooks_client.get(handle)
    with pytest.raises(error, match=r"^Failed to delete resource: Not found"):
        notebooks_client.delete(handle)
    with pytest.raises(error, match=r"^Unable to stop instance: Not found"):
        notebooks_client.stop(handle)
    notebook = fake_paperspace.notebook(handle)
    assert notebook.deleted and notebook.wait_for_state("Stopped", "Error")


def test_logs_pagination_with_line_and_limit(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    handle = create(notebooks_client, "for i in 1 2 3 4 5; do echo line $i; done")
    fake_paperspace.notebook(handle).wait_for_state("Stopped")
    fake_paperspace.clear_requests()

    rows = notebooks_client.logs(handle, line=2, limit=2)

    assert [(row.line, row.message) for row in rows] == [(2, "line 2"), (3, "line 3")]
    get, logs = fake_paperspace.requests
    assert get.path == "/notebooks/getNotebook"
    assert (logs.server, logs.path) == ("logs", "/jobs/logs")
    job = fake_paperspace.notebook(handle).job_handle
    assert logs.raw_query == f"jobId={job}&notebookId={handle}&line=2&limit=2"
    everything = notebooks_client.logs(handle)
    assert [row.message for row in everything] == [f"line {i}" for i in range(1, 6)] + ["PSEOF"]
    assert everything[0].timestamp.endswith("Z")
    assert notebooks_client.logs(handle, line=7) == []


def test_yield_logs_is_broken_in_the_sdk(notebooks_client: Any) -> None:
    handle = create(notebooks_client, "true")
    with pytest.raises(TypeError, match="job_id"):
        list(notebooks_client.yield_logs(handle))


def test_get_metrics_over_tls(fake_paperspace: FakePaperspace, notebooks_client: Any) -> None:
    gpu = create(notebooks_client)
    cpu = create(notebooks_client, machine_type="C5")
    for handle in (gpu, cpu):
        fake_paperspace.notebook(handle).wait_for_state("Running")
    fake_paperspace.clear_requests()

    charts = notebooks_client.get_metrics(
        gpu, built_in_metrics=["gpuUtilization", "gpuMemoryUtilization"], interval="1m"
    )
    cpu_charts = notebooks_client.get_metrics(cpu, built_in_metrics=["gpuUtilization"])

    samples = charts["gpuUtilization"][gpu]
    assert samples and all(0 <= float(sample["value"]) <= 100 for sample in samples)
    assert isinstance(samples[0]["time_stamp"], int)
    assert cpu_charts == {"gpuUtilization": None}
    metrics_request = fake_paperspace.requests[1]
    assert (metrics_request.server, metrics_request.path) == ("metrics", "/metrics/api/v1/range")
    assert metrics_request.param("objecttype") == "notebook"
    assert metrics_request.param("charts") == "gpuUtilization,gpuMemoryUtilization"
    assert metrics_request.api_key == FAKE_API_KEY
    assert "gpuUtilization" in notebooks_client.list_metrics(gpu)

    fake_paperspace.metric_values["gpuUtilization"] = [3, 97.5]
    charts = notebooks_client.get_metrics(gpu, built_in_metrics=["gpuUtilization"])
    assert charts["gpuUtilization"][gpu][0]["value"] == "3"


def test_tags_list_add_and_remove(fake_paperspace: FakePaperspace, notebooks_client: Any) -> None:
    handle = create(notebooks_client)
    untagged = create(notebooks_client)

    notebooks_client.add_tags(handle, ["b", "a"])
    notebooks_client.add_tags(handle, ["c", "a"])
    notebooks_client.remove_tags(handle, ["b"])

    assert notebooks_client.list_tags([handle, untagged]) == [{handle: ["a", "c"]}]
    assert fake_paperspace.notebook(handle).tags == ["a", "c"]


def test_start_fork_artifacts_machine_types_and_clusters(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    handle = create(notebooks_client, "echo first run")
    notebook = fake_paperspace.notebook(handle)
    notebook.wait_for_state("Stopped")
    old_job = notebook.job_handle

    assert notebooks_client.start(handle, machine_type="A5000") == handle
    assert notebook.wait_for_state("Stopped") and notebook.job_handle != old_job
    assert notebook.spec.machine_type == "A5000"
    forked = notebooks_client.fork(handle, project_id="pr2")
    assert fake_paperspace.notebook(forked).spec.project_id == "pr2"
    assert notebooks_client.artifacts_list(handle) == []
    machines = gradient_sdk.MachineTypesClient(api_key=FAKE_API_KEY).list()
    assert {"A100", "C5", "A6000x2"} <= {machine.label for machine in machines}
    assert gradient_sdk.ClustersClient(api_key=FAKE_API_KEY).list() == []


def test_a_wrong_api_key_is_refused(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    fake_paperspace.api_key = "the-right-key"
    with pytest.raises(
        gradient_sdk.api_sdk.sdk_exceptions.ResourceFetchingError,
        match=r"^Failed to create resource: Invalid API token$",
    ):
        create(notebooks_client)


# --- running the command --------------------------------------------------------------------------


def test_start_up_goes_through_pending_and_provisioning(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    fake_paperspace.faults.start_delay_s = 0.4
    handle = create(notebooks_client)
    notebook = fake_paperspace.notebook(handle)

    assert notebooks_client.get(handle).state == "Pending"
    assert notebook.wait_for_state("Provisioning") == "Provisioning"
    assert notebooks_client.get(handle).dt_started is None
    assert notebook.wait_for_state("Running") == "Running"
    assert notebooks_client.get(handle).dt_started is not None


def test_command_runs_in_the_workspace_with_a_minimal_environment(
    fake_paperspace: FakePaperspace,
    notebooks_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "README.md").write_text("hello workspace\n")
    monkeypatch.setenv("PAPERSPACE_API_KEY", "server-secret")  # must not reach the notebook
    command = (
        "cat /notebooks/README.md; echo cwd=$PWD; echo dir=$GRT_FAKE_NOTEBOOKS_DIR; "
        "echo home=$HOME; echo key=${PAPERSPACE_API_KEY:-unset} pp=${PYTHONPATH:-unset}; "
        "echo mine=$MINE; echo oops >&2; exit 0"
    )
    handle = create(notebooks_client, command, workspace=str(workspace), environment={"MINE": "1"})
    notebook = fake_paperspace.notebook(handle)

    assert notebook.wait_for_state("Stopped", "Error") == "Stopped"

    scratch = notebook.scratch
    assert notebook.executed_command is not None
    assert f"cat {scratch}/README.md" in notebook.executed_command
    assert log_lines(notebooks_client, handle) == [
        "hello workspace",
        f"cwd={scratch}",
        f"dir={scratch}",
        f"home={notebook.home}",
        "key=unset pp=unset",
        "mine=1",
        "oops",
        "PSEOF",
    ]


def test_placeholder_is_replaced_only_where_it_is_the_whole_path() -> None:
    from tests.fakes.paperspace.sandbox import rewrite_command

    command = "cd /notebooks && ls /notebooks/x '/notebooks' /a/notebooks /notebooks2; /run.sh"
    assert rewrite_command(
        command, placeholder="/notebooks", scratch=Path("/s"), fake_bin=Path("/b")
    ) == ("cd /s && ls /s/x '/s' /a/notebooks /notebooks2; /b/run.sh")
    assert rewrite_command(
        "ls /notebooks", placeholder=None, scratch=Path("/s"), fake_bin=Path("/b")
    ) == ("ls /notebooks")


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_git_workspace_is_cloned_at_the_ref(
    fake_paperspace: FakePaperspace, notebooks_client: Any, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    (repo / "version.txt").write_text("one\n")
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "one", cwd=repo)
    first = _git("rev-parse", "HEAD", cwd=repo)
    (repo / "version.txt").write_text("two\n")
    _git("commit", "-q", "-am", "two", cwd=repo)

    at_commit = create(
        notebooks_client, "cat version.txt", workspace=f"file://{repo}", workspace_ref=first
    )
    at_branch = create(
        notebooks_client, "cat version.txt", workspace=str(repo), workspace_ref="main"
    )
    bad_ref = create(notebooks_client, "true", workspace=str(repo), workspace_ref="nope")
    remote = create(notebooks_client, "true", workspace="https://github.com/fake/repo.git")

    for handle in (at_commit, at_branch, bad_ref, remote):
        fake_paperspace.notebook(handle).wait_for_state("Stopped", "Error")
    assert log_lines(notebooks_client, at_commit) == ["one", "PSEOF"]
    assert log_lines(notebooks_client, at_branch) == ["two", "PSEOF"]
    for handle in (bad_ref, remote):
        notebook = notebooks_client.get(handle)
        assert notebook.state == "Error" and notebook.dt_started is None
        assert notebook.job_error.startswith("Error cloning workspace")


def test_exit_codes_and_jupyter_stop(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    failing = create(notebooks_client, "echo bad; exit 3")
    # what the harness does: Jupyter in the foreground, ended from the background when done
    harness = create(notebooks_client, "(sleep 0.3; echo done; jupyter lab stop) & exec /run.sh")

    assert fake_paperspace.notebook(failing).wait_for_state("Stopped", "Error") == "Error"
    assert notebooks_client.get(failing).job_error == "Notebook command exited with code 3"
    notebook = fake_paperspace.notebook(harness)
    assert notebook.wait_for_state("Stopped", "Error") == "Stopped"
    assert notebook.stop_reason is None and "done" in log_lines(notebooks_client, harness)


def test_shutdown_timeout_is_enforced(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    fake_paperspace.hour_s = 0.3  # applies to notebooks created afterwards
    handle = create(notebooks_client, shutdown_timeout=1)
    notebook = fake_paperspace.notebook(handle)

    assert notebook.wait_for_state("Stopped", timeout=5) == "Stopped"
    assert notebook.stop_reason == "shutdown_timeout"
    assert notebook.finished_at is not None and notebook.started_at is not None
    assert 0.25 < (notebook.finished_at - notebook.started_at).total_seconds() < 3


# --- fault knobs ----------------------------------------------------------------------------------


def test_out_of_capacity(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    fake_paperspace.faults.capacity_machines = {"A100"}
    error = gradient_sdk.api_sdk.sdk_exceptions.ResourceFetchingError

    with pytest.raises(error) as raised:
        create(notebooks_client, machine_type="A100")
    assert str(raised.value) == f"Failed to create resource: {CAPACITY_MESSAGE}"
    create(notebooks_client, machine_type="A4000")
    fake_paperspace.faults.capacity_machines.add("*")
    with pytest.raises(error, match="out of capacity"):
        create(notebooks_client, machine_type="A4000")
    assert len(fake_paperspace.notebooks) == 1


def test_running_notebook_limit(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    fake_paperspace.faults.running_limit = 1
    first = create(notebooks_client)

    with pytest.raises(
        gradient_sdk.api_sdk.sdk_exceptions.ResourceFetchingError, match="running notebook limit"
    ):
        create(notebooks_client)
    notebooks_client.stop(first)
    fake_paperspace.notebook(first).wait_for_state("Stopped")
    create(notebooks_client)


def test_5xx_bursts(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    error = gradient_sdk.api_sdk.sdk_exceptions.ResourceFetchingError
    handle = create(notebooks_client)
    fake_paperspace.faults.fail_next("getNotebook", 2)
    fake_paperspace.faults.fail_next("/jobs/logs", 1, status=503, body=b"Service Unavailable")

    for _ in range(2):
        with pytest.raises(error, match=r"^Failed to fetch data$"):
            notebooks_client.get(handle)
    with pytest.raises(error, match=r"^Failed to fetch data: Service Unavailable$"):
        notebooks_client.logs(handle)
    assert notebooks_client.get(handle).id == handle


def test_dropped_connections(fake_paperspace: FakePaperspace, notebooks_client: Any) -> None:
    handle = create(notebooks_client)
    fake_paperspace.notebook(handle).wait_for_state("Running")
    fake_paperspace.faults.drop_next("getNotebooks")
    fake_paperspace.faults.drop_next("/metrics/")

    with pytest.raises(requests.exceptions.ConnectionError):
        notebooks_client.list(tags=[])
    with pytest.raises(requests.exceptions.ConnectionError):
        notebooks_client.get_metrics(handle)
    assert len(notebooks_client.list(tags=[])) == 1


def test_lost_create_response(fake_paperspace: FakePaperspace, notebooks_client: Any) -> None:
    fake_paperspace.faults.lose_next_create()

    with pytest.raises(requests.exceptions.ConnectionError):
        create(notebooks_client, name="lost-one")

    [notebook] = notebooks_client.list(tags=[])
    assert notebook.name == "lost-one"
    assert fake_paperspace.notebook(notebook.id).wait_for_state("Running") == "Running"


def test_stuck_and_error_notebooks(fake_paperspace: FakePaperspace, notebooks_client: Any) -> None:
    fake_paperspace.faults.stuck_machines = {"A6000"}
    fake_paperspace.faults.error_machines = {"V100-32G": "Error pulling container: no space left"}
    stuck = create(notebooks_client, machine_type="A6000")
    broken = create(notebooks_client, machine_type="V100-32G")

    assert fake_paperspace.notebook(broken).wait_for_state("Stopped", "Error") == "Error"
    assert notebooks_client.get(broken).job_error == "Error pulling container: no space left"
    assert notebooks_client.get(broken).dt_started is None
    time.sleep(0.2)
    assert notebooks_client.get(stuck).state == "Provisioning"
    notebooks_client.stop(stuck)
    assert fake_paperspace.notebook(stuck).wait_for_state("Stopped") == "Stopped"


def test_replay_mode_prints_a_canned_log_without_a_process(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    fake_paperspace.faults.replay_log = "alpha\nbeta"
    plain = create(notebooks_client)
    fake_paperspace.faults.replay_log = lambda notebook: f"I am {notebook.name}"
    custom = create(notebooks_client, name="custom")

    for handle in (plain, custom):
        assert fake_paperspace.notebook(handle).wait_for_state("Stopped", "Error") == "Stopped"
        assert fake_paperspace.notebook(handle).executed_command is None
    assert log_lines(notebooks_client, plain) == ["alpha", "beta", "PSEOF"]
    assert log_lines(notebooks_client, custom) == ["I am custom", "PSEOF"]


def test_log_line_limit(fake_paperspace: FakePaperspace, notebooks_client: Any) -> None:
    fake_paperspace.faults.log_line_limit = 10
    handle = create(notebooks_client, "printf '%0500d\\n' 7")

    fake_paperspace.notebook(handle).wait_for_state("Stopped")
    assert log_lines(notebooks_client, handle) == ["0" * 10, "PSEOF"]


def test_faults_given_at_construction_and_reset(tmp_path: Path) -> None:
    faults = Faults(capacity_machines={"A100"}, running_limit=3)
    with FakePaperspace(faults=faults, workdir=tmp_path / "fake") as fake:
        assert fake.refusal("A100") == CAPACITY_MESSAGE
        fake.faults.fail_next("x")
        fake.reset()
        assert fake.refusal("A100") is None and fake.faults.rules == []
        assert fake.requests == [] and fake.notebooks == {}


def test_module_runs_as_a_demo_server() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.paperspace", "--port", "0", "--start-delay", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        exports = dict(
            process.stdout.readline().removeprefix("export ").strip().split("=", 1)
            for _ in range(3)
        )
        response = requests.get(
            exports["PAPERSPACE_CONFIG_HOST"] + "/notebooks/getNotebooks", timeout=5
        )
        assert response.json()["notebookList"] == []
        assert Path(exports["REQUESTS_CA_BUNDLE"]).is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
    assert process.returncode == 0


# --- PID 1, as on the platform ---------------------------------------------------------------------


def _needs_pid1(fake: FakePaperspace) -> None:
    if not fake.pid1:
        reason = "this machine cannot make PID namespaces (unshare needs root or user namespaces)"
        if os.environ.get("CI"):
            pytest.fail(reason + ": CI must test the fake's PID 1")
        pytest.skip(reason)


def test_the_command_is_pid_1_of_its_own_namespace_under_sh(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    _needs_pid1(fake_paperspace)
    command = "echo pid=$$; ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '; echo"
    handle = create(notebooks_client, command)
    notebook = fake_paperspace.notebook(handle)
    assert notebook.wait_for_state("Stopped", "Error") == "Stopped"
    lines = log_lines(notebooks_client, handle)
    assert lines[0] == "pid=1"
    assert int(lines[1]) <= 4  # a private /proc: the shell, ls, grep (and cat)
    assert lines[2].startswith("/bin/sh -c echo pid=$$")


def test_pid_1_ignores_a_sigterm_it_has_no_handler_for(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    """The issue's reproduction: a kill -TERM 1 from inside does nothing to a shell or a `sleep`
    that is PID 1; `docker stop`'s SIGTERM neither, so stop waits for the grace period."""
    _needs_pid1(fake_paperspace)
    handle = create(notebooks_client, '(sleep 0.3; kill -TERM 1) & exec sh -c "X=1 sleep 2"')
    notebook = fake_paperspace.notebook(handle)
    notebook.wait_for_state("Running")
    started = time.monotonic()
    assert notebook.wait_for_state("Stopped", "Error", timeout=10) == "Stopped"
    assert time.monotonic() - started > 1.5  # it ran its full 2 s
    handle = create(notebooks_client, "echo ready; exec sleep 30")
    wait_for_log(notebooks_client, handle, "ready")
    started = time.monotonic()
    notebooks_client.stop(handle)
    assert fake_paperspace.notebook(handle).wait_for_state("Stopped", timeout=10) == "Stopped"
    assert time.monotonic() - started > 0.9  # SIGTERM ignored: SIGKILL after stop_grace_s (1 s)


def test_everything_in_the_namespace_dies_with_pid_1(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    """Jupyter (the stand-in handles SIGTERM, as Jupyter does) ends on stop at once, and what
    the command left in the background dies with it."""
    _needs_pid1(fake_paperspace)
    token = f"{os.getpid()}.{time.monotonic_ns() % 10**6}"
    handle = create(notebooks_client, f"sleep {token} & exec jupyter lab --allow-root")
    wait_for_log(notebooks_client, handle, "is running at")
    assert len(with_argv(f"sleep\0{token}")) == 1
    started = time.monotonic()
    notebooks_client.stop(handle)
    assert fake_paperspace.notebook(handle).wait_for_state("Stopped", timeout=10) == "Stopped"
    assert time.monotonic() - started < 0.9  # Jupyter's SIGTERM handler: no SIGKILL needed
    assert with_argv(f"sleep\0{token}") == []


def test_the_plain_child_mode_on_request(tmp_path: Path) -> None:
    with FakePaperspace(pid1=False, workdir=tmp_path / "fake") as fake:
        assert not fake.pid1 and fake.pid1_prefix is None
        notebook = fake.spawn(NotebookSpec(machine_type="C5", command="echo $$ $BASH_VERSION"))
        assert notebook.wait_for_state("Stopped", "Error") == "Stopped"
        pid, version = notebook.log_text().split()
        assert int(pid) > 1 and version  # bash, as a child process
