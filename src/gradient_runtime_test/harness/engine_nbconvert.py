"""The fallback engine: ``jupyter nbconvert --to notebook --execute`` in a subprocess.

Used when the harness's Python has no nbclient (Jupyter may live in another environment). The
notebook is rewritten before it runs: a hidden first cell moves the kernel into the notebook's
folder, counts executed cells into a file (so a dead kernel or a timeout can be placed), and
installs the ``!command`` exit-code hook; a hidden cell after each shell-command cell raises
``ExitCodeError``; a rerun is the cells once more. Hidden cells are removed from what is kept.

nbconvert runs with ``--allow-errors`` (without it, it writes no notebook when a cell fails);
in Python kernels the hidden first cell then turns every cell after a failing one, or after a
clean ``SystemExit``, into nothing, as the nbclient engine stops there. Cells are judged alike by
both engines (``engine.judge_cell``), from the executed notebook and the errors the hidden cell
recorded.

Differences from the nbclient engine: the hidden cells take prompt numbers, so a notebook's
``In [k]`` run one higher than in Jupyter; errors that only a post-execute hook or a display
formatter showed do not stop the later cells (they still fail the notebook); the whole-notebook
limit covers all runs and the kernel's start-up (plus ``STARTUP_ALLOWANCE_S``); kernels other than
Python run in a scratch folder rather than the notebook's, and run every cell.
"""

from __future__ import annotations

import calendar
import contextlib
import copy
import json
import math
import os
import re
import signal
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .engine import (
    Failure,
    Job,
    Outcome,
    cell_details,
    cell_timeout_text,
    clear_from,
    judge_cell,
)
from .kernelcode import (
    INSTALL_EXIT_CODE_HOOK,
    RAISE_ON_EXIT_CODES,
    RESET,
    chdir,
    needs_exit_code_check,
    track_cells,
)
from .model import Stopwatch, strip_ansi, tail
from .nbfile import RAISES_TAG, error_outputs, language, tags
from .proc import run_command, which
from .protocol import Status

STARTUP_ALLOWANCE_S = 60.0
TERM_GRACE_S = 5.0

# (kind, run, index): kind is "setup", "cell", "check" or "reset"; index is into the job's
# notebook (-1 for setup and reset)
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
            files = _Files(tmp)
            nb, steps = _build(job, files)
            with open(files.source, "w", encoding="utf-8") as f:
                json.dump(nb, f)
            limit = job.timeout * job.runs if job.timeout else None
            with job.slot:  # the kernel lives in the subprocess: take the turn before it
                watch = Stopwatch()
                began = time.time()
                returncode, stderr, timed_out = _run(
                    _argv(job, files), job.env, (limit + STARTUP_ALLOWANCE_S) if limit else None
                )
                ended = time.time()
            if not timed_out and os.path.exists(files.executed):
                with open(files.executed, encoding="utf-8") as f:
                    result = _joined(json.load(f))
                _time(job, result["cells"], steps, began, ended)
                errors = _errors(result["cells"], steps, files.errors)
                return _outcomes(job, result, steps, errors, watch)
            step = _running_step(nb, steps, files.progress)
            failure = _classify(job, stderr, returncode, timed_out, step)
            return _partial(job, failure, step, watch)


class _Files:
    def __init__(self, tmp: str) -> None:
        self.dir = tmp
        self.source = os.path.join(tmp, "notebook.ipynb")
        self.executed = os.path.join(tmp, "executed.ipynb")
        self.progress = os.path.join(tmp, "progress")
        self.errors = os.path.join(tmp, "errors")


def _argv(job: Job, files: _Files) -> List[str]:
    return [
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
        "--output-dir=" + files.dir,
        "--output=executed.ipynb",
        files.source,
    ]


_NO_ENGINE = "neither nbclient (in the harness's Python) nor `jupyter` (on PATH) is available to run notebooks"


def _build(job: Job, files: _Files) -> Tuple[Dict[str, Any], List[Step]]:
    nb = copy.deepcopy(job.nb)
    python = (language(nb) or "python") == "python"
    cells: List[Dict[str, Any]] = []
    steps: List[Step] = []
    for run in range(job.runs):
        if run and python:
            cells.append(_code(RESET))
            steps.append(("reset", run, -1))
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
    if python:
        cells.insert(0, _code(""))
        steps.insert(0, ("setup", 0, -1))
        allowed = [
            n
            for n, step in enumerate(_numbered(cells, steps), 1)
            if step[0] == "cell"
            and (job.allow_errors or RAISES_TAG in tags(job.nb["cells"][step[2]]))
        ]
        setup = chdir(job.cwd) + track_cells(files.progress, files.errors, allowed)
        if job.check_exit_codes:
            setup += INSTALL_EXIT_CODE_HOOK
        cells[0]["source"] = setup
    nb["cells"] = cells
    if nb.get("nbformat_minor", 0) >= 5:
        for i, cell in enumerate(cells):
            cell.setdefault("id", "grt-%d" % i)
    return nb, steps


def _numbered(cells: List[Dict[str, Any]], steps: List[Step]) -> List[Step]:
    """The steps that take a prompt number, in order (the setup cell's is 1): code cells that
    run."""
    return [
        step
        for cell, step in zip(cells, steps)  # noqa: B905 (3.8: no strict=)
        if cell.get("cell_type") == "code"
        and (step[0] == "setup" or cell.get("source", "").strip())
        and "skip-execution" not in tags(cell)
    ]


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


def _errors(
    cells: List[Dict[str, Any]], steps: List[Step], path: str
) -> Dict[Step, Tuple[str, str]]:
    """The errors the tracker recorded, by step (found by the executed cells' prompt numbers):
    (ename, evalue)."""
    by_count = {
        cell.get("execution_count"): step
        for cell, step in zip(cells, steps)  # noqa: B905 (3.8: no strict=)
        if isinstance(cell.get("execution_count"), int)
    }
    found: Dict[Step, Tuple[str, str]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        try:
            entry = json.loads(line)
            step = by_count[entry["n"]]
        except (ValueError, KeyError, TypeError):
            continue
        found.setdefault(step, (str(entry.get("ename", "")), str(entry.get("evalue", ""))))
    return found


def _outcomes(
    job: Job,
    result: Dict[str, Any],
    steps: List[Step],
    errors: Dict[Step, Tuple[str, str]],
    watch: Stopwatch,
) -> List[Outcome]:
    per_run: List[List[Dict[str, Any]]] = [[] for _ in range(job.runs)]
    failures: List[Optional[Failure]] = [None] * job.runs
    early: List[Optional[Tuple[int, Optional[int]]]] = [None] * job.runs
    for cell, step in zip(result["cells"], steps):  # noqa: B905 (3.8: no strict=)
        kind, run, index = step
        if kind == "cell":
            per_run[run].append(cell)
        if failures[run] is not None or early[run] is not None:
            continue
        if kind == "cell":
            allowed = job.allow_errors or RAISES_TAG in tags(cell)
            failures[run], ended = judge_cell(cell, index, allowed=allowed, reply=errors.get(step))
            if ended:
                early[run] = (index, cell.get("execution_count"))
        elif kind == "check" and error_outputs(cell):
            checked = per_run[run][-1]
            failures[run] = Failure(
                Status.FAILED,
                "ExitCodeError",
                str(error_outputs(cell)[0].get("evalue", "")) or "a shell command failed",
                cell_details(checked),
                index,
                checked.get("execution_count"),
            )
    outcomes = []
    for run in range(job.runs):
        stopped = failures[run] or early[run]
        if stopped is not None:
            stop = stopped.cell if isinstance(stopped, Failure) else stopped[0]
            clear_from(per_run[run], (stop or 0) + 1)
        nb = dict(result)
        nb["cells"] = per_run[run]
        seconds = _cells_seconds(per_run[run]) or watch.elapsed() / job.runs
        outcomes.append(Outcome(nb, failures[run], seconds, early[run]))
        if failures[run] is not None:
            break
    return outcomes


_ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


def _when(value: Any) -> Optional[float]:
    """An ISO 8601 timestamp as nbclient records it (``metadata.execution``), in epoch seconds."""
    match = _ISO.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    parts = [int(g) for g in match.groups()[:6]]
    seconds = calendar.timegm((*parts, 0, 0, 0)) + float(match.group(7) or 0)
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


def _span(cell: Mapping[str, Any]) -> Optional[Tuple[float, float]]:
    execution = cell.get("metadata", {}).get("execution")
    if not isinstance(execution, dict):
        return None
    start = _when(execution.get("iopub.execute_input"))
    end = _when(execution.get("shell.execute_reply"))
    return (start, end) if start is not None and end is not None and end >= start else None


def _cells_seconds(cells: List[Dict[str, Any]]) -> float:
    spans = [_span(cell) for cell in cells]
    return sum(end - start for start, end in (s for s in spans if s is not None))


def _time(
    job: Job, cells: List[Dict[str, Any]], steps: List[Step], began: float, ended: float
) -> None:
    """The job's timing from the executed cells' timestamps and the subprocess's wall clock: the
    kernel's start counts from the start of ``jupyter nbconvert`` to the first cell."""
    spans = [(step, _span(cell)) for cell, step in zip(cells, steps)]  # noqa: B905 (3.8)
    known = [(step, span) for step, span in spans if span is not None]
    if not known:
        return
    job.timing["kernel_start_s"] = max(0.0, known[0][1][0] - began)
    job.timing["shutdown_s"] = max(0.0, ended - max(end for _, (_, end) in known))
    for step, (start, end) in known:
        key = "cells_s" if step[0] == "cell" else "hidden_s"
        job.timing[key] = job.timing.get(key, 0.0) + end - start


def _running_step(nb: Mapping[str, Any], steps: List[Step], progress: str) -> Optional[Step]:
    """The step that was running when nbconvert stopped, from the last prompt number that
    started."""
    try:
        with open(progress, encoding="utf-8") as f:
            count = int(f.read().strip() or "0")
    except (OSError, ValueError):
        return None
    numbered = _numbered(nb["cells"], steps)
    if 1 < count <= len(numbered):  # 1 is the setup cell
        return numbered[count - 1]
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
            Status.FAILED, "NoSuchKernel", "no kernelspec named %r" % job.kernel_name, details
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
            cell_timeout_text(job),
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
