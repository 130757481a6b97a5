"""Running `grt` in a subprocess against the fake Paperspace API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest_paperspace import FAKE_API_KEY, grt_environment
from tests.e2e.workspace import make_matrices
from tests.fakes.paperspace import FakePaperspace

PROJECT = "prj0e2e"


def grt_env(fake: FakePaperspace) -> dict[str, str]:
    tuning = {
        "GRT_POLL_INTERVAL": "0.2",
        "GRT_UNAVAILABLE_DELAY": "0.5",
        "GRT_RETRY_BACKOFF": "0.05",
    }
    return grt_environment(fake, api_key=FAKE_API_KEY, project=PROJECT, **tuning)


def run_grt(
    fake: FakePaperspace, *argv: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        env={**grt_env(fake), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_args(matrices: Path, out: Path, *extra: str) -> list[str]:
    """`grt run` of the E2E runtime (tests/e2e/workspace.py) on the gradient provider."""
    return [
        "run",
        "--matrices",
        str(matrices),
        "--runtime",
        "E2E Runtime",
        "--provider",
        "gradient",
        "--out",
        str(out),
        *extra,
    ]


def run_cells(
    fake: FakePaperspace,
    tmp_path: Path,
    *extra: str,
    machines: str = "[C5]",
    env: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], str]:
    """Run the E2E runtime on `machines`; (exit code, cells by machine, stderr)."""
    matrices = make_matrices(tmp_path, machines=machines)
    out = tmp_path / "out"
    proc = run_grt(fake, *run_args(matrices, out, *extra), env=env)
    results = json.loads((out / "results.json").read_text())
    return proc.returncode, {c["machine"]: c for c in results["cells"]}, proc.stderr


def start_grt(fake: FakePaperspace, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        env=grt_env(fake),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
