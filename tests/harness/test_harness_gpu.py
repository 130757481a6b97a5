"""GPU checks against a fake ``nvidia-smi`` on PATH (the harness runs whatever is there)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gradient_runtime_test.harness.gpu import (
    GpuSampler,
    check_gpus,
    memory_matches,
    model_matches,
    parse_topology,
)
from gradient_runtime_test.harness.model import Recorder
from gradient_runtime_test.harness.protocol import Accelerator, Machine
from tests.harness.helpers import fake_nvidia_smi

A4000 = Machine("A4000", Accelerator.GPU, 1, "A4000", 16)
A6000X2 = Machine("A6000x2", Accelerator.GPU, 2, "A6000", 48)
C5 = Machine("C5", Accelerator.CPU, 0, None, None)


def run(machine: Machine, bin_dir: Path | None) -> Recorder:
    recorder = Recorder()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin" if bin_dir else "/usr/bin:/bin"}
    check_gpus(machine, env, recorder, timeout=10)
    return recorder


def statuses(recorder: Recorder) -> dict[str, str]:
    return {t.name: t.status.value for t in recorder.tests}


def message(recorder: Recorder, name: str) -> str:
    result = recorder.get(name)
    assert result is not None, name
    return result.message


def test_right_gpu_passes_and_facts_are_recorded(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, [("NVIDIA RTX A4000", 16376)])
    recorder = run(A4000, tmp_path)
    assert statuses(recorder) == {
        "checks/gpu.visible": "passed",
        "checks/gpu.count": "passed",
        "checks/gpu.model": "passed",
        "checks/gpu.memory": "passed",
    }
    env = recorder.environment
    assert (env["gpus"], env["gpu_memory_mib"]) == (["NVIDIA RTX A4000"], [16376])
    assert (env["driver"], env["cuda"]) == ("535.104.05", "12.2")


def test_wrong_model_fails(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, [("Quadro P4000", 8119)])
    recorder = run(A4000, tmp_path)
    assert statuses(recorder)["checks/gpu.model"] == "failed"
    assert message(recorder, "checks/gpu.model") == "expected model 'A4000', found Quadro P4000"
    assert statuses(recorder)["checks/gpu.memory"] == "failed"
    assert "expected 16 GB" in message(recorder, "checks/gpu.memory")


def test_wrong_count_fails(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, [("NVIDIA RTX A6000", 49140)])
    recorder = run(A6000X2, tmp_path)
    assert statuses(recorder)["checks/gpu.count"] == "failed"
    assert message(recorder, "checks/gpu.count") == (
        "expected 2 GPU(s) (2 x A6000 (48 GB)), found 1: NVIDIA RTX A6000"
    )


def test_gpu_machine_without_nvidia_smi_fails_naming_the_expectation() -> None:
    recorder = run(A4000, None)
    assert statuses(recorder) == {
        "checks/gpu.visible": "failed",
        "checks/gpu.count": "skipped",
        "checks/gpu.model": "skipped",
        "checks/gpu.memory": "skipped",
    }
    assert message(recorder, "checks/gpu.visible") == (
        "expected 1 x A4000 (16 GB), but no GPU is visible: nvidia-smi: not found on PATH"
    )


def test_gpu_machine_whose_driver_is_unreachable_fails(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, exit_code=9)
    recorder = run(A4000, tmp_path)
    text = message(recorder, "checks/gpu.visible")
    assert text.startswith("expected 1 x A4000 (16 GB), but no GPU is visible: ")
    assert "exited with 9" in text
    assert "NVIDIA driver" in text


def test_cpu_machine_passes_without_nvidia_smi() -> None:
    recorder = run(C5, None)
    assert statuses(recorder) == {"checks/gpu.count": "passed"}
    assert "gpus" not in recorder.environment


def test_cpu_machine_with_a_gpu_fails(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path)
    recorder = run(C5, tmp_path)
    assert statuses(recorder) == {"checks/gpu.count": "failed"}


def test_ipu_machine_skips_gpu_checks() -> None:
    recorder = run(Machine("POD16", Accelerator.IPU, 16, None, None), None)
    assert statuses(recorder) == {"checks/gpu.count": "skipped"}


def test_multi_gpu_topology_nvlink_passes_quietly(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, [("NVIDIA RTX A6000", 49140)] * 2)
    recorder = run(A6000X2, tmp_path)
    assert statuses(recorder)["checks/gpu.topology"] == "passed"
    assert message(recorder, "checks/gpu.topology") == "GPU0-GPU1: NV4"
    assert "GPU0" in recorder.environment["gpu_topology"]


SYS_TOPOLOGY = """\tGPU0\tGPU1\tNIC0\tCPU Affinity\tNUMA Affinity
GPU0\t X \tSYS\tNODE\t0-15\t0
GPU1\tSYS\t X \tSYS\t16-31\t1
NIC0\tNODE\tSYS\t X

Legend:
  X    = Self
  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes
"""


def test_topology_across_sockets_passes_with_a_warning(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, [("NVIDIA RTX A6000", 49140)] * 2, topology=SYS_TOPOLOGY)
    recorder = run(A6000X2, tmp_path)
    assert statuses(recorder)["checks/gpu.topology"] == "passed"
    assert message(recorder, "checks/gpu.topology").startswith(
        "warning: only linked across CPU sockets (GPU0-GPU1: SYS)"
    )


def test_parse_topology_ignores_nics_and_legend() -> None:
    assert parse_topology(SYS_TOPOLOGY) == {("GPU0", "GPU1"): "SYS"}
    assert parse_topology("") == {}


@pytest.mark.parametrize(
    ("mib", "gb", "ok"),
    [(16376, 16, True), (49140, 48, True), (81920, 80, True), (8119, 8, True), (8119, 16, False)],
)
def test_memory_tolerance(mib: int, gb: float, ok: bool) -> None:
    assert memory_matches(mib, gb) is ok


def test_model_matching_ignores_case_spaces_and_dashes() -> None:
    assert model_matches("NVIDIA RTX A4000", "a4000")
    assert model_matches("NVIDIA A100-SXM4-80GB", "A100 SXM4")
    assert not model_matches("NVIDIA RTX A4000", "A6000")


def test_sampler_keeps_peaks(tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, samples=[(10, 500), (90, 300), (50, 2000)])
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    with GpuSampler(env, 0.01) as sampler:
        deadline = time.monotonic() + 10
        while sampler.samples < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert sampler.metrics()["gpu_util_peak_pct"] == 90
    assert sampler.metrics()["gpu_mem_peak_mib"] == 2000
