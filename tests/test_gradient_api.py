"""The typed wrapper over the SDK: error classification, adoption, logs, metrics, key hygiene."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

from gradient_runtime_test.errors import ProviderError
from gradient_runtime_test.providers.gradient_api import (
    METRIC_PEAKS,
    ApiError,
    AuthenticationError,
    CapacityError,
    GradientApi,
    GradientApiError,
    NotebookState,
    NotFoundError,
    RunningLimitError,
    TransientError,
    classify,
    load_sdk,
    parse_state,
)
from tests.conftest_paperspace import FAKE_API_KEY
from tests.fakes.paperspace import FakePaperspace

IMAGE = "paperspace/gradient-base:pt112-tf29-jax0317-py39-20230125"
CANARY = "canary-key-7f3b9c1e5d"


@pytest.fixture
def api(fake_paperspace: FakePaperspace, gradient_sdk: Any) -> GradientApi:
    # gradient_sdk restores the SDK's hosts afterwards; GradientApi sets them itself.
    return GradientApi(
        FAKE_API_KEY, config_host=fake_paperspace.url, log_host=fake_paperspace.log_url
    )


def create(api: GradientApi, name: str = "grt-nb", **options: Any) -> str:
    arguments: dict[str, Any] = {
        "name": name,
        "machine_type": "A4000",
        "container": IMAGE,
        "project_id": "pr1",
        "command": "exec jupyter lab --allow-root",
        **options,
    }
    created = api.create(**arguments)
    assert created.tag_error is None
    return created.id


# --- pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("Running", NotebookState.RUNNING),
        ("Stopped", NotebookState.STOPPED),
        ("Error", NotebookState.ERROR),
        ("Failed", NotebookState.ERROR),
        ("Pending", NotebookState.STARTING),
        ("Provisioning", NotebookState.STARTING),
        ("provisioned", NotebookState.STARTING),
        ("Starting", NotebookState.STARTING),
        ("Stopping", NotebookState.STOPPING),
        ("Cancelled", NotebookState.CANCELLED),
        ("Cancel", NotebookState.CANCELLED),
        ("Preempted", NotebookState.PREEMPTED),
        ("Hibernating", NotebookState.UNKNOWN),
        ("", NotebookState.UNKNOWN),
        (None, NotebookState.UNKNOWN),
    ],
)
def test_parse_state(raw: str | None, state: NotebookState) -> None:
    assert parse_state(raw) is state


def _fetching(message: str) -> Exception:
    error: Exception = load_sdk().api_sdk.sdk_exceptions.ResourceFetchingError(message)
    return error


@pytest.mark.parametrize(
    ("message", "targets_existing", "expected"),
    [
        (
            "Failed to create resource: We are currently out of capacity for the selected VM "
            "type. Try again in a few minutes, or select a different instance.",
            False,
            CapacityError,
        ),
        ("Failed to create resource: Team quota exceeded for A100", False, CapacityError),
        (
            "Failed to create resource: You have reached your running notebook limit (1).",
            False,
            RunningLimitError,
        ),
        ("Failed to create resource: Invalid API token", False, AuthenticationError),
        ("Failed to fetch data: No such API token", True, AuthenticationError),
        ("Failed to fetch data: Unauthorized", True, AuthenticationError),
        (
            "Failed to fetch data: Not found. Please contact support@paperspace.com for help.",
            True,
            NotFoundError,
        ),
        ("Failed to delete resource: Notebook does not exist", True, NotFoundError),
        ("Failed to create resource: Cluster null not found", False, ApiError),
        ("Failed to create resource", False, TransientError),
        ("Failed to fetch data", True, TransientError),
        ("Unable to stop instance", True, TransientError),
        ("Failed to fetch data: Service Unavailable", True, TransientError),
        ("Failed to fetch data: <html><body>502 Bad Gateway</body></html>", True, TransientError),
        ("Failed to create resource: templateId not found", False, ApiError),
        ("Failed to create resource: machineType is invalid", False, ApiError),
    ],
)
def test_classify_sdk_messages(
    message: str, targets_existing: bool, expected: type[GradientApiError]
) -> None:
    error = classify(_fetching(message), "do it", targets_existing=targets_existing)
    assert type(error) is expected
    assert error.message == f"do it: {message}" and error.operation == "do it"
    assert isinstance(error, ProviderError)
    assert error.retryable == (expected in (CapacityError, RunningLimitError, TransientError))


def test_classify_other_exceptions() -> None:
    sdk = load_sdk().api_sdk.sdk_exceptions
    refused = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None,  # type: ignore[arg-type]  # the pool is not needed to classify
            "/",
            urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        )
    )
    cases = [
        (refused, TransientError, False),
        (requests.exceptions.ConnectionError("Connection aborted"), TransientError, True),
        (requests.exceptions.ReadTimeout("slow"), TransientError, True),
        (requests.exceptions.SSLError("certificate verify failed"), ApiError, False),
        (requests.exceptions.MissingSchema("No scheme supplied"), ApiError, False),
        (sdk.ResourceCreatingError("'handle'"), ApiError, True),
        (sdk.ResourceCreatingDataError("bad"), ApiError, False),
        (sdk.GradientSdkError("Metrics API url not found"), ApiError, False),
        (KeyError("notebookList"), ApiError, False),
    ]
    for exc, expected, maybe_applied in cases:
        error = classify(exc, "create notebook", targets_existing=False)
        assert (type(error), error.maybe_applied) == (expected, maybe_applied), exc


def test_classify_scrubs_secrets() -> None:
    error = classify(_fetching(f"Failed to fetch data: bad key {CANARY}"), "get", secrets=[CANARY])
    assert CANARY not in str(error) and "***" in str(error)


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = (
        "import sys, gradient_runtime_test.providers.gradient_api; "
        "sys.exit('gradient' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_an_empty_api_key_is_refused() -> None:
    from gradient_runtime_test.errors import UsageError

    with pytest.raises(UsageError, match="no Paperspace API key"):
        GradientApi("")


# --- against the fake -------------------------------------------------------------------------


@pytest.mark.server
def test_create_tags_and_get(fake_paperspace: FakePaperspace, api: GradientApi) -> None:
    handle = create(
        api,
        workspace=None,
        environment={"A": "1"},
        shutdown_timeout_hours=2,
        tags=["grt", "grt-run-1"],
    )
    fake_paperspace.notebook(handle).wait_for_state("Running")

    info = api.get(handle)

    assert (info.id, info.name, info.state, info.raw_state) == (
        handle,
        "grt-nb",
        NotebookState.RUNNING,
        "Running",
    )
    assert info.tags == ("grt", "grt-run-1") and info.machine_type == "A4000"
    assert info.project_id == "pr1" and info.metrics_url == fake_paperspace.metrics_address
    assert info.created_at is not None and info.created_at.utcoffset() is not None
    assert info.url == f"https://{info.fqdn}/"
    body = fake_paperspace.requests_to("createNotebook")[0].body_json
    assert body["shutdownTimeout"] == 2 and body["environment"] == {"A": "1"}
    assert body["workspace"] == "none" and "workspaceRef" not in body
    assert body["isPreemptible"] is False and body["isPublic"] is False


@pytest.mark.server
def test_a_failed_tag_step_keeps_the_handle(
    fake_paperspace: FakePaperspace, api: GradientApi
) -> None:
    fake_paperspace.faults.fail_next("updateTags", status=503, body=b"Service Unavailable")

    created = api.create(
        name="n",
        machine_type="A4000",
        container=IMAGE,
        project_id="pr1",
        command="true",
        tags=["grt-run-1"],
    )

    assert created.id in fake_paperspace.notebooks
    assert isinstance(created.tag_error, TransientError)
    api.add_tags(created.id, ["grt-run-1"])
    assert [nb.id for nb in api.list_by_tag("grt-run-1")] == [created.id]


@pytest.mark.server
@pytest.mark.parametrize(
    ("arm", "expected"),
    [
        (lambda fake: fake.faults.capacity_machines.add("A4000"), CapacityError),
        (lambda fake: setattr(fake.faults, "running_limit", 0), RunningLimitError),
        (lambda fake: fake.faults.fail_next("createNotebook"), TransientError),
        (lambda fake: fake.faults.drop_next("createNotebook"), TransientError),
        (lambda fake: setattr(fake, "api_key", "another-key"), AuthenticationError),
        (
            lambda fake: fake.faults.fail_next(
                "createNotebook",
                status=404,
                body=json.dumps({"error": {"message": "Cluster null not found"}}).encode(),
            ),
            ApiError,
        ),
    ],
)
def test_create_errors_are_classified(
    fake_paperspace: FakePaperspace, api: GradientApi, arm: Any, expected: type
) -> None:
    arm(fake_paperspace)
    with pytest.raises(GradientApiError) as raised:
        create(api)
    assert type(raised.value) is expected
    assert raised.value.__cause__ is None and raised.value.__context__ is None


@pytest.mark.server
def test_calls_on_a_missing_notebook_raise_not_found(api: GradientApi) -> None:
    for call in (api.get, api.stop, api.delete, api.logs):
        with pytest.raises(NotFoundError):
            call("nmissing01")
    api.delete("nmissing01", missing_ok=True)


@pytest.mark.server
def test_connection_refused_is_transient_and_not_applied(
    api: GradientApi, gradient_sdk: Any
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    broken = GradientApi(FAKE_API_KEY, config_host=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError) as raised:
        create(broken)
    assert raised.value.maybe_applied is False


@pytest.mark.server
def test_lost_create_is_adopted_by_name(fake_paperspace: FakePaperspace, api: GradientApi) -> None:
    create(api, name="someone-else")
    fake_paperspace.faults.lose_next_create()

    with pytest.raises(TransientError) as raised:
        create(api, name="grt-run-1-A4000")
    assert raised.value.maybe_applied

    adopted = api.find_by_name("grt-run-1-A4000", "pr1")
    assert adopted is not None and adopted.name == "grt-run-1-A4000"
    assert fake_paperspace.notebook(adopted.id).spec.machine_type == "A4000"
    assert api.find_by_name("grt-run-1-A4000", "another-project") is None
    assert api.find_by_name("never-created", None) is None


@pytest.mark.server
def test_list_by_tag_is_one_request_and_checks_the_tag(
    fake_paperspace: FakePaperspace, api: GradientApi
) -> None:
    mine = [create(api, tags=["grt-run-7"]) for _ in range(3)]
    create(api, tags=["grt-run-8"])
    fake_paperspace.clear_requests()

    found = api.list_by_tag("grt-run-7")

    assert sorted(nb.id for nb in found) == sorted(mine)
    [request] = fake_paperspace.requests
    assert request.path == "/notebooks/getNotebooks"
    assert request.query["tagFilter[0]"] == ["grt-run-7"]


@pytest.mark.server
def test_logs_are_read_incrementally(fake_paperspace: FakePaperspace, api: GradientApi) -> None:
    handle = create(api, command="for i in $(seq 1 7); do echo row $i; done")
    fake_paperspace.notebook(handle).wait_for_state("Stopped")

    first = api.logs(handle, 1, limit=3)
    second = api.logs(handle, first.next_line, limit=3)
    third = api.logs(handle, second.next_line, limit=3)
    again = api.logs(handle, third.next_line)

    assert first.lines == ((1, "row 1"), (2, "row 2"), (3, "row 3"))
    assert (first.next_line, first.ended) == (4, False)
    assert [text for _, text in second.lines] == ["row 4", "row 5", "row 6"]
    assert third.lines == ((7, "row 7"),) and third.ended and third.next_line == 8
    assert again.lines == () and again.ended and again.next_line == 8


@pytest.mark.server
def test_logs_of_a_running_notebook_have_not_ended(
    fake_paperspace: FakePaperspace, api: GradientApi
) -> None:
    handle = create(api, command="echo hi; exec jupyter lab")
    fake_paperspace.notebook(handle).wait_for_state("Running")
    page = api.logs(handle)
    assert not page.ended
    api.stop(handle)
    fake_paperspace.notebook(handle).wait_for_state("Stopped")
    assert api.get(handle).state is NotebookState.STOPPED
    assert api.logs(handle, page.next_line).ended


@pytest.mark.server
def test_metrics_peaks_and_failures(fake_paperspace: FakePaperspace, api: GradientApi) -> None:
    gpu = create(api)
    cpu = create(api, machine_type="C5")
    for handle in (gpu, cpu):
        fake_paperspace.notebook(handle).wait_for_state("Running")
    fake_paperspace.metric_values.update(gpuUtilization=[12, 88.5, 40], gpuMemoryUtilization=[30])

    assert api.metrics(gpu) == {
        METRIC_PEAKS["gpuUtilization"]: 88.5,
        METRIC_PEAKS["gpuMemoryUtilization"]: 30.0,
    }
    assert api.metrics(cpu) == {}
    fake_paperspace.faults.drop_next("/metrics/")
    assert api.metrics(gpu) == {}
    fake_paperspace.faults.fail_next("getNotebook", status=400)
    assert api.metrics(gpu) == {}
    assert api.metrics("nmissing01") == {}


@pytest.mark.server
def test_the_api_key_only_travels_in_the_api_key_header(
    fake_paperspace: FakePaperspace,
    gradient_sdk: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    fake_paperspace.api_key = CANARY
    api = GradientApi(CANARY, config_host=fake_paperspace.url, log_host=fake_paperspace.log_url)
    assert CANARY not in repr(api)
    handle = create(api, tags=["grt-run-9"])
    fake_paperspace.notebook(handle).wait_for_state("Running")
    api.get(handle)
    api.list_by_tag("grt-run-9")
    api.find_by_name("grt-nb", "pr1")
    api.logs(handle)
    api.metrics(handle)
    fake_paperspace.faults.fail_next("getNotebook", body=f'{{"message": "bad {CANARY}"}}'.encode())
    fake_paperspace.faults.drop_next("stopNotebook")
    errors = []
    for call in (api.get, api.stop):
        with pytest.raises(GradientApiError) as raised:
            call(handle)
        errors.append(raised.value)
    api.stop(handle)
    fake_paperspace.notebook(handle).wait_for_state("Stopped")  # a stopping one is not deleted
    api.delete(handle)

    requests_seen = fake_paperspace.requests
    assert {request.server for request in requests_seen} == {"api", "logs", "metrics"}
    for request in requests_seen:
        assert request.api_key == CANARY
        others = [f"{key}: {value}" for key, value in request.headers if key.lower() != "x-api-key"]
        exposed = [request.path, request.raw_query, request.body.decode(), *others]
        assert not any(CANARY in text for text in exposed), request
    for error in errors:
        assert CANARY not in str(error) and CANARY not in repr(error.args)
        assert error.__context__ is None and error.__cause__ is None
    assert CANARY not in caplog.text


@pytest.mark.server
def test_the_workspace_reaches_the_command(
    fake_paperspace: FakePaperspace, api: GradientApi, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "hello.txt").write_text("from the workspace\n")

    handle = create(api, command="cat /notebooks/hello.txt", workspace=str(workspace))

    fake_paperspace.notebook(handle).wait_for_state("Stopped", "Error")
    assert api.get(handle).state is NotebookState.STOPPED
    assert api.logs(handle).lines == ((1, "from the workspace"),)


@pytest.mark.server
@pytest.mark.parametrize("wording", ["Notebook does not exist", "Notebook not found"])
def test_stopping_a_notebook_that_is_gone_is_not_an_error(
    fake_paperspace: FakePaperspace, api: GradientApi, wording: str
) -> None:
    from gradient_runtime_test.providers.base import Handle
    from gradient_runtime_test.providers.gradient import GradientProvider
    from gradient_runtime_test.providers.retrying import RetryPolicy
    from gradient_runtime_test.settings import PaperspaceSettings
    from tests.fakes.paperspace import shapes

    provider = GradientProvider(
        PaperspaceSettings(api_key=FAKE_API_KEY), api=api, retry=RetryPolicy(attempts=1)
    )
    body = json.dumps(shapes.error_body(wording, 404, "ApplicationError")).encode()
    fake_paperspace.faults.fail_next("/notebooks/v2/stopNotebook", status=404, body=body)
    provider.stop(Handle(notebook_id="ngone0001", name="grt: gone"))  # no error
    assert fake_paperspace.requests_to("stopNotebook")
