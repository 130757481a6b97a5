"""The fake's endpoints, one function each, as the SDK 2.99.4 calls them (see the reference spec).

Decisions where the spec recorded nothing:
- ``getNotebooks`` with several ``tagFilter[i]`` returns notebooks carrying *all* of them.
- ``stopNotebook`` on a notebook that already ended answers 200 (nothing to do).
- ``startNotebook`` on an active notebook answers 400 "Notebook is already running".
- ``/jobs/logs`` answers 404 for a deleted notebook (read logs before deleting) and ``[]`` for a
  ``jobId`` that is not the notebook's current job.
- ``getNotebooks`` answers at most ``Faults.list_page_size`` notebooks when the request asks for
  no limit (the SDK's default) or a larger one; ``total`` counts them all.
- ``deleteNotebook`` is refused (400) while the notebook is in a ``Faults.refuse_delete_while``
  state (``Stopping`` by default).
- ``GET /projects/`` (``ProjectsClient.get``/``list``) answers ``{"data": [...], "meta":
  {"totalItems": n}}``: the SDK reads ``data`` (``get`` raises "Project not found" when it is
  empty). The projects are ``fake.projects`` (``None``: every project id exists); while it is
  set, a create in another project is refused (400 ``Project "<id>" not found``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import shapes
from .faults import NOT_FOUND_MESSAGE
from .runtime import END_OF_LOG, LogRow, NotebookSpec

if TYPE_CHECKING:
    from .server import FakePaperspace
    from .transport import RecordedRequest


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None  # JSON value; None (with raw None) is an empty body
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


def bad_request(message: str, status: int = 400, name: str = "Error") -> Response:
    return Response(status, shapes.error_body(message, status, name))


def not_found() -> Response:
    return Response(404, shapes.error_body(NOT_FOUND_MESSAGE, 404, "ApplicationError"))


def _body(request: RecordedRequest) -> dict[str, Any]:
    return request.body_json if isinstance(request.body_json, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _spec_from(body: dict[str, Any]) -> NotebookSpec | Response:
    machine = body.get("machineType")
    if not isinstance(machine, str) or not machine:
        return bad_request('"machineType" is required', 422, "ValidationError")
    command = body.get("command")
    if command is not None:
        try:
            command = base64.b64decode(str(command), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return bad_request('"command" must be base64-encoded UTF-8', 422, "ValidationError")
    environment = body.get("environment") or {}
    if not isinstance(environment, dict):
        return bad_request('"environment" must be an object', 422, "ValidationError")
    return NotebookSpec(
        machine_type=machine,
        name=_str(body.get("name")),
        container=_str(body.get("container")),
        container_id=_int(body.get("containerId")),
        project_id=_str(body.get("projectId")),
        cluster_id=_str(body.get("clusterId")),
        command=command,
        environment={str(key): str(value) for key, value in environment.items()},
        shutdown_timeout=_int(body.get("shutdownTimeout")),
        workspace=_str(body.get("workspace")),
        workspace_ref=_str(body.get("workspaceRef")),
        is_preemptible=body.get("isPreemptible") is True,
        is_public=body.get("isPublic") is True,
        body=body,
    )


def create_notebook(fake: FakePaperspace, request: RecordedRequest) -> Response:
    spec = _spec_from(_body(request))
    if isinstance(spec, Response):
        return spec
    refused = _refused_create(fake, spec)
    if refused is not None:
        return refused
    with fake.lock:
        refusal = fake.refusal(spec.machine_type)
        if refusal is not None:
            return bad_request(refusal)
        notebook = fake.spawn(spec)
    return Response(
        200,
        {
            "handle": notebook.handle,
            "notebookToken": None,
            "jobId": notebook.job_id,
            "isPublic": spec.is_public,
            "id": notebook.numeric_id,
            "container": spec.container,
        },
    )


def _refused_create(fake: FakePaperspace, spec: NotebookSpec) -> Response | None:
    """A create refused for what it asks (its project, its command's size), not for capacity."""
    limit = fake.faults.max_command_chars
    if limit is not None and len(spec.command or "") > limit:
        return bad_request(fake.faults.command_refusal_message)
    if fake.projects is not None and spec.project_id not in fake.projects:
        return bad_request(f'Project "{spec.project_id}" not found', 404, "ApplicationError")
    return None


def start_notebook(fake: FakePaperspace, request: RecordedRequest) -> Response:
    body = _body(request)
    notebook = fake.lookup(_str(body.get("notebookId")))
    if notebook is None:
        return not_found()
    machine = _str(body.get("machineType"))
    if not machine:
        return bad_request('"machineType" is required', 422, "ValidationError")
    with fake.lock:
        if notebook.active:
            return bad_request("Notebook is already running")
        refusal = fake.refusal(machine)
        if refusal is not None:
            return bad_request(refusal)
        spec = notebook.spec
        spec.machine_type = machine
        spec.cluster_id = _str(body.get("clusterId")) or spec.cluster_id
        spec.shutdown_timeout = _int(body.get("shutdownTimeout")) or spec.shutdown_timeout
        spec.is_preemptible = body.get("isPreemptible") is True
        fake.restart(notebook)
    return Response(
        200,
        {
            "handle": notebook.handle,
            "notebookToken": None,
            "jobId": notebook.job_id,
            "isPublic": spec.is_public,
            "id": notebook.numeric_id,
        },
    )


def fork_notebook(fake: FakePaperspace, request: RecordedRequest) -> Response:
    body = _body(request)
    source = fake.lookup(_str(body.get("notebookId")))
    if source is None:
        return not_found()
    old = source.spec
    spec = NotebookSpec(**{**old.__dict__, "project_id": _str(body.get("projectId"))})
    with fake.lock:
        notebook = fake.spawn(spec, start=False)
    return Response(
        200,
        {
            "handle": notebook.handle,
            "notebookToken": None,
            "jobId": notebook.job_id,
            "isPublic": spec.is_public,
            "id": notebook.numeric_id,
        },
    )


def get_notebook(fake: FakePaperspace, request: RecordedRequest) -> Response:
    notebook = fake.lookup(_str(_body(request).get("notebookId")))
    if notebook is None:
        return not_found()
    return Response(200, notebook.to_json(fake.metrics_address))


def list_notebooks(fake: FakePaperspace, request: RecordedRequest) -> Response:
    try:
        parsed = json.loads(request.param("filter") or "{}")
    except json.JSONDecodeError:
        return bad_request('"filter" must be JSON')
    query = parsed.get("filter", {}) if isinstance(parsed, dict) else {}
    query = query if isinstance(query, dict) else {}
    where = query.get("where")
    where = where if isinstance(where, dict) else {}
    tags = [
        values[0] for key, values in request.query.items() if re.fullmatch(r"tagFilter\[\d+\]", key)
    ]
    everyone = list(fake.notebooks.values())
    visible = [nb for nb in everyone if not ("dtDeleted" in where and nb.deleted)]
    matched = [nb for nb in visible if all(tag in nb.tags for tag in tags)]
    matched.sort(key=lambda nb: nb.job_id, reverse=True)
    offset = _int(query.get("offset")) or 0
    limit = _int(query.get("limit"))
    cap = fake.faults.list_page_size
    if cap is not None and (limit is None or limit > cap):
        limit = cap
    page = matched[offset : None if limit is None else offset + limit]
    running = [nb for nb in everyone if not nb.deleted and nb.state == "Running"]
    return Response(
        200,
        {
            "notebookList": [nb.to_json(fake.metrics_address) for nb in page],
            "total": len(matched),
            "displayTotal": len(matched),
            "runningTotal": len(running),
            "freeTierRunningTotal": sum(nb.spec.machine_type.startswith("Free-") for nb in running),
        },
    )


def stop_notebook(fake: FakePaperspace, request: RecordedRequest) -> Response:
    notebook = fake.lookup(_str(_body(request).get("notebookId")))
    if notebook is None:
        return not_found()
    if notebook.finished and fake.faults.stop_ended_message is not None:
        return bad_request(fake.faults.stop_ended_message)
    notebook.request_stop("api")
    return Response(200, notebook.to_json(fake.metrics_address))


def delete_notebook(fake: FakePaperspace, request: RecordedRequest) -> Response:
    notebook = fake.lookup(_str(_body(request).get("notebookId")))
    if notebook is None:
        return not_found()
    state = notebook.state
    if state in fake.faults.refuse_delete_while:
        return bad_request(fake.faults.delete_refusal_message.format(state=state.lower()))
    notebook.mark_deleted()
    return Response(204)


def list_artifacts(fake: FakePaperspace, request: RecordedRequest) -> Response:
    if fake.lookup(request.param("notebookId")) is None:
        return not_found()
    return Response(200, [])


def get_tags(fake: FakePaperspace, request: RecordedRequest) -> Response:
    if request.param("entity") != "notebook":
        return Response(200, {})
    result = {}
    for handle in request.query.get("entityIds", []):
        notebook = fake.lookup(handle)
        if notebook is not None and notebook.tags:
            result[handle] = shapes.tag_rows(notebook)
    return Response(200, result)


def update_tags(fake: FakePaperspace, request: RecordedRequest) -> Response:
    body = _body(request)
    tags = body.get("tags")
    if body.get("entity") != "notebook" or not isinstance(tags, list):
        return bad_request('"entity" must be "notebook" and "tags" a list', 422, "ValidationError")
    notebook = fake.lookup(_str(body.get("entityId")))
    if notebook is None:
        return not_found()
    notebook.tags = list(dict.fromkeys(str(tag) for tag in tags))
    return Response(200, shapes.tag_rows(notebook))


def machine_types(fake: FakePaperspace, request: RecordedRequest) -> Response:
    faults = fake.faults
    return Response(200, shapes.vm_types(faults.offered_machines, faults.unavailable_machines))


def projects(fake: FakePaperspace, request: RecordedRequest) -> Response:
    try:
        parsed = json.loads(request.param("filter") or "{}")
    except json.JSONDecodeError:
        return bad_request('"filter" must be JSON')
    where = parsed.get("where") if isinstance(parsed, dict) else None
    handle = where.get("handle") if isinstance(where, dict) else None
    known = fake.projects
    if known is None:
        known = {handle: f"Project {handle}"} if isinstance(handle, str) else {}
    rows = [
        shapes.project(project_id, name)
        for project_id, name in sorted(known.items())
        if handle is None or project_id == handle
    ]
    return Response(200, {"data": rows, "meta": {"totalItems": len(rows)}})


def clusters(fake: FakePaperspace, request: RecordedRequest) -> Response:
    return Response(200, [])


def job_logs(fake: FakePaperspace, request: RecordedRequest) -> Response:
    notebook = fake.lookup(request.param("notebookId"))
    if notebook is None:
        return not_found()
    try:
        line = int(request.param("line") or 1)
        limit = int(request.param("limit") or 10000)
    except ValueError:
        return bad_request('"line" and "limit" must be integers')
    job = request.param("jobId")
    if job is not None and job != notebook.job_handle:
        return Response(200, [])
    page = fake.faults.log_page_size
    rows = _delivered(notebook.rows(line, limit if page is None else min(limit, page)), fake)
    return Response(
        200,
        [
            {
                "jobId": notebook.job_handle,
                "line": row.line,
                "timestamp": row.timestamp,
                "message": row.message if row.message == END_OF_LOG else row.message + "\n",
            }
            for row in rows
        ],
    )


def _delivered(rows: list[LogRow], fake: FakePaperspace) -> list[LogRow]:
    """The rows as the log pipeline serves them: some twice, maybe in reverse order."""
    every = fake.faults.duplicate_log_every
    if every:
        rows = [copy for row in rows for copy in ([row, row] if row.line % every == 0 else [row])]
    return rows[::-1] if fake.faults.reverse_log_rows else rows


def metrics_range(fake: FakePaperspace, request: RecordedRequest) -> Response:
    notebook = fake.lookup(request.param("handle"))
    if notebook is None:
        return not_found()
    step = shapes.parse_interval(request.param("interval") or "30s")
    if step is None:
        return bad_request('"interval" must look like 30s, 1m, 1h')
    charts = [name for name in (request.param("charts") or "").split(",") if name]
    start, end = shapes.parse_time(request.param("start")), shapes.parse_time(request.param("end"))
    return Response(
        200,
        {
            "handle": notebook.handle,
            "object_type": "notebook",
            "charts": shapes.metrics_charts(
                notebook,
                charts=charts,
                start=start,
                end=end,
                step_s=step,
                overrides=fake.metric_values,
            ),
        },
    )


def metrics_list(fake: FakePaperspace, request: RecordedRequest) -> Response:
    notebook = fake.lookup(request.param("handle"))
    if notebook is None:
        return not_found()
    gpu = shapes.has_gpu(notebook.spec.machine_type)
    names = [name for name in shapes.CHART_NAMES if gpu or name not in shapes.GPU_CHARTS]
    return Response(200, {"chart_names": names})


Endpoint = Callable[["FakePaperspace", "RecordedRequest"], Response]

# (server, method, path) -> endpoint. Servers: "api" (CONFIG_HOST), "logs" (CONFIG_LOG_HOST),
# "metrics" (https://<metricsURL>).
ROUTES: dict[tuple[str, str, str], Endpoint] = {
    ("api", "POST", "/notebooks/v2/createNotebook"): create_notebook,
    ("api", "POST", "/notebooks/v2/startNotebook"): start_notebook,
    ("api", "POST", "/notebooks/v2/forkNotebook"): fork_notebook,
    ("api", "GET", "/notebooks/getNotebook"): get_notebook,
    ("api", "GET", "/notebooks/getNotebooks"): list_notebooks,
    ("api", "POST", "/notebooks/v2/stopNotebook"): stop_notebook,
    ("api", "POST", "/notebooks/v2/deleteNotebook"): delete_notebook,
    ("api", "GET", "/notebooks/artifactsList"): list_artifacts,
    ("api", "GET", "/entityTags/getTags"): get_tags,
    ("api", "PUT", "/entityTags/updateTags"): update_tags,
    ("api", "GET", "/vmTypes/getVmTypesByClusters"): machine_types,
    ("api", "GET", "/clusters/getClusters"): clusters,
    ("api", "GET", "/projects/"): projects,
    ("logs", "GET", "/jobs/logs"): job_logs,
    ("metrics", "GET", "/metrics/api/v1/range"): metrics_range,
    ("metrics", "GET", "/metrics/api/v1/list"): metrics_list,
}
