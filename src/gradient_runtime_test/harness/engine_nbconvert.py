"""The fallback engine: ``jupyter nbconvert --to notebook --execute`` in a subprocess.

Used when the harness's Python has no nbclient (Jupyter may live in another environment). The
notebook is rewritten before it runs: a hidden first cell moves the kernel into the notebook's
folder, counts executed cells into a file (so a dead kernel or a timeout can be placed), and
installs the ``!command`` exit-code hook; a hidden cell after each shell-command cell raises
``ExitCodeError``; a rerun is the cells once more. Hidden cells are removed from what is kept.

Differences from the nbclient engine: nbconvert runs with ``--allow-errors``, so cells after a
failing one still run (the first failure is the one reported); the whole-notebook limit covers
all runs and the kernel's start-up (plus ``STARTUP_ALLOWANCE_S``); kernels other than Python run
in a scratch folder rather than the notebook's.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import subprocess
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .engine import Failure, Job, Outcome, error_failure
from .kernelcode import (
    INSTALL_EXIT_CODE_HOOK,
    RAISE_ON_EXIT_CODES,
    chdir,
    count_cells,
    needs_exit_code_check,
)
from .model import Stopwatch, strip_ansi, tail
from .nbfile import RAISES_TAG, language, tags
from .proc import run_command, which
from .protocol import Status

STARTUP_ALLOWANCE_S = 60.0
TERM_GRACE_S = 5.0

# (kind, run, index): kind is "setup", "cell" or "check"; index is into the job's notebook
Step = Tuple[str, int, int]


class NbconvertEngine:
    name = "nbconvert"

    def __init__(self, env: Mapping[str, str]) -> None:
        version = run_command(["jupyter", "nbconvert", "--version"], env, 60)
        self.version = version.stdout.strip() if version.ok else "unavailable"

    def execute(self, job: Job) -> List[Outcome]:
        watch = Stopwatch()
        if which("jupyter", job.env) is None:
            return [_only(job, Failure(Status.ERROR, "EngineMissing", _NO_ENGINE), watch)]
        with tempfile.TemporaryDirectory(prefix="grt-nbconvert-") as tmp:
            progress = os.path.join(tmp, "progress")
            nb, steps = _build(job, progress)
            source = os.path.join(tmp, "notebook.ipynb")
            with open(source, "w", encoding="utf-8") as f:
                json.dump(nb, f)
            argv = [
                "jupyter",
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                "--allow-errors",
                "--ExecutePreprocessor.kernel_name=" + job.kernel_name,
                "--ExecutePreprocessor.timeout=%d"
                % (math.ceil(job.cell_timeout) if job.cell_timeout else -1),
                "--ExecutePreprocessor.shutdown_kernel=immediate",
                "--output-dir=" + tmp,
                "--output=executed.ipynb",
                source,
            ]
            limit = job.timeout * job.runs if job.timeout else None
            with job.slot:  # the kernel lives in the subprocess: take the turn before it
                watch = Stopwatch()
                returncode, stderr, timed_out = _run(
                    argv, job.env, (limit + STARTUP_ALLOWANCE_S) if limit else None
                )
            executed = os.path.join(tmp, "executed.ipynb")
            if not timed_out and os.path.exists(executed):
                with open(executed, encoding="utf-8") as f:
                    result = _joined(json.load(f))
                return _outcomes(job, result, steps, watch)
            step = _running_step(nb, steps, progress)
            failure = _classify(job, stderr, returncode, timed_out, step)
            return _partial(job, failure, step, watch)


_NO_ENGINE = "neither nbclient (in the harness's Python) nor `jupyter` (on PATH) is available to run notebooks"


def _build(job: Job, progress: str) -> Tuple[Dict[str, Any], List[Step]]:
    nb = copy.deepcopy(job.nb)
    python = (language(nb) or "python") == "python"
    cells: List[Dict[str, Any]] = []
    steps: List[Step] = []
    if python:
        setup = chdir(job.cwd) + count_cells(progress)
        if job.check_exit_codes:
            setup += INSTALL_EXIT_CODE_HOOK
        cells.append(_code(setup))
        steps.append(("setup", 0, -1))
    for run in range(job.runs):
        for index, cell in enumerate(job.nb["cells"]):
            cells.append(copy.deepcopy(cell))
            steps.append(("cell", run, index))
            if (
                python
                and job.check_exit_codes
                and cell.get("cell_type") == "code"
                and needs_exit_code_check(cell.get("source", ""))
            ):
                cells.append(_code(RAISE_ON_EXIT_CODES))
                steps.append(("check", run, index))
    nb["cells"] = cells
    if nb.get("nbformat_minor", 0) >= 5:
        for i, cell in enumerate(cells):
            cell.setdefault("id", "grt-%d" % i)
    return nb, steps


def _code(source: str) -> Dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def _run(
    argv: List[str], env: Mapping[str, str], timeout: Optional[float]
) -> Tuple[Optional[int], str, bool]:
    exe = which(argv[0], env) or argv[0]
    proc = subprocess.Popen(
        [exe, *argv[1:]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=timeout)
        return proc.returncode, err.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        pass
    # SIGTERM first: nbclient inside nbconvert then shuts its kernel down (the kernel runs in a
    # session of its own, so killing nbconvert's process group would leave it behind).
    for sig, grace in ((signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, None)):
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, sig)
        try:
            _, err = proc.communicate(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    return proc.returncode, (err or b"").decode("utf-8", "replace"), True


def _joined(nb: Dict[str, Any]) -> Dict[str, Any]:
    """Multi-line strings stored as lists of lines (as nbformat writes them) joined again."""
    for cell in nb.get("cells", []):
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        for out in cell.get("outputs", []):
            if isinstance(out.get("text"), list):
                out["text"] = "".join(out["text"])
            data = out.get("data")
            if isinstance(data, dict):
                for mime, value in data.items():
                    if isinstance(value, list) and mime.startswith("text/"):
                        data[mime] = "".join(value)
    return nb


def _is_error(cell: Mapping[str, Any]) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _outcomes(
    job: Job, result: Dict[str, Any], steps: List[Step], watch: Stopwatch
) -> List[Outcome]:
    per_run: List[List[Dict[str, Any]]] = [[] for _ in range(job.runs)]
    failures: List[Optional[Failure]] = [None] * job.runs
    for cell, (kind, run, index) in zip(result["cells"], steps):  # noqa: B905 (3.8: no strict=)
        if kind == "cell":
            per_run[run].append(cell)
        if failures[run] is not None or not _is_error(cell):
            continue
        if kind == "cell" and RAISES_TAG not in tags(cell):
            failures[run] = error_failure({"cells": [cell]}, 0)
            if failures[run] is not None:
                failures[run].cell = index  # type: ignore[union-attr]
        elif kind == "check":
            found = error_failure({"cells": [cell]}, 0)
            failures[run] = Failure(
                Status.FAILED,
                "ExitCodeError",
                found.evalue if found else "a shell command failed",
                "",
                index,
            )
    outcomes = []
    for run in range(job.runs):
        nb = dict(result)
        nb["cells"] = per_run[run]
        outcomes.append(Outcome(nb, failures[run], watch.elapsed() / job.runs))
        if failures[run] is not None:
            break
    return outcomes


def _running_step(nb: Mapping[str, Any], steps: List[Step], progress: str) -> Optional[Step]:
    """The step that was running when nbconvert stopped, from the executed-cell count."""
    try:
        with open(progress, encoding="utf-8") as f:
            count = int(f.read().strip() or "0")
    except (OSError, ValueError):
        return None
    executed = [
        step
        for cell, step in zip(nb["cells"], steps)  # noqa: B905 (3.8: no strict=)
        if step[0] != "setup"
        and cell.get("cell_type") == "code"
        and cell.get("source", "").strip()
        and "skip-execution" not in tags(cell)
    ]
    if 0 < count <= len(executed):
        return executed[count - 1]
    return None


def _classify(
    job: Job, stderr: str, returncode: Optional[int], timed_out: bool, step: Optional[Step]
) -> Failure:
    cell = step[2] if step else None
    details = tail(strip_ansi(stderr), 8000)
    if timed_out:
        return Failure(
            Status.FAILED,
            "NotebookTimeout",
            "notebook did not finish within its %g s limit (timeout)" % (job.timeout or 0),
            details,
            cell,
        )
    if "NoSuchKernel" in stderr or "No such kernel" in stderr:
        return Failure(
            Status.ERROR, "NoSuchKernel", "no kernelspec named %r" % job.kernel_name, details
        )
    if "DeadKernelError" in stderr or "Kernel died" in stderr:
        return Failure(
            Status.FAILED,
            "DeadKernelError",
            "the kernel died while running this cell",
            details,
            cell,
        )
    if "CellTimeoutError" in stderr or "timed out" in stderr:
        return Failure(
            Status.FAILED,
            "CellTimeoutError",
            "cell did not finish within its %g s limit (cell_timeout)" % (job.cell_timeout or 0),
            details,
            cell,
        )
    if "is not a Jupyter command" in stderr:
        return Failure(Status.ERROR, "EngineMissing", _NO_ENGINE, details)
    return Failure(
        Status.ERROR,
        "NbconvertError",
        "`jupyter nbconvert` exited with %s without a notebook" % returncode,
        details,
        cell,
    )


def _partial(job: Job, failure: Failure, step: Optional[Step], watch: Stopwatch) -> List[Outcome]:
    """Outcomes when nbconvert wrote nothing: runs before the failing one count as passed."""
    failed_run = step[1] if step else 0
    nb = copy.deepcopy(job.nb)
    outcomes = [Outcome(copy.deepcopy(nb), None, 0.0) for _ in range(failed_run)]
    outcomes.append(Outcome(nb, failure, watch.elapsed()))
    return outcomes


def _only(job: Job, failure: Failure, watch: Stopwatch) -> Outcome:
    return Outcome(copy.deepcopy(job.nb), failure, watch.elapsed())
