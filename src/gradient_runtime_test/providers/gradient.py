"""The Gradient provider: one Gradient Notebook per cell, through the real `gradient` SDK.

Polling costs one list-by-tag request per interval whatever the number of live notebooks; logs are
read only for notebooks the orchestrator asks about. Creates are made safe to retry: every cell's
notebook has a unique name, and a create whose outcome is unknown is looked up by that name before
it is tried again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ProviderError
from ..settings import PaperspaceSettings
from . import base, naming
from .base import Handle, Launch, NotebookState

if TYPE_CHECKING:
    from .gradient_api import GradientApi, NotebookInfo

T = TypeVar("T")
CONSOLE_URL = "https://console.paperspace.com/notebook/{id}"


class GradientProvider:
    name = "gradient"
    end_delay_s = 2.0  # lets the log pipeline ship the bundle before Jupyter (the container) ends

    def __init__(
        self,
        settings: PaperspaceSettings,
        *,
        dry_run: bool = False,
        default_max_parallel: int = 10,
        retries: int = 4,
        backoff_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        api: GradientApi | None = None,
    ) -> None:
        self.default_max_parallel = default_max_parallel
        self._settings = settings
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._run_tag: str | None = None
        self._api = api
        if api is None and not dry_run:
            from .gradient_api import GradientApi

            self._api = GradientApi(
                settings.api_key, config_host=settings.config_host, log_host=settings.log_host
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

    # --- calls with retries ---------------------------------------------------------------------------

    def _retrying(self, call: Callable[[], T]) -> T:
        from .gradient_api import GradientApiError

        delay = self._backoff_s
        for attempt in range(self._retries + 1):
            try:
                return call()
            except GradientApiError as error:
                if not error.retryable or attempt == self._retries or _is_limit(error):
                    raise _translate(error) from None
            self._sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def create(self, launch: Launch) -> Handle:
        from .gradient_api import GradientApiError

        self._run_tag = naming.run_tag(launch.tags) or self._run_tag
        project = launch.project_id or self._settings.project_id or ""
        delay = self._backoff_s
        for attempt in range(self._retries + 1):
            try:
                created = self.api.create(
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
            except GradientApiError as error:
                if _is_limit(error):
                    raise _translate(error) from None
                if error.maybe_applied:
                    found = self._adopt(launch, project)
                    if found is not None:
                        return found
                if not error.retryable or attempt == self._retries:
                    raise _translate(error) from None
                self._sleep(delay)
                delay *= 2
                continue
            if created.tag_error is not None:
                self._tag_again(created.id, launch.tags)
            return self._handle(created.id, launch.name)
        raise AssertionError("unreachable")

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
            out[handle.notebook_id] = NotebookState.GONE if info is None else _state(info)
        return out

    def _get_or_none(self, notebook_id: str) -> NotebookInfo | None:
        from .gradient_api import NotFoundError

        try:
            return self.api.get(notebook_id)
        except NotFoundError:
            return None

    def logs(self, handle: Handle) -> list[str]:
        page = self._retrying(lambda: self.api.logs(handle.notebook_id, handle.log_offset or 1))
        handle.log_offset = page.next_line
        return [text for _, text in page.lines]

    def stop(self, handle: Handle) -> None:
        """Stop the notebook; one that no longer exists is stopped enough."""
        from .gradient_api import NotFoundError

        def stop() -> None:
            with contextlib.suppress(NotFoundError):
                self.api.stop(handle.notebook_id)

        self._retrying(stop)

    def delete(self, handle: Handle) -> None:
        self._retrying(lambda: self.api.delete(handle.notebook_id, missing_ok=True))

    def metrics(self, handle: Handle) -> dict[str, Any]:
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


def _state(info: NotebookInfo) -> NotebookState:
    from .gradient_api import NotebookState as ApiState

    return {
        ApiState.STARTING: NotebookState.STARTING,
        ApiState.RUNNING: NotebookState.RUNNING,
        ApiState.STOPPING: NotebookState.RUNNING,  # its last log lines may still be coming
        ApiState.STOPPED: NotebookState.STOPPED,
        ApiState.ERROR: NotebookState.FAILED,
    }.get(info.state, NotebookState.STARTING)
