"""``FakePaperspace``: three real HTTP servers on 127.0.0.1 that the real ``gradient`` SDK talks to.

- ``url`` serves ``CONFIG_HOST`` (notebooks, tags, machine types, clusters),
- ``log_url`` serves ``CONFIG_LOG_HOST`` (``/jobs/logs``),
- ``metrics_address`` (``127.0.0.1:PORT``, no scheme: it is the notebooks' ``metricsURL``) serves
  the metrics API over HTTPS with a throw-away CA in ``ca_bundle``.

Point the SDK at it with ``fake.env()`` (set before ``import gradient``; ``REQUESTS_CA_BUNDLE`` is
read per request) or by assigning ``gradient.api_sdk.config.config.CONFIG_HOST``/``CONFIG_LOG_HOST``.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import string
import tempfile
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from . import endpoints
from .faults import (
    DEFAULT_ERROR_MESSAGE,
    INVALID_TOKEN_MESSAGE,
    Faults,
    machine_matches,
)
from .replay import apply_report, replay_report
from .runtime import FakeNotebook, NotebookSpec, Plan, RuntimeSettings
from .sandbox import install_fake_bin
from .tls import make_certificate
from .transport import HttpServer, RecordedRequest

_ALPHABET = string.ascii_lowercase + string.digits


class FakePaperspace:
    """The fake Paperspace API. Use as a context manager, or ``start()``/``close()``.

    - ``faults``: see :class:`Faults`; change ``fake.faults`` at any time.
    - ``api_key``: when given, the only key accepted (others get the recorded
      ``Invalid API token`` error); by default any key, even an empty one, is accepted.
    - ``hour_s``: real seconds that one hour of ``shutdownTimeout`` lasts (tests: ~1 s).
    - ``stop_grace_s``: seconds between SIGTERM and SIGKILL when a notebook is stopped.
    - ``notebooks_dir_placeholder``: replaced by the notebook's scratch folder in its command
      (``None``: no replacement).
    - ``base_path``: the ``PATH`` commands see after the fake's ``bin/`` (default: this process's).
    - ``workdir``: where notebook folders go (default: a temporary folder, removed on close).
    - ``replay``: a ``grt doctor --probe`` report (a path or its parsed JSON) whose wording,
      states and log caps the fault knobs take (see :mod:`.replay`); ``reset()`` keeps them.

    ``hour_s``, ``stop_grace_s``, ``base_path`` and ``notebooks_dir_placeholder`` may be changed
    while the fake runs; they apply to notebooks created afterwards. ``metric_values`` (chart name
    -> values) replaces the generated metrics series.
    """

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        api_key: str | None = None,
        workdir: Path | None = None,
        hour_s: float = 3600.0,
        stop_grace_s: float = 5.0,
        notebooks_dir_placeholder: str | None = "/notebooks",
        base_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_port: int = 0,
        metrics_port: int = 0,
        replay: Path | Mapping[str, Any] | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self.replayed = replay_report(replay) if replay is not None else None
        if self.replayed is not None:
            apply_report(self.faults, self.replayed)
        self.api_key = api_key
        self.host = host
        self.hour_s = hour_s
        self.stop_grace_s = stop_grace_s
        self.notebooks_dir_placeholder = notebooks_dir_placeholder
        self.base_path = base_path if base_path is not None else os.environ.get("PATH", "")
        self.metric_values: dict[str, list[float]] = {}
        # Workspace URLs served from local folders or git repositories (github.com is unreachable).
        self.repositories: dict[str, Path] = {}
        # Per machine type, a folder put first on the notebook's PATH (e.g. a fake nvidia-smi).
        self.machine_bins: dict[str, Path] = {}
        # The team's projects, id -> name (None: every project id exists).
        self.projects: dict[str, str] | None = None
        self.internal_errors: list[str] = []
        self.lock = threading.RLock()
        self.closing = threading.Event()  # set on close: stalled requests give up
        self._ports = (port, log_port, metrics_port)
        self._given_workdir = workdir
        self._workdir: Path | None = None
        self._requests: list[RecordedRequest] = []
        self._notebooks: dict[str, FakeNotebook] = {}
        self._servers: list[HttpServer] = []
        self._threads: list[threading.Thread] = []
        self._next_id = 1823
        self._next_job = 20206

    # --- lifetime --------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._given_workdir is not None:
            self._workdir = self._given_workdir
            self._workdir.mkdir(parents=True, exist_ok=True)
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="fake-paperspace-"))
        self._certificate = make_certificate(self._workdir / "tls", self.host)
        self._fake_bin = install_fake_bin(self._workdir / "bin")
        api, logs, metrics = self._ports
        tls = self._certificate.server_context()
        self._servers = [
            HttpServer(self, "api", api),
            HttpServer(self, "logs", logs),
            HttpServer(self, "metrics", metrics, tls),
        ]
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                daemon=True,
                name=f"fake-paperspace-{server.role}",
            )
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        self.closing.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._stop_all("server_closed")
        if self._given_workdir is None and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def reset(self) -> None:
        """Forget every notebook (ending their processes), request and fault."""
        self._stop_all("server_closed")
        with self.lock:
            self._notebooks.clear()
            self._requests.clear()
            self.internal_errors.clear()
            self.metric_values.clear()
        self.faults.clear()
        if self.replayed is not None:
            apply_report(self.faults, self.replayed)

    def _stop_all(self, reason: str) -> None:
        notebooks = list(self._notebooks.values())
        for notebook in notebooks:
            notebook.request_stop(reason)
        for notebook in notebooks:
            notebook.join(timeout=self.stop_grace_s + 5)

    # --- addresses -------------------------------------------------------------------------------

    def _port(self, index: int) -> int:
        return int(self._servers[index].server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port(0)}"

    @property
    def log_url(self) -> str:
        return f"http://{self.host}:{self._port(1)}"

    @property
    def metrics_address(self) -> str:
        return f"{self.host}:{self._port(2)}"

    @property
    def ca_bundle(self) -> Path:
        return self._certificate.ca_bundle

    @property
    def workdir(self) -> Path:
        assert self._workdir is not None, "start() the fake first"
        return self._workdir

    def env(self) -> dict[str, str]:
        """Environment that points the SDK (and ``requests``) at this fake."""
        return {
            "PAPERSPACE_CONFIG_HOST": self.url,
            "PAPERSPACE_CONFIG_LOG_HOST": self.log_url,
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
        }

    # --- what tests look at ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def requests_to(self, path_substring: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            request
            for request in self.requests
            if path_substring in request.path and method in (None, request.method)
        ]

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()

    @property
    def notebooks(self) -> dict[str, FakeNotebook]:
        """Every notebook ever created, deleted ones included (``notebook.deleted``)."""
        with self.lock:
            return dict(self._notebooks)

    def notebook(self, handle: str) -> FakeNotebook:
        return self.notebooks[handle]

    # --- used by the endpoints -------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self.lock:
            self._requests.append(request)

    def _internal_error(self, text: str) -> None:
        with self.lock:
            self.internal_errors.append(text)

    def _dispatch(self, request: RecordedRequest) -> endpoints.Response:
        if self.api_key is not None and request.api_key != self.api_key:
            return endpoints.Response(400, {"status": 400, "message": INVALID_TOKEN_MESSAGE})
        endpoint = endpoints.ROUTES.get((request.server, request.method, request.path))
        if endpoint is None:
            return endpoints.Response(
                404,
                raw=f"Cannot {request.method} {request.path}".encode(),
                content_type="text/plain",
            )
        try:
            return endpoint(self, request)
        except Exception:
            text = traceback.format_exc()
            self._internal_error(text)
            return endpoints.bad_request(
                f"fake Paperspace internal error: {text.splitlines()[-1]}", 500
            )

    def lookup(self, handle: str | None) -> FakeNotebook | None:
        """The notebook with this handle, unless it is unknown or deleted."""
        with self.lock:
            notebook = self._notebooks.get(handle or "")
        return None if notebook is None or notebook.deleted else notebook

    def refusal(self, machine_type: str) -> str | None:
        """Why a notebook on ``machine_type`` cannot start now (call with ``lock`` held)."""
        faults = self.faults
        if faults.running_limit is not None:
            active = sum(notebook.active for notebook in self._notebooks.values())
            if active >= faults.running_limit:
                return faults.running_limit_message.format(limit=faults.running_limit)
        if machine_matches(faults.capacity_machines, machine_type):
            return faults.capacity_message
        return None

    def _runtime_settings(self) -> RuntimeSettings:
        return RuntimeSettings(
            root=self.workdir / "notebooks",
            fake_bin=self._fake_bin,
            base_path=self.base_path,
            notebooks_dir_placeholder=self.notebooks_dir_placeholder,
            hour_s=self.hour_s,
            stop_grace_s=self.stop_grace_s,
            repositories=dict(self.repositories),
            machine_bins=dict(self.machine_bins),
        )

    def _new_job(self) -> tuple[str, int]:
        self._next_job += 1
        return "j" + "".join(secrets.choice(_ALPHABET) for _ in range(13)), self._next_job

    def _plan(self, machine_type: str) -> Plan:
        faults = self.faults
        error = None
        if machine_matches(faults.error_machines, machine_type):
            error = faults.error_machines.get(machine_type, faults.error_machines.get("*"))
            error = error or DEFAULT_ERROR_MESSAGE
        interrupts = faults.interrupt_machines
        return Plan(
            start_delay_s=faults.start_delay_s,
            stuck=machine_matches(faults.stuck_machines, machine_type),
            error=error,
            replay_line_delay_s=faults.replay_line_delay_s,
            log_line_limit=faults.log_line_limit,
            start_states=faults.start_states,
            interrupt=interrupts.get(machine_type, interrupts.get("*")),
            teardown_s=faults.teardown_s,
            late_log_every=faults.late_log_every,
            late_log_s=faults.late_log_s,
        )

    def _with_replay(self, plan: Plan, notebook: FakeNotebook) -> Plan:
        replay = self.faults.replay_log
        text = replay(notebook) if callable(replay) else replay
        return dataclasses.replace(plan, replay=text)

    def spawn(self, spec: NotebookSpec, *, start: bool = True) -> FakeNotebook:
        """Register a new notebook and (unless ``start`` is false: it stays ``Stopped``) start it."""
        with self.lock:
            while True:
                handle = "n" + "".join(secrets.choice(_ALPHABET) for _ in range(9))
                if handle not in self._notebooks:
                    break
            self._next_id += 1
            job_handle, job_id = self._new_job()
            notebook = FakeNotebook(
                handle=handle,
                numeric_id=self._next_id,
                job_handle=job_handle,
                job_id=job_id,
                spec=spec,
                plan=self._plan(spec.machine_type),
                settings=self._runtime_settings(),
                on_internal_error=self._internal_error,
            )
            self._notebooks[handle] = notebook
        if start:
            notebook.plan = self._with_replay(notebook.plan, notebook)
            notebook.start()
        else:
            notebook.scratch.mkdir(parents=True, exist_ok=True)
            notebook.state = "Stopped"
        return notebook

    def restart(self, notebook: FakeNotebook) -> None:
        with self.lock:
            job_handle, job_id = self._new_job()
        plan = self._with_replay(self._plan(notebook.spec.machine_type), notebook)
        notebook.restart(job_handle=job_handle, job_id=job_id, plan=plan)
