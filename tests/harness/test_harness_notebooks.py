"""Running notebook entries, with a stand-in engine (the real one is covered end to end)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gradient_runtime_test.harness import notebooks
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


def write_with_execution(path: Path, execution: dict[str, Any]) -> None:
    write(path, "fine")
    data = json.loads(path.read_text())
    data["metadata"]["execution"] = execution
    path.write_text(json.dumps(data))


def test_notebook_metadata_applies_unless_the_matrix_entry_sets_its_own(tmp_path: Path) -> None:
    write_with_execution(tmp_path / "a.ipynb", {"timeout": 7, "allow_errors": True})
    write_with_execution(tmp_path / "b.ipynb", {"timeout": -1})
    write(tmp_path / "c.ipynb", "fine")
    (tmp_path / "a2.ipynb").write_text((tmp_path / "a.ipynb").read_text())
    engine = ScriptedEngine()
    entries: list[Any] = [
        "a.ipynb",
        {"path": "b.ipynb"},
        "c.ipynb",
        {"path": "a2.ipynb", "cell_timeout": 3, "allow_errors": False},
    ]
    run(tmp_path, engine, entries)
    settings = [(j.cell_timeout, j.allow_errors, j.cell_timeout_from) for j in engine.jobs]
    metadata = "the notebook's metadata.execution.timeout"
    assert settings == [
        (7, True, metadata),
        (None, False, metadata),  # -1: no per-cell limit, as in nbclient
        (600, False, "cell_timeout"),
        (3, False, "cell_timeout"),
    ]


def test_a_broken_file_fails_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "broken.ipynb").write_text("{")
    recorder = Recorder()
    spec = parse_spec(make_spec(tmp_path, notebooks=["broken.ipynb", "gone.ipynb"]))
    run_notebooks(spec, ScriptedEngine(), {}, recorder, sample_gpus=False)
    broken, gone = recorder.tests
    assert (broken.status, gone.status) == (Status.FAILED, Status.ERROR)
    assert broken.message.startswith("invalid notebook JSON in ")
    assert "the runtime's workspace is what is broken" in broken.details
    assert gone.message.startswith("notebook not found: ")
    assert "`grt plan --check-sources`" in gone.details


def test_time_outside_the_cells_gets_a_warning_with_the_split() -> None:
    timing = {
        "kernel_start_s": 600.4,
        "waiting_s": 45.0,
        "cells_s": 0.2,
        "hidden_s": 0.1,
        "shutdown_s": 2.0,
        "total_s": 648.5,
    }
    assert notebooks._slow(timing) == (
        "took 648.5 s, of which 0.2 s in its cells: kernel start 600.4 s, waiting for a turn"
        " 45.0 s, harness checks 0.1 s, kernel shutdown 2.0 s, other 0.8 s",
    )
    # waiting for a turn is by design; a long notebook may take its time in its cells
    assert notebooks._slow(dict(timing, kernel_start_s=1.0, total_s=48.3)) == ()
    assert notebooks._slow(dict(timing, cells_s=700.0, total_s=1348.5)) == ()
    assert notebooks._slow({"waiting_s": 0.0, "total_s": 3600.0}) == ()  # no split known


def test_timing_of_a_job() -> None:
    job = Job({"cells": []}, "python3", ".", {})
    job.waited_s, job.busy_s = 1.5, 4.0
    job.timing.update(kernel_start_s=1.0, cells_s=2.0, shutdown_s=0.5)
    assert notebooks._timing(job) == {
        "kernel_start_s": 1.0,
        "waiting_s": 1.5,
        "cells_s": 2.0,
        "shutdown_s": 0.5,
        "total_s": 5.5,
    }
