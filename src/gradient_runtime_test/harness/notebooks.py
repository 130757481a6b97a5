"""Running the spec's notebooks: one fresh kernel each, results, capped executed copies."""

from __future__ import annotations

import contextlib
import functools
import os
from typing import Any, ContextManager, Mapping, Optional

from .capping import cap_notebook
from .engine import Engine, Job, Outcome
from .gpu import GpuSampler
from .model import Recorder, Result, Status, Stopwatch, guarded
from .nbfile import NotebookFileError, Prepared, kernel_name, language, prepare, read_notebook
from .spec import NotebookEntry, Spec

MESSAGE_CHARS = 500


def run_notebooks(
    spec: Spec,
    engine: Engine,
    env: Mapping[str, str],
    recorder: Recorder,
    *,
    sample_gpus: bool,
    log: Any = None,
) -> None:
    for entry in spec.notebooks:
        step = functools.partial(
            run_notebook, entry, spec, engine, env, recorder, sample_gpus=sample_gpus
        )
        guarded(recorder, entry.test_name, step)
        if log is not None:
            for name in (entry.test_name, entry.test_name + "[rerun]"):
                result = recorder.get(name)
                if result is not None:
                    log("%s: %s %s" % (name, result.status.value, result.message))


def run_notebook(
    entry: NotebookEntry,
    spec: Spec,
    engine: Engine,
    env: Mapping[str, str],
    recorder: Recorder,
    *,
    sample_gpus: bool = False,
) -> None:
    name = entry.test_name
    rerun_name = name + "[rerun]"
    if entry.skip:
        recorder.add(Result(name, Status.SKIPPED, entry.skip))
        if entry.rerun:
            recorder.add(Result(rerun_name, Status.SKIPPED, entry.skip))
        return
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
        recorder.add(Result(name, Status.ERROR, str(exc), duration_s=watch.elapsed()))
        if entry.rerun:
            recorder.add(Result(rerun_name, Status.SKIPPED, "not rerun: the first run errored"))
        return
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
    sampler: Optional[GpuSampler] = None
    context: ContextManager[Any] = contextlib.nullcontext()
    if sample_gpus:
        sampler = GpuSampler(env, spec.gpu_sample_interval_s)
        context = sampler
    with context:
        outcomes = engine.execute(job)
    total = watch.elapsed()
    first = outcomes[0]
    rerun_time = sum(o.duration_s for o in outcomes[1:])
    recorder.add(_result(name, prepared, first, total - rerun_time))
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
    ran = first.failure is None or first.failure.status is Status.FAILED
    if sampler is not None and sampler.samples and ran:
        recorder.metrics[name] = sampler.metrics()


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
