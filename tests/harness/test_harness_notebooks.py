"""Running notebook entries, with a stand-in engine (the real one is covered end to end)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gradient_runtime_test.harness.engine import Failure, Job, Outcome
from gradient_runtime_test.harness.model import Recorder
from gradient_runtime_test.harness.protocol import Status
from gradient_runtime_test.harness.spec import parse_spec
from tests.harness.helpers import make_spec, run_notebooks


class ScriptedEngine:
    """Fails notebooks whose first cell is a key of ``failures``; raises for ``crash``."""

    name = "scripted"
    version = "0"

    def __init__(self, failures: dict[str, Failure] | None = None) -> None:
        self.failures = failures or {}
        self.jobs: list[Job] = []

    def execute(self, job: Job) -> list[Outcome]:
        self.jobs.append(job)
        first = job.nb["cells"][0]["source"]
        if first == "crash":
            raise RuntimeError("engine bug")
        failure = self.failures.get(first)
        if failure is not None:
            return [Outcome(job.nb, failure, 0.1)]
        return [Outcome(job.nb, None, 0.1) for _ in range(job.runs)]


def write(path: Path, *sources: str, language: str = "python") -> None:
    cells = [{"cell_type": "code", "source": s, "metadata": {}, "outputs": []} for s in sources]
    meta = {"kernelspec": {"name": "k", "language": language}}
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": meta, "cells": cells})
    )


def run(tmp_path: Path, engine: ScriptedEngine, notebooks: list[Any]) -> dict[str, tuple[str, str]]:
    recorder = Recorder()
    spec = parse_spec(make_spec(tmp_path, notebooks=notebooks))
    run_notebooks(spec, engine, {}, recorder, sample_gpus=False)
    return {t.name: (t.status.value, t.message) for t in recorder.tests}


def test_an_engine_crash_costs_one_notebook_only(tmp_path: Path) -> None:
    write(tmp_path / "a.ipynb", "crash")
    write(tmp_path / "b.ipynb", "fine")
    result = run(tmp_path, ScriptedEngine(), ["a.ipynb", "b.ipynb"])
    assert result == {
        "notebooks/a.ipynb": ("error", "harness error: RuntimeError: engine bug"),
        "notebooks/b.ipynb": ("passed", ""),
    }


def test_job_settings(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "a.ipynb", "fine")
    engine = ScriptedEngine()
    entry = {"path": "sub/a.ipynb", "timeout": 9, "cell_timeout": 3, "kernel": "other"}
    run(tmp_path, engine, [entry])
    (job,) = engine.jobs
    assert (job.kernel_name, job.cwd, job.timeout, job.cell_timeout, job.runs) == (
        "other",
        str(tmp_path / "sub"),
        9,
        3,
        1,
    )
    assert job.check_exit_codes


def test_rerun_is_skipped_when_the_first_run_fails(tmp_path: Path) -> None:
    write(tmp_path / "a.ipynb", "bad", "x")
    engine = ScriptedEngine({"bad": Failure(Status.FAILED, "ValueError", "v\nmore", "tb", 1)})
    result = run(tmp_path, engine, [{"path": "a.ipynb", "rerun": True}])
    assert result == {
        "notebooks/a.ipynb": ("failed", "cell 2: ValueError: v"),
        "notebooks/a.ipynb[rerun]": ("skipped", "not rerun: the first run did not pass"),
    }


def test_parameters_need_a_python_notebook(tmp_path: Path) -> None:
    write(tmp_path / "r.ipynb", "x <- 1", language="R")
    result = run(tmp_path, ScriptedEngine(), [{"path": "r.ipynb", "parameters": {"a": 1}}])
    assert result["notebooks/r.ipynb"] == (
        "error",
        "parameters can only be injected into Python notebooks, this one is r",
    )
