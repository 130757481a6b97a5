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
from typing import Any, Dict, List, Optional, Tuple

from .engine import (
    KERNEL_START_TIMEOUT_S,
    Failure,
    Job,
    Outcome,
    cell_details,
    cell_timeout_text,
    judge_cell,
)
from .kernelcode import (
    INSTALL_EXIT_CODE_HOOK,
    READ_EXIT_CODES,
    describe_exit_codes,
    needs_exit_code_check,
    parse_exit_codes,
)
from .model import Stopwatch
from .nbfile import RAISES_TAG, stream_text, tags
from .protocol import Status

HIDDEN_TIMEOUT_S = 30
# A kernel that dies while starting is started once more (see `_died_starting`).
KERNEL_START_ATTEMPTS = 2


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

        nbformat: Any = _nbformat

        watch = Stopwatch()
        nb = nbformat.from_dict(copy.deepcopy(job.nb))
        outcomes: List[Outcome] = []
        closing = None
        with contextlib.ExitStack() as stack:
            try:
                client = _start_kernel(stack, nb, job)
            except Exception as exc:
                return [Outcome(_plain(nb), _start_failure(job, exc), watch.elapsed())]
            finally:
                job.timing["kernel_start_s"] = watch.elapsed()
            # The kernel is ready: wait for a turn to run. Left before the kernel is shut down.
            stack.enter_context(job.slot)
            python = _language(client) == "python"
            if job.check_exit_codes and python:
                _hidden(client, job, INSTALL_EXIT_CODE_HOOK)
            for run in range(job.runs):
                if run:
                    nb = nbformat.from_dict(copy.deepcopy(job.nb))
                    client.nb = nb
                run_watch = Stopwatch()
                failure, early = _Run(client, nb, job, python).cells()
                outcomes.append(Outcome(_plain(nb), failure, run_watch.elapsed(), early))
                if failure is not None:
                    break
            closing = Stopwatch()
        if closing is not None:
            job.timing["shutdown_s"] = closing.elapsed()
        return outcomes


class _Run:
    """One run of a job's cells in the client's kernel."""

    def __init__(self, client: Any, nb: Any, job: Job, python: bool) -> None:
        self.client = client
        self.nb = nb
        self.job = job
        self.python = python

    def cells(self) -> Tuple[Optional[Failure], Optional[Tuple[int, Optional[int]]]]:
        """(the failure, if any; (index, execution count) of a cell that ended the run early)."""
        job = self.job
        deadline = time.monotonic() + job.timeout if job.timeout else None
        cell_limit = job.cell_timeout or math.inf
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            remaining = deadline - time.monotonic() if deadline is not None else math.inf
            if remaining <= 0:
                return _notebook_timeout(job, index, cell, started=False), None
            limit = min(cell_limit, remaining)
            self.client.timeout_func.seconds = None if limit == math.inf else max(0.1, limit)
            failure, ended = self._cell(index, cell, cut_short=remaining < cell_limit)
            if failure is not None:
                return failure, None
            if ended:
                return None, (index, cell.get("execution_count"))
        return None, None

    def _cell(self, index: int, cell: Any, cut_short: bool) -> Tuple[Optional[Failure], bool]:
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        job = self.job
        reply = None
        watch = Stopwatch()
        try:
            self.client.execute_cell(cell, index)
        except CellTimeoutError:
            if cut_short:
                return _notebook_timeout(job, index, cell), False
            return _cell_failure("CellTimeoutError", cell_timeout_text(job), index, cell), False
        except DeadKernelError:
            dead = _cell_failure(*_DEAD, index, cell)
            dead.execution_count = None  # whether the kernel said it before dying is a race
            return dead, False
        except CellExecutionError as exc:
            reply = (str(getattr(exc, "ename", "CellExecutionError")), _evalue(exc))
        finally:
            _add(job, "cells_s", watch.elapsed())
        allowed = job.allow_errors or RAISES_TAG in tags(cell)
        failure, ended = judge_cell(cell, index, allowed=allowed, reply=reply)
        if failure is None and not ended and self._exit_codes_to_check(cell):
            codes = parse_exit_codes(_hidden(self.client, job, READ_EXIT_CODES) or "")
            if codes:
                failure = _cell_failure("ExitCodeError", describe_exit_codes(codes), index, cell)
        return failure, ended

    def _exit_codes_to_check(self, cell: Any) -> bool:
        return self.job.check_exit_codes and self.python and needs_exit_code_check(cell.source)


_DEAD = ("DeadKernelError", "the kernel died while running this cell")


def _evalue(exc: Exception) -> str:
    """A CellExecutionError's exception value (older nbclient: the message's last line)."""
    value = getattr(exc, "evalue", None)
    if isinstance(value, str):
        return value
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else ""


def _add(job: Job, key: str, seconds: float) -> None:
    job.timing[key] = job.timing.get(key, 0.0) + seconds


def _cell_failure(ename: str, evalue: str, index: int, cell: Any) -> Failure:
    count = cell.get("execution_count")
    return Failure(
        Status.FAILED,
        ename,
        evalue,
        cell_details(cell),
        index,
        count if isinstance(count, int) else None,
    )


class _Limit:
    """nbclient's ``timeout_func``: the time the next cell may take, in (fractional) seconds."""

    def __init__(self) -> None:
        self.seconds: Optional[float] = None

    def __call__(self, cell: Any) -> Optional[float]:
        return self.seconds


def _hidden(client: Any, job: Job, code: str) -> Optional[str]:
    """Run ``code`` in the kernel outside the notebook (no history); its stdout, or None."""
    from nbformat import v4

    cell = v4.new_code_cell(code)  # type: ignore[no-untyped-call]
    cell.pop("id", None)
    client.nb.cells.append(cell)
    saved = client.timeout_func.seconds
    client.timeout_func.seconds = HIDDEN_TIMEOUT_S
    watch = Stopwatch()
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
    except Exception:
        return None
    finally:
        client.timeout_func.seconds = saved
        client.nb.cells.pop()
        _add(job, "hidden_s", watch.elapsed())
    return stream_text(cell)


def _language(client: Any) -> str:
    try:
        return str(client.km.kernel_spec.language).lower()
    except Exception:
        return ""


def _start_kernel(stack: contextlib.ExitStack, nb: Any, job: Job) -> Any:
    """A client of ``nb`` whose kernel is ready (shut down when ``stack`` closes). A kernel that
    died while starting is started once more; any other failure is raised at once."""
    from nbclient import NotebookClient

    attempts = KERNEL_START_ATTEMPTS
    while True:
        client: Any = NotebookClient(
            nb,
            kernel_name=job.kernel_name,
            resources={"metadata": {"path": job.cwd}},
            shutdown_kernel="immediate",
            allow_errors=job.allow_errors,
            startup_timeout=KERNEL_START_TIMEOUT_S,
        )
        client.timeout_func = _Limit()
        try:
            stack.enter_context(client.setup_kernel(env=dict(job.env)))
            return client
        except Exception as exc:
            attempts -= 1
            if not attempts or not _died_starting(exc):
                raise


def _died_starting(exc: Exception) -> bool:
    """Whether the kernel process exited while starting: a race over its ports with another
    process of the machine (jupyter_client picks free ports, then the kernel binds them) ends it
    so, and a second start gets other ports. A kernel that does not answer in time is not retried."""
    return "died before replying" in str(exc) or type(exc).__name__ == "ZMQError"


def _start_failure(job: Job, exc: Exception) -> Failure:
    if type(exc).__name__ == "NoSuchKernel":
        return Failure(
            Status.FAILED,
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
    value = "notebook did not finish within its %g s limit (timeout); %s" % (
        job.timeout or 0,
        "this cell was running" if started else "this cell was next",
    )
    failure = _cell_failure("NotebookTimeout", value, index, cell)
    if not started:
        failure.execution_count = None
    return failure


def _plain(nb: Any) -> Dict[str, Any]:
    """A NotebookNode as plain JSON data."""
    import json

    result: Dict[str, Any] = json.loads(json.dumps(nb))
    return result
