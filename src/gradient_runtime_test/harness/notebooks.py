"""Running the spec's notebooks: one fresh kernel each, results, capped executed copies.

Notebooks are queued on a ``Scheduler`` (side by side where the spec allows); their results are
recorded in the spec's order, whatever order they finish in.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, List, Mapping, Tuple

from .capping import cap_notebook
from .engine import Job, Outcome
from .gpu import GpuSampler
from .model import Recorder, Stopwatch, guarded
from .nbfile import NotebookFileError, Prepared, kernel_name, language, prepare, read_notebook
from .protocol import NotebookEntry, Result, Spec, Status
from .schedule import Scheduler

MESSAGE_CHARS = 500


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
        lang = language(nb)
        if entry.parameters and lang not in (None, "python"):
            raise NotebookFileError(
                "parameters can only be injected into Python notebooks, this one is %s" % lang
            )
    except NotebookFileError as exc:
        unreadable = [Result(name, Status.ERROR, str(exc), duration_s=watch.elapsed())]
        if entry.rerun:
            unreadable.append(
                Result(rerun_name, Status.SKIPPED, "not rerun: the first run errored")
            )
        return functools.partial(_add_all, unreadable)
    prepared = prepare(nb, entry.parameters)
    job = Job(
        prepared.nb,
        kernel_name(nb, entry.kernel),
        os.path.dirname(os.path.abspath(path)),
        env,
        cell_timeout=entry.cell_timeout,
        timeout=entry.timeout,
        check_exit_codes=entry.check_exit_codes,
        runs=2 if entry.rerun else 1,
    )
    sampler = GpuSampler(env, spec.gpu_sample_interval_s) if sample_gpus else None
    future = scheduler.submit(job, during=None if sampler is None else (lambda: sampler))

    def finish(recorder: Recorder) -> None:
        outcomes = future.result()
        _record(
            recorder,
            entry=entry,
            spec=spec,
            prepared=prepared,
            outcomes=outcomes,
            total=job.busy_s,
        )
        ran = outcomes[0].failure is None or outcomes[0].failure.status is Status.FAILED
        if sampler is not None and sampler.samples and ran:
            recorder.metrics[name] = sampler.metrics()

    return finish


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
    total: float,
) -> None:
    name = entry.test_name
    rerun_name = name + "[rerun]"
    first = outcomes[0]
    rerun_time = sum(o.duration_s for o in outcomes[1:])
    recorder.add(_result(name, prepared, first, max(0.0, total - rerun_time)))
    _keep(recorder, spec, entry.path, first)
    if entry.rerun:
        if len(outcomes) > 1:
            second = outcomes[1]
            recorder.add(_result(rerun_name, prepared, second, second.duration_s))
            if second.failure is not None:
                _keep(recorder, spec, entry.path + "[rerun]", second)
        else:
            recorder.add(
                Result(rerun_name, Status.SKIPPED, "not rerun: the first run did not pass")
            )


def _result(name: str, prepared: Prepared, outcome: Outcome, duration: float) -> Result:
    failure = outcome.failure
    if failure is None:
        return Result(name, Status.PASSED, duration_s=duration)
    value = failure.evalue.strip().splitlines()[0] if failure.evalue.strip() else ""
    if len(value) > MESSAGE_CHARS:
        value = value[:MESSAGE_CHARS] + "..."
    message = failure.ename + (": " + value if value else "")
    if failure.cell is not None:
        message = "%s: %s" % (prepared.describe_cell(failure.cell), message)
    details = failure.details
    if failure.evalue.strip() != value and failure.evalue.strip() not in details:
        details = failure.evalue.strip() + ("\n\n" + details if details else "")
    return Result(name, failure.status, message, details, duration)


def _keep(recorder: Recorder, spec: Spec, key: str, outcome: Outcome) -> None:
    nb = outcome.nb
    notes = cap_notebook(nb, spec.caps.output_chars, spec.caps.notebook_chars)
    recorder.notebooks[key] = nb
    recorder.notes.extend("notebooks[%s]: %s" % (key, note) for note in notes)
