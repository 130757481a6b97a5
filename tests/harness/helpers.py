"""Helpers for the harness tests: fake tools on PATH, specs, running the harness."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gradient_runtime_test.harness.bundle import decode
from gradient_runtime_test.harness.checks import finish_checks, start_checks
from gradient_runtime_test.harness.engine import Engine
from gradient_runtime_test.harness.model import Recorder
from gradient_runtime_test.harness.notebooks import finish_notebooks, start_notebooks
from gradient_runtime_test.harness.protocol import Spec
from gradient_runtime_test.harness.schedule import Scheduler

REPO = Path(__file__).resolve().parents[2]
BUNDLE_ID = "c0ffee12"
NONCE = "harness-test-nonce"  # the cell's secret in every test spec


def write_script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)
    return path


def fake_nvidia_smi(
    bin_dir: Path,
    gpus: Sequence[tuple[str, int]] = (("NVIDIA RTX A4000", 16376),),
    *,
    driver: str = "535.104.05",
    cuda: str = "12.2",
    topology: str | None = None,
    exit_code: int = 0,
    samples: Sequence[tuple[int, int]] = ((37, 1200),),
) -> Path:
    """An ``nvidia-smi`` that answers the harness's queries for ``gpus`` (name, MiB).

    ``exit_code`` != 0 makes every call fail like a driver that cannot be reached. ``samples``
    are (utilisation %, memory MiB) answers to the sampling query, cycled per call.
    """
    if exit_code:
        return write_script(
            bin_dir / "nvidia-smi",
            "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA "
            f"driver.' >&2\nexit {exit_code}\n",
        )
    query = "\n".join(f"{name}, {mib}, {driver}" for name, mib in gpus)
    if topology is None:
        names = [f"GPU{i}" for i in range(len(gpus))]
        rows = ["\t" + "\t".join([*names, "CPU Affinity"])]
        for i, row in enumerate(names):
            cells = [" X " if i == j else "NV4" for j in range(len(gpus))]
            rows.append("\t".join([row, *cells, "0-7"]))
        topology = "\n".join(rows) + "\n\nLegend:\n  X    = Self\n"
    counter = bin_dir / "nvidia-smi.count"
    sample_cases = "\n".join(
        f"      {i}) printf '%s' {shlex.quote(_sample_text(u, m, len(gpus)))} ;;"
        for i, (u, m) in enumerate(samples)
    )
    body = f"""
case "$*" in
  *--query-gpu=name*) printf '%s\\n' {shlex.quote(query)} ;;
  *--query-gpu=utilization*)
    n=$(cat {shlex.quote(str(counter))} 2>/dev/null || echo 0)
    echo $(( (n + 1) % {len(samples)} )) > {shlex.quote(str(counter))}
    case $n in
{sample_cases}
    esac ;;
  "topo -m") printf '%s' {shlex.quote(topology)} ;;
  "") printf '%s\\n' '| NVIDIA-SMI {driver}   Driver Version: {driver}   CUDA Version: {cuda} |' ;;
  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 2 ;;
esac
"""
    return write_script(bin_dir / "nvidia-smi", body)


def _sample_text(util: int, mem: int, count: int) -> str:
    return "".join(f"{util}, {mem}\n" for _ in range(max(count, 1)))


def path_with(*dirs: Path | str, base: str | None = None) -> str:
    """A PATH of ``dirs`` followed by ``base`` (default: this process's PATH)."""
    parts = [str(d) for d in dirs]
    parts.append(os.environ.get("PATH", os.defpath) if base is None else base)
    return os.pathsep.join(parts)


def run_checks(spec: Spec, engine: Engine, env: Mapping[str, str], recorder: Recorder) -> None:
    """The generic checks alone, their probe kernel on ``engine``."""
    with Scheduler(engine, parallel=1, ahead=0) as scheduler:
        finish_checks(spec, start_checks(spec, scheduler, env), env, recorder)


def run_notebooks(
    spec: Spec, engine: Engine, env: Mapping[str, str], recorder: Recorder, *, sample_gpus: bool
) -> None:
    """The spec's notebooks alone, one after the other on ``engine``."""
    with Scheduler(engine, parallel=1, ahead=0) as scheduler:
        started = start_notebooks(spec, scheduler, env, sample_gpus=sample_gpus)
        finish_notebooks(started, recorder)


def make_spec(workspace: Path, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schema": 1,
        "bundle_id": BUNDLE_ID,
        "nonce": NONCE,
        "runtime": "Test runtime",
        "machine": {
            "name": "C5",
            "accelerator": "cpu",
            "count": 0,
            "model": None,
            "memory_gb": None,
        },
        "workspace": str(workspace),
        "checks": {
            "commands": [],
            "imports": [],
            "optional_imports": [],
            "gradient_cli": False,
            "min_free_disk_gb": 0,
        },
        "notebooks": [],
        "keep": "never",
        "end_delay_s": 0,
        "caps": {"output_chars": 2000, "notebook_chars": 100000, "bundle_chars": 4000000},
        "gpu_sample_interval_s": 0.2,
    }
    spec.update(overrides)
    return spec


class HarnessRun:
    """A harness started in a subprocess; ``wait()`` collects stdout, stderr and the payload."""

    def __init__(
        self,
        argv: Sequence[str],
        spec: Mapping[str, Any],
        spec_file: Path,
        env: Mapping[str, str],
        timeout: float = 240,
    ) -> None:
        spec_file.write_text(json.dumps(spec), encoding="utf-8")
        self.argv = [*argv, "--spec-file", str(spec_file)]
        self.timeout = timeout
        self.started = time.monotonic()
        self.out_path = spec_file.with_suffix(".out")
        self.err_path = spec_file.with_suffix(".err")
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(env)
            )
        self.returncode: int | None = None
        self.wall_s = 0.0

    def wait(self) -> HarnessRun:
        if self.returncode is None:
            try:
                self.returncode = self.proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
            self.wall_s = time.monotonic() - self.started
        return self

    @property
    def stdout(self) -> str:
        self.wait()
        return self.out_path.read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        self.wait()
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    @property
    def payload(self) -> dict[str, Any]:
        return decode(self.stdout, BUNDLE_ID, NONCE)

    def test(self, name: str) -> dict[str, Any]:
        for test in self.payload["tests"]:
            if test["name"] == name:
                return dict(test)
        raise AssertionError(f"no test {name!r} in {[t['name'] for t in self.payload['tests']]}")
