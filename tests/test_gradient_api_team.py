"""The wrapper's calls about the team and the raw answers `grt doctor` reads: machine types,
projects, an unpaged list, log rows as they came; and a 401 is the key refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gradient_runtime_test.providers.gradient_api import (
    AuthenticationError,
    GradientApi,
    NotFoundError,
    classify,
    load_sdk,
)
from tests.conftest_paperspace import FAKE_API_KEY
from tests.fakes.paperspace import FakePaperspace, NotebookSpec

# The recorded LIST_OF_VM_MACHINE_TYPES shape (gradient-cli tests/example_responses.py), abridged:
# two clusters, V100 not available, P5000 in both, C4's GPU model "None".
RECORDED_VM_TYPES = {
    "92": [
        {"showDisabled": False, "isAvailable": True, "isPreemptible": False, "vmTypeId": 35, "capacityId": 21,
         "vmType": {"label": "C4", "kind": "cpu", "cpus": 4, "ram": "8589934592", "gpuModelId": 6, "gpuCount": 0,
                    "isPreemptible": False, "deploymentType": "cpu", "deploymentSize": "small", "id": 35,
                    "gpuModel": {"model": "None", "label": "None", "gpuGroupId": 3, "memInBytes": "0", "id": 6}},
         "clusters": [{"id": "clmtkpnm2", "name": "PS Notebooks", "type": "Kubernetes Processing Site"}]},
        {"showDisabled": False, "isAvailable": True, "vmType": {"label": "P5000", "kind": "gpu", "cpus": 8, "gpuCount": 1,
         "gpuModel": {"model": "passthrough", "label": "Quadro P5000", "memInBytes": "17179869184"}},
         "clusters": [{"id": "clmtkpnm2"}]},
        {"showDisabled": False, "isAvailable": False, "vmType": {"label": "V100", "kind": "gpu", "cpus": 8, "gpuCount": 1,
         "gpuModel": {"model": "passthrough", "label": "Tesla V100", "memInBytes": "17179869184"}},
         "clusters": [{"id": "clmtkpnm2"}]},
    ],
    "102": [
        {"isAvailable": True, "vmType": {"label": "A100", "kind": "gpu", "cpus": 12, "gpuCount": 1,
         "gpuModel": {"model": "passthrough", "label": "A100-SXM4-40GB", "memInBytes": "42949672960"}},
         "clusters": [{"id": "clg07azjl"}]},
        {"isAvailable": True, "vmType": {"label": "P5000", "kind": "gpu", "cpus": 8, "gpuCount": 1,
         "gpuModel": {"model": "passthrough", "label": "Quadro P5000", "memInBytes": "17179869184"}},
         "clusters": [{"id": "clg07azjl"}]},
    ],
}  # fmt: skip

pytestmark = pytest.mark.server


@pytest.fixture
def api(fake_paperspace: FakePaperspace, gradient_sdk: Any) -> GradientApi:
    return GradientApi(
        FAKE_API_KEY, config_host=fake_paperspace.url, log_host=fake_paperspace.log_url
    )


def test_machine_types_as_recorded(fake_paperspace: FakePaperspace, api: GradientApi) -> None:
    body = json.dumps(RECORDED_VM_TYPES).encode()
    fake_paperspace.faults.fail_next("getVmTypesByClusters", 2, status=200, body=body)

    every = api.machine_types()
    in_cluster = api.machine_types("clg07azjl")

    assert [(t.label, t.clusters) for t in every] == [
        ("A100", ("clg07azjl",)),
        ("C4", ("clmtkpnm2",)),
        ("P5000", ("clg07azjl", "clmtkpnm2")),
    ]  # V100 is not available: the SDK drops it
    assert (every[1].kind, every[1].cpus, every[1].gpu_count) == ("cpu", 4, 0)
    assert [t.label for t in in_cluster] == ["A100", "P5000"]
    requests = fake_paperspace.requests_to("getVmTypesByClusters")
    assert [r.raw_query for r in requests] == ["includePublicClusters=true"] * 2


def test_machine_types_of_the_fake(fake_paperspace: FakePaperspace, api: GradientApi) -> None:
    fake_paperspace.faults.offered_machines = {"C5", "A4000", "Z9"}
    fake_paperspace.faults.unavailable_machines = {"A4000"}
    assert [(t.label, t.kind) for t in api.machine_types()] == [("C5", "cpu"), ("Z9", "gpu")]


def test_a_project_is_found_or_not(fake_paperspace: FakePaperspace, api: GradientApi) -> None:
    fake_paperspace.projects = {"pr1abc": "Runtimes"}
    project = api.project("pr1abc")
    assert (project.id, project.name) == ("pr1abc", "Runtimes")
    with pytest.raises(NotFoundError, match=r"^get project: Project not found$"):
        api.project("pr2xyz")  # the SDK's words for an empty answer
    (request, _) = fake_paperspace.requests_to("/projects/")
    assert json.loads(request.param("filter") or "") == {"where": {"handle": "pr1abc"}}
    not_found = {"error": {"name": "ApplicationError", "status": 404, "message": "Not found."}}
    fake_paperspace.faults.fail_next("/projects/", status=404, body=json.dumps(not_found).encode())
    with pytest.raises(NotFoundError):
        api.project("pr1abc")


def test_an_unpaged_list_says_what_it_held_and_the_total(
    fake_paperspace: FakePaperspace, api: GradientApi
) -> None:
    for i in range(23):
        fake_paperspace.spawn(NotebookSpec(machine_type="C5", name=f"nb{i}"), start=False)
    answer = api.list_unpaged()
    assert (len(answer.notebooks), answer.total, answer.running_total) == (20, 23, 0)
    (request,) = fake_paperspace.requests_to("getNotebooks")
    assert json.loads(request.param("filter") or "")["filter"]["limit"] is None


def test_log_rows_come_as_sent(fake_paperspace: FakePaperspace, api: GradientApi) -> None:
    notebook = fake_paperspace.spawn(
        NotebookSpec(machine_type="C5", command="echo one; echo two; echo three")
    )
    notebook.wait_for_state("Stopped")
    fake_paperspace.faults.reverse_log_rows = True
    fake_paperspace.faults.duplicate_log_every = 2

    rows = api.log_rows(notebook.handle)

    assert [(r.line, r.message) for r in rows] == [
        (4, "PSEOF"),
        (4, "PSEOF"),
        (3, "three"),
        (2, "two"),
        (2, "two"),
        (1, "one"),
    ]  # reversed, every second row twice, the end marker kept
    assert all(r.timestamp and r.timestamp.endswith("Z") for r in rows)
    assert [r.line for r in api.log_rows(notebook.handle, 2, limit=1)] == [2, 2]


def test_a_401_is_the_key_refused_whatever_its_words() -> None:
    error = load_sdk().api_sdk.sdk_exceptions.ResourceFetchingError(
        "Failed to fetch data: Access is denied"
    )
    assert type(classify(error, "list notebooks")) is not AuthenticationError
    exchange = type("Exchange", (), {"status": 401, "retry_after_s": None})()
    refused = classify(error, "list notebooks", exchange=exchange)  # type: ignore[arg-type]
    assert type(refused) is AuthenticationError and refused.exit_code == 2
