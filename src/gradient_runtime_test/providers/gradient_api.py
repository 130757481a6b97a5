"""A thin, typed wrapper over the ``gradient`` SDK's ``NotebooksClient`` (2.99.4), plus the two
calls about the team that ``grt doctor`` makes: ``MachineTypesClient.list`` (the machine types
offered and available now) and ``ProjectsClient.get``.

The SDK is imported lazily (it costs ~2 s and a process-wide ``distutils`` patch), inside
:class:`GradientApi`'s constructor, with its import-time ``DeprecationWarning``\\ s silenced.

Errors. The SDK raises ``ResourceFetchingError("<prefix>: <server text>")`` for every HTTP error,
with no status code, so errors are classified by their text (first match wins):

==================  =========================================================================
class               when
==================  =========================================================================
RunningLimitError   "running notebook limit", "notebook limit", "limit of N running",
                    "maximum number of running|concurrent", "too many running"
CapacityError       "out of capacity" (the real text), "no capacity", "insufficient capacity",
                    "capacity unavailable", "quota"
AuthenticationError "Invalid API token", "No such API token" (both recorded), "unauthorized",
                    "forbidden"; any status 401
RateLimitError      status 429 (``retry_after_s`` from its ``Retry-After``)
TransientError      ``requests`` connection errors, timeouts, broken bodies; a 5xx status (503:
                    with ``retry_after_s``); text such as "internal server error", "bad
                    gateway", "service unavailable", "gateway timeout", "try again later", an
                    HTML page; a bare prefix with no server text (what an empty 5xx body gives)
NotFoundError       "not found", "no such notebook", "does not exist", "already deleted", but
                    only for calls about an existing notebook: on create, "Cluster null not
                    found" is a configuration problem (ApiError)
ApiError            anything else: other 4xx texts, TLS verification failures, bad URLs (a
                    host without ``http://``), a 2xx create without a handle, malformed
                    bodies, other SDK errors (``GradientSdkError``)
==================  =========================================================================

The status and ``Retry-After`` come from :mod:`.gradient_http`, which also gives every SDK request
a connect and a read timeout (the SDK itself has neither, nor a way to pass them).

``maybe_applied`` is true when the request may have taken effect although it failed (the server
was reached but the answer was lost or was a 5xx; a 2xx create without a handle). After such a
``create``, look the notebook up with :meth:`GradientApi.find_by_name` before creating again.

The API key only ever travels in the SDK's ``X-API-Key`` header: it is never logged, never put in
an exception (any text that would contain it is scrubbed), and exceptions never chain the SDK's
exception (whose ``request`` holds the headers).

Hosts. ``config_host``/``log_host`` set the SDK's process-wide ``config.CONFIG_HOST`` and
``CONFIG_LOG_HOST`` (the SDK reads its environment only when imported). The metrics host is
``https://<notebook.metricsURL>``; the SDK never passes ``verify=``, so TLS trust comes from
``requests``' own environment (``REQUESTS_CA_BUNDLE``), set by whoever starts the process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import logging
import math
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ..errors import ProviderError, UsageError
from . import gradient_http
from .gradient_http import Exchange, Timeouts

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

END_OF_LOG = "PSEOF"  # the logs API's last row once a job has ended
DEFAULT_LOG_LIMIT = 10000
LIST_PAGE = 20  # notebooks per list request (the gradient CLI's page; the API may cap lower)
LIST_MAX_PAGES = 500  # a bound on paging through a list
DEFAULT_TIMEOUTS = Timeouts()
# SDK chart name -> key in the metrics dict returned by GradientApi.metrics
METRIC_PEAKS: Mapping[str, str] = {
    "gpuUtilization": "gpu_utilization_max_pct",
    "gpuMemoryUtilization": "gpu_memory_utilization_max_pct",
}


# --- states --------------------------------------------------------------------------------------


class NotebookState(enum.StrEnum):
    """A notebook's state, reduced to what the orchestrator acts on."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"  # ended normally
    CANCELLED = "cancelled"  # ended by a cancellation (Cancel, Cancelled)
    ERROR = "error"  # Error, Failed
    PREEMPTED = "preempted"  # the platform took the machine back
    UNKNOWN = "unknown"  # a state this code does not know

    @property
    def ended(self) -> bool:
        return self in _ENDED


_ENDED = frozenset(
    {NotebookState.STOPPED, NotebookState.CANCELLED, NotebookState.ERROR, NotebookState.PREEMPTED}
)

# The platform's notebook states (Paperspace API v1: Cancel, Cancelled, Error, Failed, Pending,
# Preempted, Provisioned, Running, Stopped; notebook responses recorded Running, Stopped and
# Error) and the job and deployment states the SDK knows (Provisioning, Starting, Stopping, ...).
_STATES: Mapping[str, NotebookState] = {
    "pending": NotebookState.STARTING,
    "queued": NotebookState.STARTING,
    "provisioning": NotebookState.STARTING,
    "provisioned": NotebookState.STARTING,
    "network setup": NotebookState.STARTING,
    "starting": NotebookState.STARTING,
    "running": NotebookState.RUNNING,
    "ready": NotebookState.RUNNING,
    "stopping": NotebookState.STOPPING,
    "teardown": NotebookState.STOPPING,
    "cancelling": NotebookState.STOPPING,
    "stopped": NotebookState.STOPPED,
    "cancel": NotebookState.CANCELLED,
    "cancelled": NotebookState.CANCELLED,
    "canceled": NotebookState.CANCELLED,
    "error": NotebookState.ERROR,
    "failed": NotebookState.ERROR,
    "preempted": NotebookState.PREEMPTED,
}


def parse_state(raw: str | None) -> NotebookState:
    """Map the API's ``state`` string (any case) to a :class:`NotebookState`."""
    if not raw:
        return NotebookState.UNKNOWN
    return _STATES.get(raw.strip().lower(), NotebookState.UNKNOWN)


# --- errors --------------------------------------------------------------------------------------


class GradientApiError(ProviderError):
    """A Gradient API call failed. ``operation`` names the call, e.g. ``"create notebook"``."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        maybe_applied: bool = False,
        tip: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, tip=tip)
        self.operation = operation
        self.maybe_applied = maybe_applied
        self.status = status  # the HTTP status, when an answer came
        self.retry_after_s = retry_after_s  # the answer's Retry-After, in seconds


class CapacityError(GradientApiError):
    """The platform has no capacity (or quota) for this machine type now."""

    retryable = True


class RunningLimitError(GradientApiError):
    """The team already runs as many notebooks as its plan allows."""

    retryable = True


class NotFoundError(GradientApiError):
    """The notebook does not exist (or was deleted)."""


class TransientError(GradientApiError):
    """A 5xx, a dropped connection or a timeout: worth retrying (with bounded back-off)."""

    retryable = True


class RateLimitError(TransientError):
    """429 Too Many Requests: retry after ``retry_after_s`` (when the answer said), else back off."""


class ApiError(GradientApiError):
    """The API refused the request; repeating it will not help."""


class AuthenticationError(ApiError):
    """The API key was refused."""

    exit_code = 2


_RUNNING_LIMIT = re.compile(
    r"running notebook limit|notebook limit|limit of \d+ running|"
    r"maximum number of (running|concurrent)|too many running",
    re.IGNORECASE,
)
_CAPACITY = re.compile(
    r"out of capacity|no capacity|insufficient capacity|capacity (is )?(currently )?unavailable|"
    r"quota",
    re.IGNORECASE,
)
_AUTH = re.compile(r"invalid api token|no such api token|unauthori[sz]ed|forbidden", re.IGNORECASE)
_NOT_FOUND = re.compile(r"not found|no such notebook|does not exist|already deleted", re.IGNORECASE)
_TRANSIENT = re.compile(
    r"internal server error|bad gateway|service unavailable|gateway time-?out|"
    r"temporarily unavailable|try again later|<html|<!doctype",
    re.IGNORECASE,
)
# What ResourceFetchingError says when the error body had no recognisable text.
_BARE_PREFIXES = frozenset(
    {
        "Failed to fetch data",
        "Failed to create resource",
        "Unable to stop instance",
        "Failed to delete resource",
        "Failed to fork notebook",
    }
)
_TIPS: Mapping[type[GradientApiError], str] = {
    CapacityError: "try again later, or choose another machine type",
    RunningLimitError: "stop a running notebook, or lower --max-parallel",
    AuthenticationError: "check the Paperspace API key (PAPERSPACE_API_KEY)",
    TransientError: "the platform had a hiccup; retrying may help",
    RateLimitError: "the API asked to slow down; retrying later helps",
}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _connection_never_made(exc: BaseException) -> bool:
    import requests
    import urllib3

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _transient_request_errors(requests: Any) -> tuple[type[BaseException], ...]:
    exceptions = requests.exceptions
    return (
        exceptions.ConnectionError,  # refused, reset, dropped; SSLError is handled before
        exceptions.Timeout,
        exceptions.ChunkedEncodingError,
        exceptions.ContentDecodingError,
    )


def classify(
    exc: BaseException,
    operation: str,
    *,
    targets_existing: bool = True,
    secrets: Iterable[str] = (),
    exchange: Exchange | None = None,
) -> GradientApiError:
    """The :class:`GradientApiError` for an exception raised by an SDK call (see module doc);
    ``exchange`` is what :mod:`.gradient_http` saw of the failed request's answer."""
    import requests

    status = exchange.status if exchange is not None else None
    retry_after = exchange.retry_after_s if exchange is not None else None
    sdk_exceptions = load_sdk().api_sdk.sdk_exceptions
    text = scrub(str(exc), secrets) or type(exc).__name__
    error_type: type[GradientApiError] = ApiError
    maybe_applied = False
    if isinstance(exc, requests.exceptions.SSLError):
        text = f"TLS verification failed: {text}"
    elif isinstance(exc, _transient_request_errors(requests)):
        error_type = TransientError
        maybe_applied = not _connection_never_made(exc)
        text = f"{type(exc).__name__}: {text}"
    elif isinstance(exc, requests.exceptions.RequestException):  # e.g. a host without scheme
        text = f"invalid request ({type(exc).__name__}): {text}"
    elif isinstance(exc, sdk_exceptions.ResourceCreatingDataError):  # our values, not sent
        text = f"invalid request: {text}"
    elif isinstance(exc, sdk_exceptions.ResourceCreatingError):  # a 2xx create without handle
        maybe_applied = True
        text = f"unexpected response (no notebook handle): {text}"
    elif isinstance(exc, sdk_exceptions.ResourceFetchingError):
        error_type = _classify_text(text, targets_existing=targets_existing, status=status)
        maybe_applied = error_type is TransientError
        if status is not None and error_type in (TransientError, RateLimitError):
            text = f"{text} (HTTP {status})"
    elif not isinstance(exc, sdk_exceptions.GradientSdkError):
        text = f"unexpected response ({type(exc).__name__}): {text}"
    return error_type(
        f"{operation}: {text}",
        operation=operation,
        maybe_applied=maybe_applied,
        tip=_TIPS.get(error_type, ""),
        status=status,
        retry_after_s=retry_after if status in (429, 503) else None,
    )


def _classify_text(
    text: str, *, targets_existing: bool, status: int | None = None
) -> type[GradientApiError]:
    if _RUNNING_LIMIT.search(text):
        return RunningLimitError
    if _CAPACITY.search(text):
        return CapacityError
    if _AUTH.search(text) or status == 401:
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status is not None and status >= 500:
        return TransientError
    if targets_existing and _NOT_FOUND.search(text):
        return NotFoundError
    if _TRANSIENT.search(text) or text.strip() in _BARE_PREFIXES:
        return TransientError
    return ApiError


# --- records -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NotebookInfo:
    """What the API says about one notebook."""

    id: str
    name: str | None
    state: NotebookState
    raw_state: str | None
    machine_type: str | None
    created_at: dt.datetime | None  # aware, UTC
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    tags: tuple[str, ...]
    project_id: str | None
    fqdn: str | None
    url: str | None  # https://<fqdn>/
    metrics_url: str | None  # host[:port], no scheme
    job_error: str | None


@dataclasses.dataclass(frozen=True)
class Created:
    """A created notebook. ``tag_error`` is set when it exists but tagging it failed: the caller
    still owns it (stop and delete it), and may retry with :meth:`GradientApi.add_tags`."""

    id: str
    tag_error: GradientApiError | None = None


@dataclasses.dataclass(frozen=True)
class LogPage:
    """Log rows from ``start_line`` on: ``lines`` as ``(line number, text)``; ask for
    ``next_line`` next time. ``ended`` is true once the end-of-log row has been seen (the job has
    ended and every line was delivered); it is not counted in ``next_line``."""

    lines: tuple[tuple[int, str], ...]
    next_line: int
    ended: bool


@dataclasses.dataclass(frozen=True)
class MachineType:
    """A machine type the team is offered and that is available now (the SDK's machine types
    list drops the others: the two cannot be told apart through it)."""

    label: str
    kind: str | None
    cpus: int | None
    gpu_count: int | None
    clusters: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Project:
    id: str
    name: str | None


@dataclasses.dataclass(frozen=True)
class ListAnswer:
    """One list request as the API answered it: the notebooks it held, and the totals it
    announced (``None`` when absent)."""

    notebooks: tuple[NotebookInfo, ...]
    total: int | None
    running_total: int | None


@dataclasses.dataclass(frozen=True)
class RawLogRow:
    """A log row exactly as the logs API sent it, in the answer's order (``line`` is ``None``
    when it was not a number)."""

    line: int | None
    message: str
    timestamp: str | None


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def notebook_info(notebook: Any) -> NotebookInfo:
    """A :class:`NotebookInfo` from the SDK's ``Notebook`` model."""
    fqdn = _text(getattr(notebook, "fqdn", None))
    raw_state = _text(getattr(notebook, "state", None))
    return NotebookInfo(
        id=str(notebook.id),
        name=_text(getattr(notebook, "name", None)),
        state=parse_state(raw_state),
        raw_state=raw_state,
        machine_type=_text(getattr(notebook, "vm_type", None))
        or _text(getattr(notebook, "machine_type", None))
        or _text(getattr(notebook, "vm_type_label", None)),
        created_at=_utc(getattr(notebook, "dt_created", None)),
        started_at=_utc(getattr(notebook, "dt_started", None)),
        finished_at=_utc(getattr(notebook, "dt_finished", None)),
        tags=tuple(tag for tag in getattr(notebook, "tags", None) or () if isinstance(tag, str)),
        project_id=_text(getattr(notebook, "project_handle", None))
        or _text(getattr(notebook, "project_id", None)),
        fqdn=fqdn,
        url=f"https://{fqdn}/" if fqdn else None,
        metrics_url=_text(getattr(notebook, "metrics_url", None)),
        job_error=_text(getattr(notebook, "job_error", None)),
    )


def _peak(series: Any) -> float | None:
    """The largest finite value in ``{pod: [{"time_stamp", "value"}, ...]}``."""
    if not isinstance(series, Mapping):
        return None
    peak: float | None = None
    for samples in series.values():
        for sample in samples if isinstance(samples, list) else ():
            try:
                value = float(sample["value"])
            except (TypeError, KeyError, ValueError):
                continue
            if math.isfinite(value) and (peak is None or value > peak):
                peak = value
    return peak


# --- the client ----------------------------------------------------------------------------------


def load_sdk() -> Any:
    """Import ``gradient``, silencing the ``DeprecationWarning``\\ s its import emits: its own, one
    from marshmallow and, on Python 3.12+, one from pymongo's ``bson`` (``utcfromtimestamp``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="gradient-cli v2 is deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings(
            "ignore",
            message="distutils Version classes are deprecated",
            category=DeprecationWarning,
        )
        warnings.filterwarnings(
            "ignore",
            message=r"datetime\.datetime\.utcfromtimestamp\(\) is deprecated",
            category=DeprecationWarning,
            module="bson",
        )
        import gradient
    return gradient


class GradientApi:
    """Notebook calls of the Gradient API, with typed results and classified errors.

    Every method raises a :class:`GradientApiError` subclass on failure (except :meth:`metrics`,
    which is best effort). Calls are not retried here; ``retryable`` tells the caller which are
    worth retrying. Every request has a connect and a read timeout (``timeouts``). The SDK is
    thread-safe enough for concurrent calls (one ``requests`` call each, no shared session).
    """

    def __init__(
        self,
        api_key: str,
        *,
        config_host: str | None = None,
        log_host: str | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not api_key:
            # The SDK would silently fall back to PAPERSPACE_API_KEY or ~/.paperspace/config.json.
            raise UsageError("no Paperspace API key", tip="set PAPERSPACE_API_KEY (a team API key)")
        gradient = load_sdk()
        gradient_http.install()
        config = gradient.api_sdk.config.config
        if config_host:
            config.CONFIG_HOST = config_host.rstrip("/")
        if log_host:
            config.CONFIG_LOG_HOST = log_host.rstrip("/")
        self._hosts = (config.CONFIG_HOST, config.CONFIG_LOG_HOST)
        self._secret = api_key
        self.timeouts = timeouts
        self._clock = clock
        self._last_answer = clock()  # when the API last answered anything (or when we began)
        # The SDK's default logger is a MuteLogger: its debug lines (headers included) go nowhere.
        self._client = gradient.NotebooksClient(api_key=api_key)
        self._machine_types = gradient.MachineTypesClient(api_key=api_key)
        self._projects = gradient.ProjectsClient(api_key=api_key)

    def __repr__(self) -> str:
        return f"GradientApi(config_host={self._hosts[0]!r}, log_host={self._hosts[1]!r})"

    def silent_for(self) -> float:
        """Seconds since the API last answered any request (since this object was made, if it
        never has)."""
        return max(0.0, self._clock() - self._last_answer)

    def _heard(self) -> None:
        self._last_answer = self._clock()

    def _call(self, operation: str, call: Callable[[], _T], *, targets_existing: bool = True) -> _T:
        exchange = Exchange()
        try:
            with gradient_http.scope(self.timeouts, exchange, self._heard):
                return call()
        except Exception as exc:  # every SDK failure is classified below
            error = classify(
                exc,
                operation,
                targets_existing=targets_existing,
                secrets=(self._secret,),
                exchange=exchange,
            )
        # Raised outside the except block: no __context__ pointing at the SDK's exception.
        raise error

    # --- notebooks -------------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        machine_type: str,
        container: str,
        project_id: str,
        command: str,
        cluster_id: str | None = None,
        workspace: str | None = None,
        workspace_ref: str | None = None,
        environment: Mapping[str, str] | None = None,
        shutdown_timeout_hours: int | None = None,
        tags: Sequence[str] = (),
    ) -> Created:
        """Create (and start) a notebook; then tag it, as the SDK does, in separate requests.

        Like the ``gradient`` CLI (unlike the bare SDK), it always sends ``isPreemptible: false``,
        ``isPublic: false``, and ``workspace: "none"`` when there is no workspace.

        A failed create raises (``maybe_applied`` says whether it may exist anyway: then adopt it
        with :meth:`find_by_name`). A failed tag step does not raise: the handle is returned with
        ``tag_error`` set, so the caller never loses a notebook it created.
        """
        handle = self._call(
            "create notebook",
            lambda: self._client.create(
                machine_type=machine_type,
                container=container,
                project_id=project_id,
                cluster_id=cluster_id,
                name=name,
                command=command,
                workspace=workspace or "none",
                workspace_ref=workspace_ref if workspace else None,
                is_preemptible=False,
                is_public=False,
                environment=dict(environment) if environment else None,
                shutdown_timeout=shutdown_timeout_hours,
            ),
            targets_existing=False,
        )
        if not isinstance(handle, str) or not handle:
            raise ApiError(
                "create notebook: unexpected response (no notebook handle)",
                operation="create notebook",
                maybe_applied=True,
            )
        tag_error = None
        if tags:
            try:
                self.add_tags(handle, tags)
            except GradientApiError as error:
                _log.warning("notebook %s created, but tagging it failed: %s", handle, error)
                tag_error = error
        return Created(id=handle, tag_error=tag_error)

    def add_tags(self, notebook_id: str, tags: Sequence[str]) -> None:
        """Add ``tags`` to the notebook's tags (two requests: getTags, then updateTags)."""
        self._call(
            "tag notebook",
            lambda: self._client.add_tags(entity_id=notebook_id, tags=list(tags)),
        )

    def get(self, notebook_id: str) -> NotebookInfo:
        notebook = self._call("get notebook", lambda: self._client.get(notebook_id))
        return notebook_info(notebook)

    def _list(self, operation: str, tags: list[str]) -> list[NotebookInfo]:
        """Every page of the list (the API pages it), each notebook once.

        Pages of :data:`LIST_PAGE` are asked for by offset until one comes back empty, or short
        of the page with no more announced by ``total``. The list is ordered newest first, so a
        notebook created meanwhile shifts the rest down: it shows up twice (kept once), never
        not at all."""
        found: dict[str, NotebookInfo] = {}
        for page in range(LIST_MAX_PAGES):
            offset = page * LIST_PAGE
            notebooks, meta = self._call(operation, functools.partial(self._page, tags, offset))
            for nb in notebooks:
                if isinstance(getattr(nb, "id", None), str):
                    found.setdefault(nb.id, notebook_info(nb))
            total = meta.get("total") if isinstance(meta, Mapping) else None
            more = offset + len(notebooks) < total if isinstance(total, int) else False
            if not notebooks or (len(notebooks) < LIST_PAGE and not more):
                break
        return list(found.values())

    def _page(self, tags: list[str], offset: int) -> tuple[Any, Any]:
        page: tuple[Any, Any] = self._client.list(
            tags=tags, limit=LIST_PAGE, offset=offset, get_meta=True
        )
        return page

    def list_by_tag(self, tag: str) -> list[NotebookInfo]:
        """Notebooks carrying ``tag`` (deleted ones excluded): one request per page of
        :data:`LIST_PAGE`. The API filters; the tag is checked here too, so a server that ignored
        the filter cannot make a sweep end someone else's notebooks."""
        return [nb for nb in self._list("list notebooks", [tag]) if tag in nb.tags]

    def list_all(self) -> list[NotebookInfo]:
        """Every notebook the key can see (deleted ones excluded), page by page."""
        return self._list("list notebooks", [])

    def find_by_name(self, name: str, project_id: str | None) -> NotebookInfo | None:
        """The newest notebook called ``name`` (in ``project_id``, when given), or ``None``.

        The whole list, unfiltered: a notebook whose create response was lost was never tagged
        (tags are set after create), so tag it once adopted. Names must be unique per run."""
        notebooks = self._list("find notebook", [])
        matches = [
            nb
            for nb in notebooks
            if nb.name == name and (project_id is None or nb.project_id == project_id)
        ]
        oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
        return max(matches, key=lambda nb: nb.created_at or oldest, default=None)

    def list_unpaged(self) -> ListAnswer:
        """One list request with no limit (the SDK's default): what the API sends for it, with
        the ``total`` it announces (a capped page holds fewer notebooks than that)."""
        notebooks, meta = self._call(
            "list notebooks",
            lambda: self._client.list(tags=[], limit=None, offset=None, get_meta=True),
        )
        meta = meta if isinstance(meta, Mapping) else {}
        return ListAnswer(
            notebooks=tuple(
                notebook_info(nb) for nb in notebooks if isinstance(getattr(nb, "id", None), str)
            ),
            total=_int(meta.get("total")),
            running_total=_int(meta.get("runningTotal")),
        )

    # --- the team --------------------------------------------------------------------------------

    def machine_types(self, cluster_id: str | None = None) -> list[MachineType]:
        """The machine types offered to the team and available now (in ``cluster_id``, when
        given), by label."""
        types = self._call(
            "list machine types",
            lambda: self._machine_types.list(cluster_id=cluster_id),
            targets_existing=False,
        )
        return [
            MachineType(
                label=vm.label,
                kind=_text(getattr(vm, "kind", None)),
                cpus=_int(getattr(vm, "cpu_count", None)),
                gpu_count=_int(getattr(vm, "gpu_count", None)),
                clusters=tuple(str(c) for c in getattr(vm, "clusters", None) or ()),
            )
            for vm in types or ()
            if isinstance(getattr(vm, "label", None), str)
        ]

    def project(self, project_id: str) -> Project:
        """The project (``NotFoundError`` when the key's team has no such project)."""
        found = self._call("get project", lambda: self._projects.get(project_id))
        return Project(
            id=_text(getattr(found, "id", None)) or project_id,
            name=_text(getattr(found, "name", None)),
        )

    def stop(self, notebook_id: str) -> None:
        """Ask the platform to stop the notebook (it does not wait for ``Stopped``)."""
        self._call("stop notebook", lambda: self._client.stop(notebook_id))

    def delete(self, notebook_id: str, *, missing_ok: bool = False) -> None:
        """Delete the notebook; with ``missing_ok`` an unknown notebook is not an error."""
        try:
            self._call("delete notebook", lambda: self._client.delete(notebook_id))
        except NotFoundError:
            if not missing_ok:
                raise

    def logs(
        self, notebook_id: str, start_line: int = 1, *, limit: int = DEFAULT_LOG_LIMIT
    ) -> LogPage:
        """Log lines from ``start_line`` (1-based) on, at most ``limit`` (two requests: the
        notebook, for its job, then the logs), in line order, each line number once. Rows before
        ``start_line`` are dropped, in case a server ignores ``line``; a row that arrives after
        later ones were read is therefore missed here (read again from line 1 to get it)."""
        rows = self._call(
            "read notebook logs",
            lambda: self._client.logs(notebook_id, line=start_line, limit=limit),
        )
        numbered: dict[int, str] = {}
        for row in rows or ():
            try:
                number, message = int(row.line), str(row.message)
            except (AttributeError, TypeError, ValueError):
                continue  # e.g. None: the SDK iterates a JSON object's keys
            if number >= start_line:
                numbered.setdefault(number, message)  # a repeated row is kept once
        lines: list[tuple[int, str]] = []
        next_line, ended = start_line, False
        for number in sorted(numbered):
            if numbered[number] == END_OF_LOG:
                ended = True
                break
            lines.append((number, numbered[number]))
            next_line = number + 1
        return LogPage(lines=tuple(lines), next_line=next_line, ended=ended)

    def log_rows(
        self, notebook_id: str, start_line: int = 1, *, limit: int = DEFAULT_LOG_LIMIT
    ) -> tuple[RawLogRow, ...]:
        """The rows of one logs request as they came: order, repeats and the end marker kept
        (what :meth:`logs` smooths over), for recording how the platform delivers logs."""
        rows = self._call(
            "read notebook logs",
            lambda: self._client.logs(notebook_id, line=start_line, limit=limit),
        )
        raw: list[RawLogRow] = []
        for row in rows or ():
            try:
                number: int | None = int(row.line)
            except (AttributeError, TypeError, ValueError):
                number = None
            timestamp = getattr(row, "timestamp", None)
            raw.append(
                RawLogRow(
                    line=number,
                    message=str(getattr(row, "message", "")),
                    timestamp=timestamp if isinstance(timestamp, str) else None,
                )
            )
        return tuple(raw)

    def metrics(self, notebook_id: str) -> dict[str, float]:
        """Peak GPU utilisation and GPU memory utilisation (percent) since the notebook started,
        keyed as in :data:`METRIC_PEAKS`; charts without data are left out. Best effort: any
        failure gives ``{}``."""
        try:
            with gradient_http.scope(self.timeouts, Exchange(), self._heard):
                charts = self._client.get_metrics(notebook_id, built_in_metrics=list(METRIC_PEAKS))
        except Exception as exc:  # metrics never fail a run
            text = scrub(f"{type(exc).__name__}: {exc}", (self._secret,))
            _log.debug("no metrics for notebook %s: %s", notebook_id, text)
            return {}
        if not isinstance(charts, Mapping):
            return {}
        result: dict[str, float] = {}
        for chart, key in METRIC_PEAKS.items():
            peak = _peak(charts.get(chart))
            if peak is not None:
                result[key] = peak
        return result
