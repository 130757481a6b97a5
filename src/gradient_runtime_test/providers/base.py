"""What every provider offers the orchestrator, and the errors it may raise."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..errors import ProviderError


class NotebookState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"  # ended normally (the harness ended Jupyter, or we stopped it)
    FAILED = "failed"  # the platform ended it abnormally: Error, Failed, Cancel, Cancelled
    PREEMPTED = "preempted"  # the platform took the machine back: no verdict, try again
    GONE = "gone"  # no longer listed (deleted, or never visible)
    UNKNOWN = "unknown"  # a state the provider does not know (it may be running, or not)


class CapacityError(ProviderError):
    """No capacity or quota for the machine now: the cell is unavailable, not failed."""


class RunningLimitError(ProviderError):
    """The plan's running-notebook limit is reached: wait for one to end, then retry."""


class TransientError(ProviderError):
    """A 5xx, a timeout or a dropped connection, after the provider's own retries."""


class RefusedError(ProviderError):
    """The platform refused a create in words the provider does not recognise (they are in the
    message, verbatim): while other notebooks of the run are up, maybe an unknown running limit."""


@dataclasses.dataclass(frozen=True)
class Launch:
    """Everything needed to create one cell's notebook. Holds no secret."""

    cell_id: str
    name: str  # unique per cell: a lost create is found again by this name
    machine: str
    container: str
    command: str
    environment: Mapping[str, str]
    workspace: str | None
    workspace_ref: str | None
    shutdown_timeout_h: int
    tags: tuple[str, ...]
    project_id: str | None = None
    cluster_id: str | None = None

    def request(self) -> dict[str, Any]:
        """The create request as `--dry-run` prints it."""
        return {
            "name": self.name,
            "machineType": self.machine,
            "container": self.container,
            "projectId": self.project_id,
            "clusterId": self.cluster_id,
            "workspace": self.workspace,
            "workspaceRef": self.workspace_ref,
            "command": self.command,
            "environment": dict(self.environment),
            "shutdownTimeout": self.shutdown_timeout_h,
            "tags": list(self.tags),
        }


@dataclasses.dataclass
class Handle:
    """A notebook the provider created. Mutable: providers keep read offsets here."""

    notebook_id: str
    name: str
    url: str = ""
    log_offset: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    detail: str = ""  # the platform's words on an abnormal state (e.g. "Preempted: <jobError>")
    # Whether the last log read reached the log's end marker (every line delivered); None when
    # the provider's logs have no such marker (once the notebook has ended, its log is whole).
    log_ended: bool | None = None


class Provider(Protocol):
    name: str
    default_max_parallel: int
    end_delay_s: float  # how long the harness waits after its bundle before ending Jupyter

    def jupyter_command(self, runtime_command: str) -> str:
        """The command that stands for Jupyter on this provider."""
        ...

    def workspace_dir(self) -> str:
        """Where the notebook command starts, as the harness spec names it."""
        ...

    def create(self, launch: Launch) -> Handle:
        """Create and start the notebook. Raises CapacityError, RunningLimitError, ProviderError."""
        ...

    def states(self, handles: Sequence[Handle]) -> dict[str, NotebookState]:
        """States of all live notebooks, keyed by notebook id, in one request where possible."""
        ...

    def logs(self, handle: Handle) -> list[str]:
        """Log lines written since the previous call for this handle."""
        ...

    def stop(self, handle: Handle) -> None: ...

    def delete(self, handle: Handle) -> None: ...

    def metrics(self, handle: Handle) -> dict[str, Any]: ...

    def close(self) -> None: ...
