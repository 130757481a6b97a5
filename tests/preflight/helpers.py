"""Matrices and an environment for `grt doctor` against the fake Paperspace API."""

from __future__ import annotations

from pathlib import Path

from tests.conftest_paperspace import FAKE_API_KEY, grt_environment
from tests.fakes.paperspace import FakePaperspace

PROJECT = "prj0doc"
# Machine types the fake offers; C7 is the cheapest CPU machine, A4000 cheaper still but a GPU.
MACHINES = """\
machines:
  C4: {accelerator: cpu}
  C5: {accelerator: cpu, price_per_hour: 0.09}
  C7: {accelerator: cpu, price_per_hour: 0.05}
  A4000: {accelerator: gpu, count: 1, model: A4000, memory_gb: 16, price_per_hour: 0.01}
  A6000: {accelerator: gpu, count: 1, model: A6000, memory_gb: 48, price_per_hour: 1.89}
"""
RUNTIME = """\
name: Doctor Runtime
container: paperspace/gradient-base:pt112
workspace: null
machines: [C5, A4000, A6000]
"""


def write_matrices(
    root: Path, *, runtime: str = RUNTIME, extra: dict[str, str] | None = None
) -> Path:
    matrices = root / "matrices"
    (matrices / "runtimes").mkdir(parents=True)
    (matrices / "machines.yaml").write_text(MACHINES)
    (matrices / "runtimes" / "doctor.yaml").write_text(runtime)
    for name, text in (extra or {}).items():
        (matrices / "runtimes" / f"{name}.yaml").write_text(text)
    return matrices


def doctor_env(fake: FakePaperspace, api_key: str = FAKE_API_KEY, **extra: str) -> dict[str, str]:
    tuning = {"GRT_POLL_INTERVAL": "0.05", "GRT_RETRY_BACKOFF": "0.02", "GRT_STARTUP_TIMEOUT": "20"}
    return grt_environment(fake, api_key=api_key, project=PROJECT, **{**tuning, **extra})


def writes(fake: FakePaperspace) -> list[str]:
    """Every request that could have changed something on the platform."""
    return [f"{r.method} {r.path}" for r in fake.requests if r.method != "GET"]
