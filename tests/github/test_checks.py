"""The check run against the fake GitHub API, through real PyGithub."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from github.MainClass import Github

from gradient_runtime_test.github import checks
from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.context import GitHubContext
from gradient_runtime_test.results import CellResult, CellStatus
from tests.fakes.github import FakeGitHub
from tests.github.helpers import HEAD, READ_ONLY, cell, run_of

MakeGh = Callable[..., Github]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((CellStatus.PASSED,), "success"),
        ((CellStatus.PASSED, CellStatus.FAILED), "failure"),
        ((CellStatus.PASSED, CellStatus.ERROR), "failure"),
        ((CellStatus.UNAVAILABLE, CellStatus.UNAVAILABLE), "neutral"),
        ((CellStatus.PASSED, CellStatus.UNAVAILABLE), "neutral"),
        ((CellStatus.PASSED, CellStatus.CANCELLED), "cancelled"),
        ((CellStatus.SKIPPED,), "skipped"),
    ],
)
def test_conclusion(statuses: tuple[CellStatus, ...], expected: str) -> None:
    run = run_of(*(cell(f"m{i}", s) for i, s in enumerate(statuses)))
    assert checks.conclusion(run) == expected


def test_annotations_point_at_notebooks_and_cover_broken_cells() -> None:
    run = run_of(
        cell("A4000", CellStatus.FAILED, "notebooks/intro/start.ipynb[rerun]", "checks/gpu.count"),
        CellResult("P5000", CellStatus.ERROR, reason="bundle truncated", log_tail=("boom",)),
        cell("V100", CellStatus.UNAVAILABLE),
    )
    notes = checks.failure_annotations(run)
    assert [(n["path"], n["title"]) for n in notes] == [
        ("intro/start.ipynb", "A4000: notebooks/intro/start.ipynb[rerun]"),
        ("matrices", "A4000: checks/gpu.count"),
        ("matrices", "P5000: error"),
    ]
    assert all(n["annotation_level"] == "failure" for n in notes)
    assert notes[2]["message"] == "bundle truncated"
    assert notes[2]["raw_details"] == "boom"


@pytest.mark.server
def test_annotations_are_sent_in_batches_of_50(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    run = run_of(*(cell(f"m{i}", CellStatus.FAILED, "nb/a", "nb/b", "nb/c") for i in range(40)))
    url = checks.publish_check_run(make_gh(), context, run, actions, head_sha=HEAD)
    assert url is not None, actions.messages
    [check] = fake.check_runs.values()
    assert check.name == "Gradient runtime test / PyTorch 1.12"
    assert check.head_sha == HEAD
    assert check.data["conclusion"] == "failure"
    assert check.data["status"] == "completed"
    assert len(check.annotations) == 120
    sizes = [
        len(r.body["output"].get("annotations", []))
        for r in fake.requests(path_regex="/check-runs")
    ]
    assert sizes == [50, 50, 20]
    assert check.data["output"]["title"] == "40 machines: 40 failed"
    assert "| Machine |" in check.data["output"]["summary"]


@pytest.mark.server
def test_no_annotations_no_update(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    checks.publish_check_run(make_gh(), context, run_of(cell("A4000")), actions, head_sha=HEAD)
    assert [r.method for r in fake.requests(path_regex="/check-runs")] == ["POST"]
    [check] = fake.check_runs.values()
    assert check.data["conclusion"] == "success"
    assert "annotations" not in check.data["output"]


@pytest.mark.server
def test_a_token_that_may_not_write_checks_warns(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    run = run_of(cell("A4000", CellStatus.FAILED, "nb/a"))
    assert (
        checks.publish_check_run(make_gh(READ_ONLY), context, run, actions, head_sha=HEAD) is None
    )
    [(level, message)] = actions.messages
    assert level == "warning"
    assert "may not write check runs" in message
    assert fake.check_runs == {}
