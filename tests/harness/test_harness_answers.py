"""What the harness records answers its spec exactly (``protocol.expected_tests``), in every shape
it takes: GPU, CPU and IPU machines, broken kernels and drivers, a step of the harness that
breaks, and the end-to-end runs over every notebook behaviour. The orchestrator turns a payload
that does not answer its spec into an error, so a gap here would turn good runs red."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness.engine import Failure, Job, Outcome
from gradient_runtime_test.harness.model import Recorder
from gradient_runtime_test.harness.protocol import Status, expected_tests
from gradient_runtime_test.harness.spec import parse_spec
from tests.harness.conftest import Runs
from tests.harness.helpers import fake_nvidia_smi, make_spec, run_checks
from tests.harness.test_harness_checks import TORCH_OK, FakeEngine, answers

GPU = {"name": "A4000", "accelerator": "gpu", "count": 1, "model": "A4000", "memory_gb": 16}
GPU2 = {"name": "A6000x2", "accelerator": "gpu", "count": 2, "model": "A6000", "memory_gb": 48}
IPU = {"name": "POD16", "accelerator": "ipu", "count": 16, "model": None, "memory_gb": None}
CHECKS = {
    "commands": ["sh", "no-such-command"],
    "imports": ["json", "numpy"],
    "optional_imports": ["numpy", "gradient"],
    "gradient_cli": True,
    "min_free_disk_gb": 0,
}
IMPORT_OK = {"ok": True, "version": "1", "seconds": 0.1}


class BrokenEngine(FakeEngine):
    """An engine whose probe kernel raises: the harness's kernel step breaks as a whole."""

    def execute(self, job: Job) -> list[Outcome]:
        raise RuntimeError("engine bug")


def _problems(tmp_path: Path, engine: FakeEngine, *, tools: Path | None, **spec: Any) -> list[str]:
    parsed = parse_spec(make_spec(tmp_path, checks=CHECKS, **spec))
    recorder = Recorder()
    path = [os.path.dirname(sys.executable), "/usr/bin:/bin"]
    run_checks(
        parsed,
        engine,
        {"PATH": os.pathsep.join([*map(str, [tools] if tools else []), *path])},
        recorder,
    )
    assert recorder.tests, "nothing recorded"
    return expected_tests(parsed).problems([t.to_json() for t in recorder.tests])


CASES = {
    "cpu": ({}, answers(import_json=IMPORT_OK, import_numpy=IMPORT_OK), False),
    "gpu, torch": ({"machine": GPU}, answers(cuda_torch=TORCH_OK), True),
    "gpu, no framework": ({"machine": GPU}, answers(), True),
    "gpu, no driver": ({"machine": GPU}, answers(), False),
    "two gpus": ({"machine": GPU2}, answers(), True),
    "ipu": ({"machine": IPU}, answers(), False),
    "no kernel": (
        {"machine": GPU},
        FakeEngine(answers(), Failure(Status.ERROR, "NoSuchKernel", "no python3")),
        True,
    ),
    "kernel dies": (
        {},
        FakeEngine(answers(), Failure(Status.FAILED, "DeadKernelError", "died", cell=1)),
        False,
    ),
    "kernel step breaks": ({"machine": GPU}, BrokenEngine(answers()), True),
}


@pytest.mark.parametrize(("spec", "engine", "smi"), CASES.values(), ids=CASES.keys())
def test_the_generic_checks_answer_their_spec(
    tmp_path: Path, spec: dict[str, Any], engine: Any, smi: bool
) -> None:
    if smi:
        gpus = 2 if spec.get("machine") == GPU2 else 1
        fake_nvidia_smi(
            tmp_path, [("NVIDIA RTX A6000" if gpus == 2 else "NVIDIA RTX A4000", 16376)] * gpus
        )
    engine = engine if isinstance(engine, FakeEngine) else FakeEngine(engine)
    assert _problems(tmp_path, engine, tools=tmp_path if smi else None, **spec) == []


def test_a_step_that_breaks_stands_in_for_its_results_and_nothing_else(tmp_path: Path) -> None:
    parsed = parse_spec(make_spec(tmp_path, checks=CHECKS, machine=GPU))
    recorder = Recorder()
    run_checks(parsed, BrokenEngine(answers()), {"PATH": "/usr/bin:/bin"}, recorder)
    tests = [t.to_json() for t in recorder.tests]
    assert [t["status"] for t in tests if t["name"] == "checks/kernel"] == ["error"]
    without_disk = [t for t in tests if t["name"] != "checks/disk.free"]
    assert expected_tests(parsed).problems(without_disk) == ["missing checks/disk.free"]


@pytest.mark.kernel
@pytest.mark.xdist_group("grt-harness-runs")
@pytest.mark.parametrize("name", ["main", "3.8", "3.9", "3.9-nbconvert"])
def test_every_end_to_end_run_answers_its_spec(harness_runs: Runs, name: str) -> None:
    run = harness_runs.get(name)
    spec_file = Path(run.argv[run.argv.index("--spec-file") + 1])
    spec = parse_spec(json.loads(spec_file.read_text(encoding="utf-8")))
    tests = run.payload["tests"]
    assert len(tests) > 10
    assert expected_tests(spec).problems(tests) == []
