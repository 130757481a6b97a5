"""Generic checks of a runtime: commands, Pythons, kernel, imports, GPU, CUDA, disk.

Imports, the kernel's Python and the CUDA sanity checks run in ONE kernel (started like a
notebook's, from the ``python3`` kernelspec), since that is where users' code runs; their
probe code is in ``kernelcode``.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .engine import Failure, Job, Outcome
from .gpu import check_gpus
from .kernelcode import CUDA_FRAMEWORKS, PROBE_HELPERS, parse_probe, probe_cuda, probe_import
from .model import Recorder, Stopwatch, guarded, tail
from .nbfile import stream_text
from .proc import run_command, which
from .protocol import GPU_CHECKS, KERNEL_CHECKS, Accelerator, Result, Spec, Status
from .schedule import Scheduler

PROBE_KERNEL = "python3"
PROBE_CELL_TIMEOUT_S = 300.0  # importing tensorflow on a cold disk can take minutes
COMMAND_TIMEOUT_S = 60.0
# The probe kernel's job, and its outcomes to come.
Probe = Tuple[Job, "concurrent.futures.Future[List[Outcome]]"]
_TERMINAL_PROBE = (
    "import sys, json, platform; print(json.dumps({'executable': sys.executable, "
    "'prefix': sys.prefix, 'version': platform.python_version()}))"
)


def start_checks(spec: Spec, scheduler: Scheduler, env: Mapping[str, str]) -> Probe:
    """Queue the probe kernel (first, so it starts while the other checks run)."""
    cwd = spec.workspace if os.path.isdir(spec.workspace) else os.getcwd()
    job = Job(
        _probe_notebook(spec),
        PROBE_KERNEL,
        cwd,
        env,
        cell_timeout=PROBE_CELL_TIMEOUT_S,
        check_exit_codes=False,
        allow_errors=True,
    )
    return job, scheduler.submit(job)


def finish_checks(spec: Spec, probe: Probe, env: Mapping[str, str], recorder: Recorder) -> None:
    """Run the checks that need no kernel, then record the probe kernel's."""
    for command in spec.checks.commands:
        recorder.add(_command(command, env))
    terminal = {name: _terminal_python(name, env, recorder) for name in ("python3", "python")}
    guarded(recorder, GPU_CHECKS, lambda: check_gpus(spec.machine, env, recorder))
    guarded(
        recorder,
        KERNEL_CHECKS,
        lambda: _kernel_checks(spec, probe, recorder, terminal),
    )
    if spec.checks.gradient_cli:
        recorder.add(_gradient_cli(env, recorder))
    recorder.add(_disk(spec.workspace, spec.checks.min_free_disk_gb, recorder))


def _command(name: str, env: Mapping[str, str]) -> Result:
    path = which(name, env)
    if path is None:
        return Result("checks/command." + name, Status.FAILED, "%s: not found on PATH" % name)
    return Result("checks/command." + name, Status.PASSED, path)


def _terminal_python(
    name: str, env: Mapping[str, str], recorder: Recorder
) -> Optional[Dict[str, Any]]:
    """Check ``name`` (python or python3) as a terminal user gets it; its facts, or None."""
    watch = Stopwatch()
    test = "checks/python." + name
    result = run_command([name, "-c", _TERMINAL_PROBE], env, COMMAND_TIMEOUT_S)
    if not result.ok:
        recorder.add(
            Result(test, Status.FAILED, result.describe_failure(), duration_s=watch.elapsed())
        )
        return None
    try:
        facts: Dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        recorder.add(
            Result(
                test, Status.FAILED, "unexpected output", tail(result.stdout, 2000), watch.elapsed()
            )
        )
        return None
    recorder.environment["terminal_%s" % name] = "%s %s" % (facts["version"], facts["executable"])
    recorder.add(
        Result(
            test,
            Status.PASSED,
            "Python %s at %s" % (facts["version"], facts["executable"]),
            duration_s=watch.elapsed(),
        )
    )
    return facts


def _probe_notebook(spec: Spec) -> Dict[str, Any]:
    sources = [PROBE_HELPERS]
    for module in _unique(spec.checks.imports + spec.checks.optional_imports):
        sources.append(probe_import(module))
    if spec.machine.accelerator is Accelerator.GPU:
        sources.extend(probe_cuda(framework) for framework in CUDA_FRAMEWORKS)
    cells: List[Dict[str, Any]] = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s}
        for s in sources
    ]
    return {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells}


def _unique(items: Sequence[str]) -> List[str]:
    seen: List[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


class _Probes:
    """Results of the probe notebook, cell by cell, with why a cell has none."""

    def __init__(self, nb: Dict[str, Any], failure: Optional[Failure]) -> None:
        self.cells = nb["cells"]
        self.failure = failure

    def result(self, index: int) -> Any:
        if index >= len(self.cells):
            return None
        return parse_probe(stream_text(self.cells[index]))

    def why_none(self, index: int) -> str:
        f = self.failure
        if f is not None and (f.cell is None or f.cell <= index):
            where = "" if f.cell is None or f.cell == index else " (in an earlier probe)"
            return "%s: %s%s" % (f.ename, f.evalue, where)
        text = stream_text(self.cells[index]) if index < len(self.cells) else ""
        return "the probe printed no result" + (": " + tail(text, 500) if text else "")


def _kernel_checks(
    spec: Spec,
    queued: Probe,
    recorder: Recorder,
    terminal: Mapping[str, Optional[Dict[str, Any]]],
) -> None:
    job, future = queued
    outcome = future.result()[0]
    probes = _Probes(outcome.nb, outcome.failure)
    recorder.environment["kernel_name"] = PROBE_KERNEL
    recorder.add(_kernel_python(probes, terminal, recorder, job.busy_s))

    index = 1
    required = set(spec.checks.imports)
    for module in _unique(spec.checks.imports + spec.checks.optional_imports):
        recorder.add(_import_result(module, module in required, probes, index))
        index += 1

    if spec.machine.accelerator is not Accelerator.GPU:
        recorder.add(Result("checks/cuda.sanity", Status.SKIPPED, "not a GPU machine"))
        return
    found = False
    for framework in CUDA_FRAMEWORKS:
        probe = probes.result(index)
        if probe is None:
            found = True
            recorder.add(Result("checks/cuda." + framework, Status.ERROR, probes.why_none(index)))
        elif probe.get("present"):
            found = True
            recorder.add(_cuda_result(framework, probe, spec.machine.count, recorder))
        index += 1
    if not found:
        recorder.add(
            Result(
                "checks/cuda.sanity",
                Status.SKIPPED,
                "none of %s is installed in the kernel" % ", ".join(CUDA_FRAMEWORKS),
            )
        )


def _kernel_python(
    probes: _Probes,
    terminal: Mapping[str, Optional[Dict[str, Any]]],
    recorder: Recorder,
    duration: float,
) -> Result:
    name = "checks/python.kernel"
    kernel = probes.result(0)
    if kernel is None:
        failure = probes.failure
        status = failure.status if failure is not None else Status.FAILED
        return Result(
            name,
            status,
            "no kernel: " + probes.why_none(0),
            failure.details if failure else "",
            duration,
        )
    recorder.environment["kernel_python"] = kernel["version"]
    recorder.environment["kernel_python_executable"] = kernel["executable"]
    wrong = []
    for cmd, facts in terminal.items():
        if facts is None:
            continue
        if (facts["prefix"], facts["version"]) != (kernel["prefix"], kernel["version"]):
            wrong.append(
                "terminal `%s` is %s %s (prefix %s)"
                % (cmd, facts["executable"], facts["version"], facts["prefix"])
            )
    described = "kernel runs %s %s (prefix %s)" % (
        kernel["executable"],
        kernel["version"],
        kernel["prefix"],
    )
    if wrong:
        return Result(
            name, Status.FAILED, described + "; but " + "; ".join(wrong), duration_s=duration
        )
    return Result(name, Status.PASSED, described + ", as in the terminal", duration_s=duration)


def _import_result(module: str, required: bool, probes: _Probes, index: int) -> Result:
    name = "checks/import." + module
    probe = probes.result(index)
    if probe is None:
        return Result(name, Status.ERROR, probes.why_none(index))
    seconds = float(probe.get("seconds", 0.0))
    if probe.get("ok"):
        version = probe.get("version") or "(no __version__)"
        return Result(name, Status.PASSED, "%s %s" % (module, version), duration_s=seconds)
    error = str(probe.get("error", "import failed"))
    details = str(probe.get("traceback", ""))
    if required:
        return Result(name, Status.FAILED, error, details, seconds)
    if probe.get("installed") is False:
        return Result(
            name, Status.SKIPPED, "optional module %s is not installed (%s)" % (module, error)
        )
    return Result(
        name,
        Status.FAILED,
        "optional module %s is installed but fails: %s" % (module, error),
        details,
        seconds,
    )


def _cuda_result(
    framework: str, probe: Dict[str, Any], expected: int, recorder: Recorder
) -> Result:
    name = "checks/cuda." + framework
    recorder.environment["%s_version" % framework] = probe.get("version")
    if probe.get("cuda"):
        recorder.environment["%s_cuda" % framework] = probe.get("cuda")
    if "error" in probe:
        return Result(name, Status.FAILED, str(probe["error"]), str(probe.get("traceback", "")))
    label = "%s %s" % (framework, probe.get("version"))
    if not probe.get("available"):
        return Result(
            name, Status.FAILED, "%s sees no GPU (CUDA build %s)" % (label, probe.get("cuda"))
        )
    count = int(probe.get("count", 0))
    if count != expected:
        return Result(
            name, Status.FAILED, "%s sees %d GPU(s), expected %d" % (label, count, expected)
        )
    ok = probe.get("matmul_ok", [])
    if not ok or not all(ok):
        bad = [str(i) for i, good in enumerate(ok) if not good]
        return Result(
            name, Status.FAILED, "%s: wrong matmul result on GPU(s) %s" % (label, ", ".join(bad))
        )
    return Result(
        name,
        Status.PASSED,
        "%s: %d GPU(s) (%s), matmul ok" % (label, count, ", ".join(probe.get("names", []))),
    )


def _gradient_cli(env: Mapping[str, str], recorder: Recorder) -> Result:
    watch = Stopwatch()
    result = run_command(["gradient", "version"], env, COMMAND_TIMEOUT_S)
    if not result.ok:
        return Result(
            "checks/gradient.cli",
            Status.FAILED,
            result.describe_failure(),
            tail(result.stderr, 2000),
            watch.elapsed(),
        )
    version = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    recorder.environment["gradient_cli"] = version
    return Result(
        "checks/gradient.cli", Status.PASSED, "gradient %s" % version, duration_s=watch.elapsed()
    )


def _disk(workspace: str, min_free_gb: float, recorder: Recorder) -> Result:
    path = os.path.abspath(workspace)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        free_gb = shutil.disk_usage(path).free / 1024**3
    except OSError as exc:
        return Result(
            "checks/disk.free", Status.FAILED, "cannot measure free space in %s: %s" % (path, exc)
        )
    recorder.environment["disk_free_gb"] = round(free_gb, 1)
    message = "%.1f GB free in %s (need %g GB)" % (free_gb, path, min_free_gb)
    return Result(
        "checks/disk.free", Status.PASSED if free_gb >= min_free_gb else Status.FAILED, message
    )
