"""`grt run --provider gradient` under the fake Paperspace API's fault knobs.

Whatever goes wrong: every cell gets a status, no notebook is duplicated, none is left running.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.gradient_helpers import run_cells
from tests.fakes.paperspace import FakePaperspace

pytestmark = [pytest.mark.server, pytest.mark.kernel, pytest.mark.slow]


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
    code, cells, stderr = run_cells(fake, tmp_path)
    assert (code, cells["C5"]["status"]) == (0, "passed"), stderr
    assert_nothing_left(fake, 1)


def test_running_notebook_limit_means_wait_not_fail(fake: FakePaperspace, tmp_path: Path) -> None:
    fake.faults.running_limit = 1
    code, cells, stderr = run_cells(fake, tmp_path, "--max-parallel", "2", machines="[C5, A4000]")
    assert code == 0, stderr
    assert {m: c["status"] for m, c in cells.items()} == {"C5": "passed", "A4000": "passed"}
    assert "running notebook limit" in stderr.lower()
    assert_nothing_left(fake, 2)


def test_notebook_stuck_starting_is_an_error_and_is_ended(
    fake: FakePaperspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.faults.stuck_machines = {"C5"}
    code, cells, _ = run_cells(fake, tmp_path, env={"GRT_STARTUP_TIMEOUT": "2"})
    assert code == 1
    assert cells["C5"]["status"] == "error"
    assert cells["C5"]["reason"] == "notebook did not start within 2 s"
    assert_nothing_left(fake, 1)


def test_notebook_ending_in_error_is_an_error_with_reason(
    fake: FakePaperspace, tmp_path: Path
) -> None:
    fake.faults.error_machines = {"C5": "Failed to pull image"}
    code, cells, _ = run_cells(fake, tmp_path)
    assert code == 1
    assert cells["C5"]["status"] == "error"
    assert "ended in Error" in cells["C5"]["reason"]
    assert_nothing_left(fake, 1)


def test_start_up_delay_is_waited_for(fake: FakePaperspace, tmp_path: Path) -> None:
    fake.faults.start_delay_s = 2.0
    code, cells, stderr = run_cells(fake, tmp_path)
    assert (code, cells["C5"]["status"]) == (0, "passed"), stderr
    assert cells["C5"]["billed_s"] >= cells["C5"]["duration_s"] + 1.5


def test_long_log_lines_truncated_by_the_pipeline_still_decode(
    fake: FakePaperspace, tmp_path: Path
) -> None:
    fake.faults.log_line_limit = 1000  # bundle lines are shorter than what pipelines keep
    code, cells, stderr = run_cells(fake, tmp_path)
    assert (code, cells["C5"]["status"]) == (0, "passed"), stderr
