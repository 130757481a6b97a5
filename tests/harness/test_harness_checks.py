"""Checks that need a kernel, with a fake engine answering the probes (no kernel started)."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradient_runtime_test.harness.engine import Failure, Job, Outcome
from gradient_runtime_test.harness.model import Recorder
from gradient_runtime_test.harness.protocol import Status
from gradient_runtime_test.harness.spec import parse_spec
from tests.harness.helpers import fake_nvidia_smi, make_spec, run_checks

Answer = Callable[[str], Any]  # probe source -> probe result (None: no output)


class FakeEngine:
    name = "fake"
    version = "0"

    def __init__(self, answer: Answer, failure: Failure | None = None) -> None:
        self.answer = answer
        self.failure = failure
        self.jobs: list[Job] = []

    def execute(self, job: Job) -> list[Outcome]:
        self.jobs.append(job)
        cells = []
        for index, cell in enumerate(job.nb["cells"]):
            cell = dict(cell, outputs=[])
            failed_at = None if self.failure is None else self.failure.cell
            if self.failure is None or (failed_at is not None and index < failed_at):
                result = self.answer(cell["source"])
                if result is not None:
                    text = "GRT-PROBE " + json.dumps(result) + "\n"
                    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
            cells.append(cell)
        return [Outcome(dict(job.nb, cells=cells), self.failure, 0.1)]


THIS_PYTHON = {
    "executable": sys.executable,
    "prefix": sys.prefix,
    "version": platform.python_version(),
}


def answers(**by_call: Any) -> Answer:
    """Answers keyed by probe call: python=..., import_numpy=..., cuda_torch=..."""

    def answer(source: str) -> Any:
        if "_grt_python()" in source and "def _grt_emit" in source:
            return by_call.get("python", THIS_PYTHON)
        for key, value in by_call.items():
            kind, _, arg = key.partition("_")
            if f"_grt_{kind}({arg!r})" in source:
                return value
        return {"present": False} if "_grt_cuda(" in source else None

    return answer


def checks(tmp_path: Path, engine: FakeEngine, **spec: Any) -> dict[str, tuple[str, str]]:
    recorder = Recorder()
    env = {
        "PATH": os.pathsep.join([str(tmp_path), os.path.dirname(sys.executable), "/usr/bin:/bin"])
    }
    run_checks(parse_spec(make_spec(tmp_path, **spec)), engine, env, recorder)
    return {t.name: (t.status.value, t.message) for t in recorder.tests}


def test_imports_go_to_one_kernel(tmp_path: Path) -> None:
    engine = FakeEngine(answers(import_numpy={"ok": True, "version": "1.26.4", "seconds": 0.2}))
    result = checks(
        tmp_path, engine, checks={"imports": ["numpy"], "optional_imports": ["numpy", "gradient"]}
    )
    assert len(engine.jobs) == 1
    sources = [c["source"] for c in engine.jobs[0].nb["cells"]]
    assert sources[1:] == ["_grt_import('numpy')\n", "_grt_import('gradient')\n"]
    assert result["checks/import.numpy"] == ("passed", "numpy 1.26.4")
    assert result["checks/import.gradient"][0] == "error"  # the probe printed nothing


def test_kernel_python_must_match_the_terminal(tmp_path: Path) -> None:
    other = {"executable": "/opt/conda/bin/python", "prefix": "/opt/conda", "version": "3.9.1"}
    result = checks(tmp_path, FakeEngine(answers(python=other)))
    status, text = result["checks/python.kernel"]
    assert status == "failed"
    assert text.startswith("kernel runs /opt/conda/bin/python 3.9.1 (prefix /opt/conda); but ")
    assert "terminal `python3` is " in text


def test_kernel_that_does_not_start(tmp_path: Path) -> None:
    failure = Failure(Status.ERROR, "NoSuchKernel", "no kernelspec named 'python3'")
    result = checks(tmp_path, FakeEngine(answers(), failure), checks={"imports": ["json"]})
    assert result["checks/python.kernel"] == (
        "error",
        "no kernel: NoSuchKernel: no kernelspec named 'python3'",
    )
    assert result["checks/import.json"][0] == "error"


def test_kernel_death_during_an_import(tmp_path: Path) -> None:
    failure = Failure(Status.FAILED, "DeadKernelError", "the kernel died", cell=2)
    engine = FakeEngine(answers(import_a={"ok": True, "seconds": 0}), failure)
    result = checks(tmp_path, engine, checks={"imports": ["a", "b", "c"]})
    assert result["checks/import.a"][0] == "passed"
    assert result["checks/import.b"] == ("error", "DeadKernelError: the kernel died")
    assert result["checks/import.c"] == (
        "error",
        "DeadKernelError: the kernel died (in an earlier probe)",
    )


GPU = {"name": "A4000", "accelerator": "gpu", "count": 1, "model": "A4000", "memory_gb": 16}
TORCH_OK = {
    "present": True,
    "version": "2.1.0",
    "cuda": "12.1",
    "available": True,
    "count": 1,
    "names": ["NVIDIA RTX A4000"],
    "matmul_ok": [True],
}


def test_cuda_sanity_through_torch(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path)
    result = checks(tmp_path, FakeEngine(answers(cuda_torch=TORCH_OK)), machine=GPU)
    assert result["checks/cuda.torch"] == (
        "passed",
        "torch 2.1.0: 1 GPU(s) (NVIDIA RTX A4000), matmul ok",
    )
    assert "checks/cuda.sanity" not in result


def test_cuda_failures(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path)
    probes = answers(
        cuda_torch=dict(TORCH_OK, available=False, count=0),
        cuda_tensorflow=dict(TORCH_OK, version="2.15.0", count=2),
        cuda_jax={"present": True, "version": "0.4.1", "error": "RuntimeError: no CUDA"},
    )
    result = checks(tmp_path, FakeEngine(probes), machine=GPU)
    assert result["checks/cuda.torch"] == ("failed", "torch 2.1.0 sees no GPU (CUDA build 12.1)")
    assert result["checks/cuda.tensorflow"] == (
        "failed",
        "tensorflow 2.15.0 sees 2 GPU(s), expected 1",
    )
    assert result["checks/cuda.jax"] == ("failed", "RuntimeError: no CUDA")


def test_cuda_skipped_on_cpu_machines(tmp_path: Path) -> None:
    engine = FakeEngine(answers())
    result = checks(tmp_path, engine)
    assert result["checks/cuda.sanity"] == ("skipped", "not a GPU machine")
    assert not any("_grt_cuda('" in c["source"] for c in engine.jobs[0].nb["cells"])


def test_commands_disk_and_gradient_cli(tmp_path: Path) -> None:
    (tmp_path / "gradient").write_text("#!/bin/sh\nexit 3\n")
    (tmp_path / "gradient").chmod(0o755)
    result = checks(
        tmp_path,
        FakeEngine(answers()),
        checks={"commands": ["sh"], "gradient_cli": True, "min_free_disk_gb": 10**9},
    )
    assert result["checks/command.sh"][0] == "passed"
    assert result["checks/gradient.cli"] == ("failed", "`gradient version` exited with 3")
    assert result["checks/disk.free"][0] == "failed"
