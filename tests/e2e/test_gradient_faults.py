"""`grt run --provider gradient` under the fake Paperspace API's fault knobs.

Whatever goes wrong: every cell gets a status, no notebook is duplicated, none is left running.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gradient_helpers import grt_env, run_grt
from tests.e2e.workspace import make_matrices
from tests.fakes.paperspace import FakePaperspace

pytestmark = [pytest.mark.server, pytest.mark.kernel, pytest.mark.slow]


def run(
    fake: FakePaperspace, tmp_path: Path, *extra: str, machines: str = "[C5]"
) -> tuple[int, dict[str, Any], str]:
    matrices = make_matrices(tmp_path, machines=machines)
    out = tmp_path / "out"
    proc = run_grt(
        fake,
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
    )
    results = json.loads((out / "results.json").read_text())
    return proc.returncode, {c["machine"]: c for c in results["cells"]}, proc.stderr


def assert_nothing_left(fake: FakePaperspace, cells: int) -> None:
    assert len(fake.notebooks) == cells, "a notebook was duplicated"
    assert all(nb.deleted for nb in fake.notebooks.values()), "a notebook was left behind"


@pytest.mark.parametrize(
    "endpoint",
    [
        "createNotebook",
        "getNotebooks",
        "getNotebook",
        "/jobs/logs",
        "stopNotebook",
        "deleteNotebook",
        "updateTags",
    ],
)
@pytest.mark.parametrize("fault", ["5xx", "drop"])
def test_transient_faults_on_every_endpoint_are_retried(
    fake: FakePaperspace, tmp_path: Path, endpoint: str, fault: str
) -> None:
    if fault == "5xx":
        fake.faults.fail_next(endpoint, 2, status=502)
    else:
        fake.faults.drop_next(endpoint, 2)
    code, cells, stderr = run(fake, tmp_path)
    assert (code, cells["C5"]["status"]) == (0, "passed"), stderr
    assert_nothing_left(fake, 1)


def test_running_notebook_limit_means_wait_not_fail(fake: FakePaperspace, tmp_path: Path) -> None:
    fake.faults.running_limit = 1
    code, cells, stderr = run(fake, tmp_path, "--max-parallel", "2", machines="[C5, A4000]")
    assert code == 0, stderr
    assert {m: c["status"] for m, c in cells.items()} == {"C5": "passed", "A4000": "passed"}
    assert "running notebook limit" in stderr.lower()
    assert_nothing_left(fake, 2)


def test_notebook_stuck_starting_is_an_error_and_is_ended(
    fake: FakePaperspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.faults.stuck_machines = {"C5"}
    code, cells, _ = run_with_env(fake, tmp_path, {"GRT_STARTUP_TIMEOUT": "2"})
    assert code == 1
    assert cells["C5"]["status"] == "error"
    assert cells["C5"]["reason"] == "notebook did not start within 2 s"
    assert_nothing_left(fake, 1)


def test_notebook_ending_in_error_is_an_error_with_reason(
    fake: FakePaperspace, tmp_path: Path
) -> None:
    fake.faults.error_machines = {"C5": "Failed to pull image"}
    code, cells, _ = run(fake, tmp_path)
    assert code == 1
    assert cells["C5"]["status"] == "error"
    assert "ended in Error" in cells["C5"]["reason"]
    assert_nothing_left(fake, 1)


def test_start_up_delay_is_waited_for(fake: FakePaperspace, tmp_path: Path) -> None:
    fake.faults.start_delay_s = 2.0
    code, cells, stderr = run(fake, tmp_path)
    assert (code, cells["C5"]["status"]) == (0, "passed"), stderr
    assert cells["C5"]["billed_s"] >= cells["C5"]["duration_s"] + 1.5


def test_long_log_lines_truncated_by_the_pipeline_still_decode(
    fake: FakePaperspace, tmp_path: Path
) -> None:
    fake.faults.log_line_limit = 1000  # bundle lines are shorter than what pipelines keep
    code, cells, stderr = run(fake, tmp_path)
    assert (code, cells["C5"]["status"]) == (0, "passed"), stderr


def run_with_env(
    fake: FakePaperspace, tmp_path: Path, env: dict[str, str]
) -> tuple[int, dict[str, Any], str]:
    import subprocess
    import sys

    matrices = make_matrices(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradient_runtime_test",
            "run",
            "--matrices",
            str(matrices),
            "--runtime",
            "E2E Runtime",
            "--provider",
            "gradient",
            "--out",
            str(out),
            "--machine",
            "C5",
        ],
        env={**grt_env(fake), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    results = json.loads((out / "results.json").read_text())
    return proc.returncode, {c["machine"]: c for c in results["cells"]}, proc.stderr
