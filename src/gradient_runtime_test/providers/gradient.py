"""The Gradient provider: one Gradient Notebook per cell, through the real `gradient` SDK.

Polling costs one list-by-tag request per interval whatever the number of live notebooks (one per
page of 20); logs are read only for notebooks the orchestrator asks about. Creates are made safe
to retry: every cell's notebook has a unique name, and a create whose outcome is unknown is looked
up by that name before it is tried again. Every call is retried by one :class:`RetryPolicy`
(429/503 after their ``Retry-After``, timeouts and 5xx with jittered back-off within a budget),
and every request has a connect and a read timeout, so a stalled API ends each call in bounded
time.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ProviderError
from ..settings import PaperspaceSettings
from . import base, naming
from .base import Handle, Launch, NotebookState
from .gradient_http import Timeouts
from .retrying import RetryPolicy

if TYPE_CHECKING:
    from .gradient_api import GradientApi, GradientApiError, NotebookInfo

T = TypeVar("T")
CONSOLE_URL = "https://console.paperspace.com/notebook/{id}"
DEFAULT_RETRY = RetryPolicy()
_log = logging.getLogger(__name__)


class GradientProvider:
    name = "gradient"
    end_delay_s = 2.0  # lets the log pipeline ship the bundle before Jupyter (the container) ends

    def __init__(
        self,
        settings: PaperspaceSettings,
        *,
        dry_run: bool = False,
        default_max_parallel: int = 10,
        retry: RetryPolicy = DEFAULT_RETRY,
        poll_interval_s: float = 1.0,
        stop_wait_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        api: GradientApi | None = None,
    ) -> None:
        self.default_max_parallel = default_max_parallel
        self._settings = settings
        self._retry = retry
        self._poll_s = poll_interval_s
        self._stop_wait_s = stop_wait_s  # how long a refused delete waits for Stopped
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._run_tag: str | None = None
        self._unknown_states: set[str] = set()  # logged once each
        self._api = api
        if api is None and not dry_run:
            from .gradient_api import GradientApi

            self._api = GradientApi(
                settings.api_key,
                config_host=settings.config_host,
                log_host=settings.log_host,
                timeouts=Timeouts(settings.connect_timeout_s, settings.read_timeout_s),
            )

    @property
    def api(self) -> GradientApi:
        if self._api is None:
            raise ProviderError("the gradient provider was made for a dry run")
        return self._api

    def jupyter_command(self, runtime_command: str) -> str:
        return runtime_command

    def workspace_dir(self) -> str:
        return "."  # the platform starts the command in /notebooks, where it cloned the workspace

    # --- calls with retries -----------------------------------------------------------------------

    def _again(self, error: GradientApiError, attempt: int, started: float) -> bool:
        """Whether a failed call is worth another try now; if so, waits before it."""
        if not error.retryable or _is_limit(error):
            return False
        if not self._retry.again(
            attempt,
            elapsed_s=self._clock() - started,
            silent_s=self.api.silent_for(),
            retry_after_s=error.retry_after_s,
        ):
            return False
        self._sleep(self._retry.delay(attempt, error.retry_after_s, self._jitter))
        return True

    def call(self, call: Callable[[], T]) -> T:
        """``call`` (one or more :attr:`api` calls) with this provider's retries; its final error
        as a :class:`ProviderError` (an ``AuthenticationError`` stays one)."""
        return self._retrying(call)

    def _retrying(self, call: Callable[[], T]) -> T:
        from .gradient_api import GradientApiError

        started, attempt = self._clock(), 0
        while True:
            try:
                return call()
            except GradientApiError as error:
                if not self._again(error, attempt, started):
                    raise _translate(error) from None
            attempt += 1

    def create(self, launch: Launch) -> Handle:
        from .gradient_api import GradientApiError

        self._run_tag = naming.run_tag(launch.tags) or self._run_tag
        project = launch.project_id or self._settings.project_id or ""
        started, attempt = self._clock(), 0
        while True:
            try:
                created = self._create_once(launch, project)
            except GradientApiError as error:
                if _is_limit(error):
                    raise _translate(error) from None
                if error.maybe_applied:
                    found = self._adopt(launch, project)
                    if found is not None:
                        return found
                if not self._again(error, attempt, started):
                    raise self._refusal(launch, error) from None
                attempt += 1
                continue
            if created.tag_error is not None:
                self._tag_again(created.id, launch.tags)
            return self._handle(created.id, launch.name)

    def _create_once(self, launch: Launch, project: str) -> Any:
        return self.api.create(
            name=launch.name,
            machine_type=launch.machine,
            container=launch.container,
            project_id=project,
            command=launch.command,
            cluster_id=launch.cluster_id,
            workspace=launch.workspace,
            workspace_ref=launch.workspace_ref,
            environment=launch.environment,
            shutdown_timeout_hours=launch.shutdown_timeout_h,
            tags=launch.tags,
        )

    def _refusal(self, launch: Launch, error: GradientApiError) -> ProviderError:
        """The create's final error. A refusal in words not recognised is kept verbatim (the
        message, and a warning in the log): it may be a limit whose wording is unknown."""
        from .gradient_api import ApiError

        if type(error) is ApiError and error.status is not None and 400 <= error.status < 500:
            _log.warning(
                "the platform refused to create a notebook on %s, in words grt does not "
                "recognise (HTTP %s, verbatim): %s",
                launch.machine,
                error.status,
                error.message,
            )
            return base.RefusedError(error.message, tip=error.tip)
        return _translate(error)

    def _adopt(self, launch: Launch, project: str) -> Handle | None:
        """The notebook a lost create made, found by its unique name; tagged if it is not yet."""
        from .gradient_api import GradientApiError

        try:
            found = self._retrying(lambda: self.api.find_by_name(launch.name, project or None))
        except ProviderError:
            return None
        if found is None:
            return None
        missing = [t for t in launch.tags if t not in found.tags]
        if missing:
            with contextlib.suppress(GradientApiError):
                self._tag_again(found.id, missing)
        return self._handle(found.id, launch.name)

    def _tag_again(self, notebook_id: str, tags: Sequence[str]) -> None:
        """Tags matter for polling and sweeping; a notebook whose tags never stick is still
        tracked by id (states() falls back to get), so this never raises."""
        with contextlib.suppress(ProviderError):
            self._retrying(lambda: self.api.add_tags(notebook_id, tags))

    def _handle(self, notebook_id: str, name: str) -> Handle:
        return Handle(
            notebook_id=notebook_id, name=name, url=CONSOLE_URL.format(id=notebook_id), log_offset=1
        )

    # --- following notebooks -----------------------------------------------------------------------

    def states(self, handles: Sequence[Handle]) -> dict[str, NotebookState]:
        if self._run_tag is None:
            listed: dict[str, NotebookInfo] = {}
        else:
            tag = self._run_tag
            listed = {nb.id: nb for nb in self._retrying(lambda: self.api.list_by_tag(tag))}
        out: dict[str, NotebookState] = {}
        for handle in handles:
            info = listed.get(handle.notebook_id)
            if info is None:
                info = self._get_or_none(handle.notebook_id)
            out[handle.notebook_id] = (
                NotebookState.GONE if info is None else self._state(info, handle)
            )
        return out

    def _get_or_none(self, notebook_id: str) -> NotebookInfo | None:
        from .gradient_api import NotFoundError

        def get() -> NotebookInfo | None:
            try:
                return self.api.get(notebook_id)
            except NotFoundError:
                return None

        return self._retrying(get)

    def _state(self, info: NotebookInfo, handle: Handle) -> NotebookState:
        """The provider-neutral state; the platform's words on an abnormal one go to
        ``handle.detail``; a state no one here knows is logged once."""
        from .gradient_api import NotebookState as ApiState

        state = {
            ApiState.STARTING: NotebookState.STARTING,
            ApiState.RUNNING: NotebookState.RUNNING,
            ApiState.STOPPING: NotebookState.RUNNING,  # its last log lines may still be coming
            ApiState.STOPPED: NotebookState.STOPPED,
            ApiState.CANCELLED: NotebookState.FAILED,
            ApiState.ERROR: NotebookState.FAILED,
            ApiState.PREEMPTED: NotebookState.PREEMPTED,
        }.get(info.state, NotebookState.UNKNOWN)
        if state in (NotebookState.FAILED, NotebookState.PREEMPTED, NotebookState.UNKNOWN):
            raw = info.raw_state or "no state"
            handle.detail = f"{raw}: {info.job_error}" if info.job_error else raw
        if state == NotebookState.UNKNOWN and handle.detail not in self._unknown_states:
            self._unknown_states.add(handle.detail)
            _log.warning(
                "notebook %s is in a state grt does not know (%r): it is followed as it is, and"
                " treated as ended if that lasts",
                info.id,
                handle.detail,
            )
        return state

    def logs(self, handle: Handle) -> list[str]:
        page = self._retrying(lambda: self.api.logs(handle.notebook_id, handle.log_offset or 1))
        handle.log_offset = page.next_line
        handle.log_ended = page.ended
        return [text for _, text in page.lines]

    # --- ending notebooks ------------------------------------------------------------------------

    def stop(self, handle: Handle) -> None:
        """Stop the notebook; one that no longer exists is stopped enough."""
        from .gradient_api import NotFoundError

        def stop() -> None:
            with contextlib.suppress(NotFoundError):
                self.api.stop(handle.notebook_id)

        self._retrying(stop)

    def delete(self, handle: Handle) -> None:
        """Delete the notebook. The platform may refuse while it is still stopping: then wait
        (bounded) until it has ended, and try again, a few times."""
        from .gradient_api import ApiError, AuthenticationError

        for attempt in range(self._retry.attempts):
            try:
                self._retrying(lambda: self.api.delete(handle.notebook_id, missing_ok=True))
                return
            except ProviderError as error:
                refused = isinstance(error, ApiError) and not isinstance(error, AuthenticationError)
                if not refused or attempt + 1 == self._retry.attempts:
                    raise
            self._wait_until_ended(handle.notebook_id)

    def _wait_until_ended(self, notebook_id: str) -> None:
        """Until the notebook has ended or is gone, for at most ``stop_wait_s``; not at all while
        the API does not answer."""
        deadline = self._clock() + self._stop_wait_s
        while self._clock() < deadline and self.api.silent_for() < self._retry.budget_s:
            try:
                info = self._get_or_none(notebook_id)
            except ProviderError:
                return
            if info is None or info.state.ended:
                return
            self._sleep(self._poll_s)

    def metrics(self, handle: Handle) -> dict[str, Any]:
        if self.api.silent_for() >= self._retry.budget_s:
            return {}  # best effort: not worth a wait on an API that does not answer
        return dict(self.api.metrics(handle.notebook_id))

    def close(self) -> None:
        pass


def _is_limit(error: Exception) -> bool:
    from .gradient_api import CapacityError, RunningLimitError

    return isinstance(error, CapacityError | RunningLimitError)


def _translate(error: Any) -> ProviderError:
    """The SDK wrapper's error as the orchestrator's provider-neutral error."""
    from .gradient_api import CapacityError, RunningLimitError, TransientError

    if isinstance(error, CapacityError):
        return base.CapacityError(error.message)
    if isinstance(error, RunningLimitError):
        return base.RunningLimitError(error.message)
    if isinstance(error, TransientError):
        return base.TransientError(error.message)
    if isinstance(error, ProviderError):
        return error
    return ProviderError(str(error))
