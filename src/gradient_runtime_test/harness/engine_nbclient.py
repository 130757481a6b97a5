"""Executing notebooks with the runtime's own nbclient, one cell at a time.

Running cell by cell (rather than ``NotebookClient.execute``) is what lets the harness enforce a
whole-notebook time limit, check ``!command`` exit codes after each cell and rerun the notebook in
the same kernel.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from typing import Any, Dict, List, Optional

from .engine import Failure, Job, Outcome, error_failure
from .kernelcode import (
    INSTALL_EXIT_CODE_HOOK,
    READ_EXIT_CODES,
    describe_exit_codes,
    needs_exit_code_check,
    parse_exit_codes,
)
from .model import Stopwatch, tail
from .nbfile import stream_text
from .protocol import Status

HIDDEN_TIMEOUT_S = 30


def nbclient_available() -> bool:
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:
        return False
    return True


class NbclientEngine:
    name = "nbclient"

    def __init__(self) -> None:
        import nbclient

        self.version = str(getattr(nbclient, "__version__", "?"))

    def execute(self, job: Job) -> List[Outcome]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecations in the runtime's Jupyter stack
            return self._execute(job)

    def _execute(self, job: Job) -> List[Outcome]:
        import nbformat as _nbformat
        from nbclient import NotebookClient

        nbformat: Any = _nbformat

        watch = Stopwatch()
        nb = nbformat.from_dict(copy.deepcopy(job.nb))
        client: Any = NotebookClient(
            nb,
            kernel_name=job.kernel_name,
            resources={"metadata": {"path": job.cwd}},
            shutdown_kernel="immediate",
            allow_errors=job.allow_errors,
        )
        client.timeout_func = _Limit()
        outcomes: List[Outcome] = []
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(client.setup_kernel(env=dict(job.env)))
            except Exception as exc:
                return [Outcome(_plain(nb), _start_failure(job, exc), watch.elapsed())]
            # The kernel is ready: wait for a turn to run. Left before the kernel is shut down.
            stack.enter_context(job.slot)
            python = _language(client) == "python"
            if job.check_exit_codes and python:
                _hidden(client, INSTALL_EXIT_CODE_HOOK)
            for run in range(job.runs):
                if run:
                    nb = nbformat.from_dict(copy.deepcopy(job.nb))
                    client.nb = nb
                run_watch = Stopwatch()
                failure = self._run_cells(client, nb, job, python)
                outcomes.append(Outcome(_plain(nb), failure, run_watch.elapsed()))
                if failure is not None:
                    break
        return outcomes

    def _run_cells(self, client: Any, nb: Any, job: Job, python: bool) -> Optional[Failure]:
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        deadline = time.monotonic() + job.timeout if job.timeout else None
        cell_limit = job.cell_timeout or math.inf
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            remaining = deadline - time.monotonic() if deadline is not None else math.inf
            if remaining <= 0:
                return _notebook_timeout(job, index, cell, started=False)
            limit = min(cell_limit, remaining)
            client.timeout_func.seconds = None if limit == math.inf else max(0.1, limit)
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                if remaining < cell_limit:
                    return _notebook_timeout(job, index, cell)
                return Failure(
                    Status.FAILED,
                    "CellTimeoutError",
                    "cell did not finish within its %g s limit (cell_timeout)"
                    % (job.cell_timeout or 0),
                    tail(stream_text(cell), 4000),
                    index,
                )
            except DeadKernelError:
                return _dead_kernel(index, cell)
            except CellExecutionError as exc:
                lines = str(exc).strip().splitlines() or [""]
                return error_failure(nb, index) or Failure(
                    Status.FAILED, "CellExecutionError", lines[-1], str(exc), index
                )
            if job.check_exit_codes and python and needs_exit_code_check(cell.source):
                codes = parse_exit_codes(_hidden(client, READ_EXIT_CODES) or "")
                if codes:
                    return Failure(
                        Status.FAILED,
                        "ExitCodeError",
                        describe_exit_codes(codes),
                        tail(stream_text(cell), 4000),
                        index,
                    )
        return None


class _Limit:
    """nbclient's ``timeout_func``: the time the next cell may take, in (fractional) seconds."""

    def __init__(self) -> None:
        self.seconds: Optional[float] = None

    def __call__(self, cell: Any) -> Optional[float]:
        return self.seconds


def _hidden(client: Any, code: str) -> Optional[str]:
    """Run ``code`` in the kernel outside the notebook (no history); its stdout, or None."""
    from nbformat import v4

    cell = v4.new_code_cell(code)  # type: ignore[no-untyped-call]
    cell.pop("id", None)
    client.nb.cells.append(cell)
    saved = client.timeout_func.seconds
    client.timeout_func.seconds = HIDDEN_TIMEOUT_S
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
    except Exception:
        return None
    finally:
        client.timeout_func.seconds = saved
        client.nb.cells.pop()
    return stream_text(cell)


def _language(client: Any) -> str:
    try:
        return str(client.km.kernel_spec.language).lower()
    except Exception:
        return ""


def _start_failure(job: Job, exc: Exception) -> Failure:
    if type(exc).__name__ == "NoSuchKernel":
        return Failure(
            Status.ERROR,
            "NoSuchKernel",
            "no kernelspec named %r (available: %s)" % (job.kernel_name, _kernelspecs()),
        )
    return Failure(
        Status.FAILED,
        "KernelStartError",
        "kernel %r did not start: %s: %s" % (job.kernel_name, type(exc).__name__, exc),
    )


def _kernelspecs() -> str:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
    except Exception:
        return "unknown"


def _notebook_timeout(job: Job, index: int, cell: Any, started: bool = True) -> Failure:
    return Failure(
        Status.FAILED,
        "NotebookTimeout",
        "notebook did not finish within its %g s limit (timeout); %s"
        % (job.timeout or 0, "this cell was running" if started else "this cell was next"),
        tail(stream_text(cell), 4000),
        index,
    )


def _dead_kernel(index: int, cell: Any) -> Failure:
    return Failure(
        Status.FAILED,
        "DeadKernelError",
        "the kernel died while running this cell",
        tail(stream_text(cell), 4000),
        index,
    )


def _plain(nb: Any) -> Dict[str, Any]:
    """A NotebookNode as plain JSON data."""
    import json

    result: Dict[str, Any] = json.loads(json.dumps(nb))
    return result
