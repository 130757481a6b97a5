"""Running the spec's notebooks: one fresh kernel each, results, capped executed copies.

Notebooks are queued on a ``Scheduler`` (side by side where the spec allows); their results are
recorded in the spec's order, whatever order they finish in.

Verdicts (README "Notebook verdicts"): a notebook file that is missing is an ``error`` (the matrix
names a notebook the workspace does not have); one that is there but cannot be opened, or whose
kernel the runtime lacks, is ``failed`` (the runtime's workspace is what is broken). A notebook's
own ``metadata.execution.timeout`` (per cell) and ``allow_errors`` apply unless its matrix entry
sets ``cell_timeout`` or ``allow_errors``. Each result names the cell in the message and as data
(``cell``), says where the time went (``timing``), what was cut from the executed copy (``cut``),
and warns when far more time went outside the notebook's cells than into them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .capping import cap_notebook
from .engine import Job, Outcome
from .gpu import GpuSampler
from .model import Recorder, Stopwatch, guarded
from .nbfile import (
    NotebookFileError,
    NotebookMissing,
    Prepared,
    execution_options,
    invalid_copy,
    kernel_name,
    language,
    prepare,
    read_notebook,
)
from .protocol import CELL_TIMEOUT_S, TIMING_KEYS, NotebookEntry, Result, Spec, Status
from .schedule import Scheduler

MESSAGE_CHARS = 500
# A notebook gets a warning when at least this many seconds, and more than its cells took, went
# outside its cells (waiting for a turn aside, which is by design).
SLOW_OUTSIDE_S = 30.0


Finisher = Callable[[Recorder], None]


def start_notebooks(
    spec: Spec, scheduler: Scheduler, env: Mapping[str, str], *, sample_gpus: bool
) -> List[Tuple[NotebookEntry, Finisher]]:
    """Queue every notebook on ``scheduler``; each comes back with what records its results."""
    return [(entry, _start(entry, spec, scheduler, env, sample_gpus)) for entry in spec.notebooks]


def finish_notebooks(
    started: List[Tuple[NotebookEntry, Finisher]], recorder: Recorder, *, log: Any = None
) -> None:
    """Wait for each notebook in turn and record it, in the spec's order."""
    for entry, finish in started:
        guarded(recorder, entry.test_name, functools.partial(finish, recorder))
        if log is not None:
            for name in (entry.test_name, entry.test_name + "[rerun]"):
                result = recorder.get(name)
                if result is not None:
                    log("%s: %s %s" % (name, result.status.value, result.message))
                    for warning in result.warnings:
                        log("%s: warning: %s" % (name, warning))


def _start(
    entry: NotebookEntry,
    spec: Spec,
    scheduler: Scheduler,
    env: Mapping[str, str],
    sample_gpus: bool,
) -> Finisher:
    try:
        return start_notebook(entry, spec, scheduler, env, sample_gpus=sample_gpus)
    except Exception as exc:  # recorded as a harness error of this notebook only, in its turn
        error = exc

        def fail(recorder: Recorder) -> None:
            raise error

        return fail


def start_notebook(
    entry: NotebookEntry,
    spec: Spec,
    scheduler: Scheduler,
    env: Mapping[str, str],
    *,
    sample_gpus: bool = False,
) -> Finisher:
    """Read and queue one notebook; the returned function waits for it and records it."""
    name = entry.test_name
    rerun_name = name + "[rerun]"
    if entry.skip:
        skipped = [Result(name, Status.SKIPPED, entry.skip)]
        if entry.rerun:
            skipped.append(Result(rerun_name, Status.SKIPPED, entry.skip))
        return functools.partial(_add_all, skipped)
    watch = Stopwatch()
    path = os.path.join(spec.workspace, entry.path)
    try:
        nb = read_notebook(path)
    except NotebookFileError as exc:
        status = Status.ERROR if isinstance(exc, NotebookMissing) else Status.FAILED
        why = _MISSING if status is Status.ERROR else _BROKEN
        return _not_run(entry, Result(name, status, str(exc), why, watch.elapsed()))
    lang = language(nb)
    if entry.parameters and lang not in (None, "python"):
        problem = "parameters can only be injected into Python notebooks, this one is %s" % lang
        return _not_run(entry, Result(name, Status.ERROR, problem))
    prepared = prepare(nb, entry.parameters)
    job = _job(entry, nb, prepared, os.path.dirname(os.path.abspath(path)), env)
    sampler = GpuSampler(env, spec.gpu_sample_interval_s) if sample_gpus else None
    future = scheduler.submit(job, during=None if sampler is None else (lambda: sampler))

    def finish(recorder: Recorder) -> None:
        outcomes = future.result()
        _record(recorder, entry=entry, spec=spec, prepared=prepared, outcomes=outcomes, job=job)
        ran = outcomes[0].failure is None or outcomes[0].failure.status is Status.FAILED
        if sampler is not None and sampler.samples and ran:
            recorder.metrics[name] = sampler.metrics()

    return finish


_MISSING = (
    "The matrix lists this notebook, but the workspace does not hold it at this ref: no verdict"
    " on the runtime. Fix the path in the matrix or add the notebook; `grt plan --check-sources`"
    " checks notebooks before a run."
)
_BROKEN = (
    "The workspace holds this file, but Jupyter could not open it as a notebook either: the"
    " runtime's workspace is what is broken. Fix or replace the file at this ref."
)


def _job(
    entry: NotebookEntry,
    nb: Dict[str, Any],
    prepared: Prepared,
    cwd: str,
    env: Mapping[str, str],
) -> Job:
    """The engine's job: the matrix entry's options, else the notebook's own
    ``metadata.execution`` (``timeout`` per cell, ``allow_errors``), else the defaults."""
    own = execution_options(nb)
    cell_timeout: Optional[float] = CELL_TIMEOUT_S
    source = "cell_timeout"
    if entry.cell_timeout is not None:
        cell_timeout = entry.cell_timeout
    elif "timeout" in own:  # None there: no per-cell limit
        cell_timeout, source = own["timeout"], "the notebook's metadata.execution.timeout"
    allow_errors = entry.allow_errors
    if allow_errors is None:
        allow_errors = bool(own.get("allow_errors", False))
    return Job(
        prepared.nb,
        kernel_name(nb, entry.kernel),
        cwd,
        env,
        cell_timeout=cell_timeout,
        timeout=entry.timeout,
        check_exit_codes=entry.check_exit_codes,
        runs=2 if entry.rerun else 1,
        allow_errors=allow_errors,
        cell_timeout_from=source,
    )


def _not_run(entry: NotebookEntry, result: Result) -> Finisher:
    results = [result]
    if entry.rerun:
        why = "not rerun: the first run %s" % (
            "failed" if result.status is Status.FAILED else "errored"
        )
        results.append(Result(entry.test_name + "[rerun]", Status.SKIPPED, why))
    return functools.partial(_add_all, results)


def _add_all(results: List[Result], recorder: Recorder) -> None:
    for result in results:
        recorder.add(result)


def _record(
    recorder: Recorder,
    *,
    entry: NotebookEntry,
    spec: Spec,
    prepared: Prepared,
    outcomes: List[Outcome],
    job: Job,
) -> None:
    name = entry.test_name
    rerun_name = name + "[rerun]"
    first = outcomes[0]
    rerun_time = sum(o.duration_s for o in outcomes[1:])
    timing = _timing(job)
    result = _result(name, prepared, first, max(0.0, job.busy_s - rerun_time))
    cut = _keep(recorder, spec, entry.path, first, prepared)
    invalid = invalid_copy(first.nb)  # never expected: said rather than kept quiet
    warnings = _slow(timing) + (
        ("executed copy is not valid nbformat: " + invalid,) if invalid else ()
    )
    recorder.add(dataclasses.replace(result, timing=timing, cut=cut, warnings=warnings))
    if entry.rerun:
        if len(outcomes) > 1:
            second = outcomes[1]
            result = _result(rerun_name, prepared, second, second.duration_s)
            if second.failure is not None:
                cut = _keep(recorder, spec, entry.path + "[rerun]", second, prepared)
                result = dataclasses.replace(result, cut=cut)
            recorder.add(dataclasses.replace(result, timing={"cells_s": second.duration_s}))
        else:
            recorder.add(
                Result(rerun_name, Status.SKIPPED, "not rerun: the first run did not pass")
            )


def _result(name: str, prepared: Prepared, outcome: Outcome, duration: float) -> Result:
    failure = outcome.failure
    if failure is None:
        message = ""
        if outcome.ended_early is not None:
            index, count = outcome.ended_early
            message = "ended early: %s raised SystemExit with a success code" % (
                prepared.describe_cell(index, count)
            )
            return Result(name, Status.PASSED, message, "", duration, prepared.position(index))
        return Result(name, Status.PASSED, duration_s=duration)
    value = failure.evalue.strip().splitlines()[0] if failure.evalue.strip() else ""
    if len(value) > MESSAGE_CHARS:
        value = value[:MESSAGE_CHARS] + "..."
    message = failure.ename + (": " + value if value else "")
    if failure.cell is not None:
        where = prepared.describe_cell(failure.cell, failure.execution_count)
        message = "%s: %s" % (where, message)
    details = failure.details
    if failure.evalue.strip() != value and failure.evalue.strip() not in details:
        details = failure.evalue.strip() + ("\n\n" + details if details else "")
    return Result(
        name, failure.status, message, details or message, duration, prepared.position(failure.cell)
    )


def _timing(job: Job) -> Dict[str, float]:
    """Where the job's time went (``protocol.TIMING_KEYS``); ``total_s`` includes the waiting."""
    timing = {"waiting_s": job.waited_s}
    timing.update(job.timing)
    timing["total_s"] = job.busy_s + job.waited_s
    return {key: timing[key] for key in TIMING_KEYS if key in timing}


def _slow(timing: Mapping[str, float]) -> Tuple[str, ...]:
    """A warning with the split when far more time went outside the cells than into them."""
    if "cells_s" not in timing:  # the engine could not tell (nbconvert killed on a timeout)
        return ()
    cells = timing["cells_s"]
    outside = timing["total_s"] - timing["waiting_s"] - cells
    if outside < SLOW_OUTSIDE_S or outside <= cells:
        return ()
    labels = (
        ("kernel_start_s", "kernel start"),
        ("waiting_s", "waiting for a turn"),
        ("hidden_s", "harness checks"),
        ("shutdown_s", "kernel shutdown"),
    )
    parts = ["%s %.1f s" % (label, timing[key]) for key, label in labels if key in timing]
    known = cells + sum(timing[key] for key, _ in labels if key in timing)
    parts.append("other %.1f s" % max(0.0, timing["total_s"] - known))
    return (
        "took %.1f s, of which %.1f s in its cells: %s"
        % (timing["total_s"], cells, ", ".join(parts)),
    )


def _keep(
    recorder: Recorder, spec: Spec, key: str, outcome: Outcome, prepared: Prepared
) -> Tuple[str, ...]:
    """Keep the executed copy, capped; what was cut from it."""
    nb = outcome.nb
    cuts = cap_notebook(nb, spec.caps.output_chars, spec.caps.notebook_chars, prepared.position)
    recorder.notebooks[key] = nb
    recorder.notes.extend("notebooks[%s]: %s" % (key, cut) for cut in cuts)
    return tuple(cuts)
