"""What the fake does with a created notebook: really run its command on this machine.

Each notebook gets a folder ``<root>/<handle>/`` with:

- ``notebooks/``: stands in for ``/notebooks``. The workspace (a local folder, or a local git
  repository given as a path or ``file://`` URL) is copied or cloned there at ``workspaceRef``, and
  the command runs there as the platform runs it: ``/bin/sh -c '<command>'`` as PID 1 of a PID
  namespace of its own with a private ``/proc`` (``unshare``; ``pid1_prefix``). PID 1 ignores
  the signals it has no handler for, and when it exits, everything left in the namespace dies (the
  container is gone). ``pid1_prefix=None`` runs ``bash -c`` as a plain child process instead
  (the fake's old, kinder mode: only where a test needs it, or where namespaces are unavailable).
- ``home/``: ``HOME`` of the command (on Gradient ``HOME`` is ``/root``, not ``/notebooks``: this
  keeps kernels' ``~/.local`` and ``~/.ipython`` out of the workspace).
- ``state/``: the fake's own files (the Jupyter stub's pid file).

The command sees only ``PATH`` (the fake's ``bin/`` first, holding a ``jupyter`` stub that behaves
like a Jupyter server: it blocks until SIGTERM or ``jupyter lab stop``), ``HOME``, ``LANG``,
``GRT_FAKE_NOTEBOOKS_DIR`` (the scratch folder), ``GRT_FAKE_JUPYTER_PIDFILE``, and the create
request's ``environment``; never the server's own environment. Every standalone occurrence of the
``notebooks_dir_placeholder`` (default ``/notebooks``: not part of a longer path such as
``/x/notebooks`` or ``/notebooks2``) in the decoded command is replaced by the scratch folder,
and ``/run.sh`` (an image's own start script) by a stand-in that starts the ``jupyter`` stub.

Life: ``Pending`` (first quarter of the start-up delay) -> ``Provisioning`` (workspace fetched) ->
``Running`` (command started) -> ``Stopping`` (on stop: SIGTERM to PID 1, as ``docker stop`` does,
or to the process group of a plain child; SIGKILL after the grace period; then the knob
``teardown_s``) -> ``Stopped``; or ``Error`` (workspace fetch failed, ``error_machines``, or the
command exited non-zero by itself); or the state of an ``Interrupt`` (``Preempted``,
``Cancelled``, ...: the platform ended it). The start-up states are the knob ``start_states``.
When the command ends, whatever is left of its process group (or its PID namespace) is killed
(the container is gone), the remaining output is read, a ``PSEOF`` row is appended (served once
every earlier row is), and only then is the final state shown.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .sandbox import (
    exited,
    exits_within,
    fetch_workspace,
    namespace_init,
    rewrite_command,
    signal_group,
)

if TYPE_CHECKING:
    from .faults import Interrupt

ACTIVE_STATES = frozenset({"Pending", "Provisioning", "Provisioned", "Running", "Stopping"})
FINAL_STATES = frozenset({"Stopped", "Error"})
DEFAULT_COMMAND = "jupyter lab --allow-root --ip=0.0.0.0 --no-browser"
END_OF_LOG = "PSEOF"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str | None:
    """The API's timestamp format: ``2024-05-01T10:02:01.100Z``."""
    if moment is None:
        return None
    moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class RuntimeSettings:
    root: Path
    fake_bin: Path
    base_path: str
    notebooks_dir_placeholder: str | None
    hour_s: float
    stop_grace_s: float
    repositories: Mapping[str, Path] = field(default_factory=dict)
    machine_bins: Mapping[str, Path] = field(default_factory=dict)
    pid1_prefix: tuple[str, ...] | None = None  # e.g. ("unshare", "--pid", "--fork", ...)


@dataclass(frozen=True)
class Plan:
    """What the fault knobs said about this notebook when it was created."""

    start_delay_s: float = 0.0
    stuck: bool = False
    error: str | None = None
    replay: str | None = None
    replay_line_delay_s: float = 0.0
    log_line_limit: int | None = None
    start_states: tuple[str, ...] = ("Pending", "Provisioning")
    interrupt: Interrupt | None = None
    teardown_s: float = 0.0
    late_log_every: int | None = None
    late_log_s: float = 0.0


@dataclass(frozen=True)
class LogRow:
    line: int
    message: str
    timestamp: str
    visible_at: float = 0.0  # time.monotonic() from which the logs API serves it


@dataclass
class NotebookSpec:
    """What the create request asked for (``body`` is the request body as received)."""

    machine_type: str
    name: str | None = None
    container: str | None = None
    container_id: int | None = None
    project_id: str | None = None
    cluster_id: str | None = None
    command: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    shutdown_timeout: int | None = None
    workspace: str | None = None
    workspace_ref: str | None = None
    is_preemptible: bool = False
    is_public: bool = False
    body: dict[str, Any] = field(default_factory=dict)


class FakeNotebook:
    """One notebook: its record (as the API shows it) and the thread that lives its life."""

    def __init__(
        self,
        *,
        handle: str,
        numeric_id: int,
        job_handle: str,
        job_id: int,
        spec: NotebookSpec,
        plan: Plan,
        settings: RuntimeSettings,
        on_internal_error: Callable[[str], None],
    ) -> None:
        self.handle = handle
        self.numeric_id = numeric_id
        self.job_handle = job_handle
        self.job_id = job_id
        self.spec = spec
        self.plan = plan
        self.settings = settings
        self.name = spec.name or f"notebook-{handle}"
        self.tags: list[str] = []
        self.token = os.urandom(24).hex()
        self.folder = settings.root / handle
        self.scratch = self.folder / "notebooks"
        self.home = self.folder / "home"
        self.state_dir = self.folder / "state"
        self.state = "Pending"
        self.job_error: str | None = None
        self.executed_command: str | None = None
        self.returncode: int | None = None
        # "api", "deleted", "shutdown_timeout", "server_closed"; None when it ended by itself.
        self.stop_reason: str | None = None
        self.deleted = False
        self.finished = False  # the final state is shown
        self.interrupted = False  # the platform ended it (an Interrupt)
        self.created_at = utc_now()
        self.modified_at = self.created_at
        self.provisioning_started_at: dt.datetime | None = None
        self.provisioning_finished_at: dt.datetime | None = None
        self.started_at: dt.datetime | None = None
        self.finished_at: dt.datetime | None = None
        self.teardown_started_at: dt.datetime | None = None
        self.deleted_at: dt.datetime | None = None
        self._on_internal_error = on_internal_error
        self._rows: list[LogRow] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------------

    def start(self) -> None:
        for folder in (self.scratch, self.home, self.state_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(
            target=self._run, name=f"fake-notebook-{self.handle}", daemon=True
        )
        self._thread.start()

    def restart(self, *, job_handle: str, job_id: int, plan: Plan) -> None:
        """``startNotebook`` on a finished notebook: a new job, fresh logs, same folder."""
        self.join(timeout=self.settings.stop_grace_s + 5)
        with self._lock:
            self.job_handle, self.job_id, self.plan = job_handle, job_id, plan
            self._rows = []
            self.job_error = self.stop_reason = self.returncode = None
            self.finished = self.interrupted = False
            self.started_at = self.finished_at = self.teardown_started_at = None
            self._stop_requested = threading.Event()
        self._set_state("Pending")
        self._thread = threading.Thread(
            target=self._run, name=f"fake-notebook-{self.handle}", daemon=True
        )
        self._thread.start()

    def request_stop(self, reason: str = "api") -> None:
        with self._lock:
            if self.stop_reason is None and not self.finished:
                self.stop_reason = reason
        self._stop_requested.set()

    def _interrupt(self) -> None:
        """The platform ends the notebook (``Faults.interrupt_machines``)."""
        with self._lock:
            if self.state != "Running" or self.stop_reason is not None:
                return
            self.interrupted = True
            self.stop_reason = "interrupted"
        self._stop_requested.set()

    def mark_deleted(self) -> None:
        with self._lock:
            self.deleted = True
            self.deleted_at = utc_now()
        self.request_stop("deleted")

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # --- queries ---------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return not self.deleted and self.state in ACTIVE_STATES

    def wait_for_state(self, *states: str, timeout: float = 10.0) -> str:
        """Block until the notebook is in one of ``states``; returns it (``TimeoutError`` if not)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.state in states, timeout):
                raise TimeoutError(
                    f"{self.handle} is {self.state}, not in {states} after {timeout}s"
                )
            return self.state

    def rows(self, line: int = 1, limit: int = 10000) -> list[LogRow]:
        """Rows from ``line`` on that the logs API serves now (a late row is left out until it
        arrives; the rows after it are not held back)."""
        now = time.monotonic()
        with self._lock:
            start = max(line, 1) - 1
            visible = [row for row in self._rows[start:] if row.visible_at <= now]
            return visible[: max(limit, 0)]

    def log_text(self) -> str:
        with self._lock:
            return "\n".join(row.message for row in self._rows if row.message != END_OF_LOG)

    def to_json(self, metrics_address: str) -> dict[str, Any]:
        spec = self.spec
        with self._lock:
            return {
                "id": self.numeric_id,
                "handle": self.handle,
                "name": self.name,
                "state": self.state,
                "jobHandle": self.job_handle,
                "jobId": self.job_id,
                "jobError": self.job_error,
                "project": f"Notebook-{self.name}",
                "projectHandle": spec.project_id,
                "namespace": "fake-team",
                "cluster": "PS Notebooks (fake)",
                "clusterId": spec.cluster_id or "clfake0001",
                "vmType": spec.machine_type,
                "container": spec.container,
                "containerUrl": spec.container,
                "baseContainer": spec.container,
                "baseContainerUrl": spec.container,
                "fqdn": f"{self.handle}.dgradient.fake-paperspace.invalid",
                "token": self.token,
                "isPublic": spec.is_public,
                "isPreemptible": spec.is_preemptible,
                "shutdownTimeout": spec.shutdown_timeout,
                "dtCreated": iso(self.created_at),
                "dtModified": iso(self.modified_at),
                "dtProvisioningStarted": iso(self.provisioning_started_at),
                "dtProvisioningFinished": iso(self.provisioning_finished_at),
                "dtStarted": iso(self.started_at),
                "dtFinished": iso(self.finished_at),
                "dtTeardownStarted": iso(self.teardown_started_at),
                "dtTeardownFinished": iso(self.finished_at if self.teardown_started_at else None),
                "dtDeleted": iso(self.deleted_at),
                "metricsURL": metrics_address,
                "tags": list(self.tags),
            }

    # --- life ------------------------------------------------------------------------------------

    def _set_state(self, state: str, *, job_error: str | None = None, final: bool = False) -> None:
        with self._changed:
            now = utc_now()
            self.state, self.modified_at = state, now
            if job_error is not None:
                self.job_error = job_error
            if state == "Provisioning":
                self.provisioning_started_at = now
            elif state == "Running":
                self.provisioning_finished_at = self.started_at = now
            elif state == "Stopping":
                self.teardown_started_at = now
            if final:
                self.finished, self.finished_at = True, now
            self._changed.notify_all()

    def _append(self, message: str, *, limit: int | None = None) -> None:
        if limit is not None and len(message) > limit:
            message = message[:limit]
        now = time.monotonic()
        with self._lock:
            number = len(self._rows) + 1
            every = self.plan.late_log_every
            if message == END_OF_LOG:  # the end marker follows every row it ends
                visible_at = max((row.visible_at for row in self._rows), default=now)
            elif every and number % every == 0:
                visible_at = now + self.plan.late_log_s
            else:
                visible_at = now
            self._rows.append(LogRow(number, message, iso(utc_now()) or "", visible_at))

    def _finish(self, state: str, job_error: str | None = None) -> None:
        self._append(END_OF_LOG)
        interrupt = self.plan.interrupt
        if self.interrupted and interrupt is not None:
            state, job_error = interrupt.state, interrupt.job_error
        elif self.plan.teardown_s > 0 and self.state != "Stopping":
            self._set_state("Stopping")
        if self.state == "Stopping" and self.plan.teardown_s > 0:
            time.sleep(self.plan.teardown_s)
        self._set_state(state, job_error=job_error, final=True)

    def _run(self) -> None:
        timer = None
        try:
            timer = self._live()
        except Exception:
            text = traceback.format_exc()
            self._on_internal_error(text)
            if not self.finished:
                self._finish("Error", f"fake Paperspace internal error: {text.splitlines()[-1]}")
        finally:
            if timer is not None:
                timer.cancel()

    def _start_up(self) -> bool:
        """The start-up states, the workspace fetched on the way; False when it ended."""
        plan = self.plan
        states = plan.start_states or ("Pending",)
        self._set_state(states[0])
        if self._stop_requested.wait(plan.start_delay_s * 0.25):
            self._finish("Stopped")
            return False
        later = states[1:] or states[:1]
        share = plan.start_delay_s * 0.75 / len(later)
        for i, state in enumerate(later):
            self._set_state(state)
            if i == 0:
                problem = self._prepare_workspace()
                if problem is not None:
                    self._finish("Error", problem)
                    return False
            if self._stop_requested.wait(share):
                self._finish("Stopped")
                return False
        return True

    def _live(self) -> threading.Timer | None:
        plan = self.plan
        if not self._start_up():
            return None
        if plan.stuck:
            self._stop_requested.wait()
            self._finish("Stopped")
            return None
        if plan.error is not None:
            self._finish("Error", plan.error)
            return None
        self._set_state("Running")
        timer = None
        if plan.interrupt is not None:
            timer = threading.Timer(plan.interrupt.after_s, self._interrupt)
            timer.daemon = True
            timer.start()
        if plan.replay is not None:
            self._replay(plan.replay)
        else:
            self._run_command()
        return timer

    def _replay(self, text: str) -> None:
        for line in text.splitlines():
            if self._stop_requested.wait(self.plan.replay_line_delay_s):
                break
            self._append(line, limit=self.plan.log_line_limit)
        self.returncode = 0
        self._finish("Stopped")

    def _environment(self) -> dict[str, str]:
        machine_bin = self.settings.machine_bins.get(self.spec.machine_type)
        path = (
            self.settings.base_path
            if machine_bin is None
            else f"{machine_bin}{os.pathsep}{self.settings.base_path}"
        )
        env = {
            "PATH": f"{self.settings.fake_bin}{os.pathsep}{path}",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
        }
        env.update({str(key): str(value) for key, value in self.spec.environment.items()})
        env["GRT_FAKE_NOTEBOOKS_DIR"] = str(self.scratch)
        env["GRT_FAKE_JUPYTER_PIDFILE"] = str(self.state_dir / "jupyter.pid")
        return env

    def _run_command(self) -> None:
        command = rewrite_command(
            self.spec.command or DEFAULT_COMMAND,
            placeholder=self.settings.notebooks_dir_placeholder,
            scratch=self.scratch,
            fake_bin=self.settings.fake_bin,
        )
        self.executed_command = command
        prefix = self.settings.pid1_prefix
        argv = [*prefix, "/bin/sh", "-c", command] if prefix else ["bash", "-c", command]
        process = subprocess.Popen(
            argv,
            cwd=self.scratch,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None
        pump = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        pump.start()
        self._wait_for_end(process)
        # The leader is reaped only after the last signal to its group (see signal_group).
        if not exited(process):
            self._set_state("Stopping")
            self._terminate(process)
            if not exits_within(process, self.settings.stop_grace_s):
                signal_group(process, signal.SIGKILL)  # unshare's --kill-child: PID 1 too
                exits_within(process, 30.0)
        signal_group(process, signal.SIGKILL)  # what is left dies with the container
        process.wait()
        pump.join(timeout=5)
        process.stdout.close()
        self.returncode = process.returncode
        if self.stop_reason is None and process.returncode != 0:
            return self._finish("Error", f"Notebook command exited with code {process.returncode}")
        return self._finish("Stopped")

    def _wait_for_end(self, process: subprocess.Popen[bytes]) -> None:
        """Until the command ends by itself, a stop is asked for, or the shutdown timeout."""
        timeout = self.spec.shutdown_timeout
        deadline = None if timeout is None else time.monotonic() + timeout * self.settings.hour_s
        while not exited(process):
            wait = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
            if self._stop_requested.wait(wait):
                return
            if deadline is not None and time.monotonic() >= deadline:
                with self._lock:
                    self.stop_reason = self.stop_reason or "shutdown_timeout"
                return

    def _terminate(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM to PID 1 of the notebook's namespace (as ``docker stop``), or, for a plain
        child, to its process group."""
        if self.settings.pid1_prefix is None:
            signal_group(process, signal.SIGTERM)
            return
        for pid in namespace_init(process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._append(
                raw.decode("utf-8", "replace").rstrip("\r\n"), limit=self.plan.log_line_limit
            )

    def _prepare_workspace(self) -> str | None:
        env = {"PATH": self.settings.base_path, "HOME": str(self.home), "LANG": "C.UTF-8"}
        workspace = self.spec.workspace
        if workspace and workspace in self.settings.repositories:
            workspace = str(self.settings.repositories[workspace])
        return fetch_workspace(workspace, self.spec.workspace_ref, self.scratch, env)
