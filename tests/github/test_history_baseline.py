"""The previous run from history: a comment that holds no state yet, and runs without a pull
request (schedule, dispatch), compare with it; a comment's own state still wins. Cost in the
check run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from github.MainClass import Github

from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.comment import upsert_comment
from gradient_runtime_test.github.context import GitHubContext
from gradient_runtime_test.github.publish import publish
from gradient_runtime_test.results import CellStatus
from tests.fakes.github import FakeGitHub
from tests.github.helpers import PR, cell, run_of

pytestmark = pytest.mark.server
MakeGh = Callable[..., Github]
HISTORY = {"A4000": ("failed", ("nb/a",)), "P5000": ("passed", ())}
NOW = run_of(cell("A4000"), cell("P5000", CellStatus.FAILED, "nb/b"))


def test_a_first_comment_compares_with_the_previous_run_in_history(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    upsert_comment(make_gh(), context, NOW, actions, baseline=HISTORY)
    body = fake.comments_on(PR)[0].body
    assert "- New failures:\n  - `P5000`: passed → failed (`nb/b`)" in body
    assert "- Fixed:\n  - `A4000`: failed → passed" in body


def test_a_comments_own_state_wins_over_history(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    gh = make_gh()
    upsert_comment(gh, context, NOW, actions)  # run 100 leaves its state in the comment
    later = dataclasses.replace(context, run_id="101")
    upsert_comment(gh, later, NOW, actions, baseline=HISTORY)
    assert "**Changes since the previous run:** none." in fake.comments_on(PR)[0].body


def test_a_scheduled_run_puts_the_changes_in_the_job_summary_and_cost_in_the_check_run(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, tmp_path: Path
) -> None:
    schedule = dataclasses.replace(context, event_name="schedule", pr_number=None)
    priced = run_of(
        dataclasses.replace(cell("A4000"), billed_s=1800, price_per_hour=0.76),
        cell("P5000", CellStatus.FAILED, "nb/b"),
    )
    publish([priced], schedule, actions, github=make_gh(), baselines={"PyTorch 1.12": HISTORY})
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "#### PyTorch 1.12\n\n**Changes since the previous run**" in summary
    assert "`P5000`: passed → failed (`nb/b`)" in summary
    assert fake.comments_on(PR) == []
    [check] = fake.check_runs.values()
    assert (
        r"Cost: billed \$0.38 (1 machine without a price not counted)"
        in check.data["output"]["summary"]
    )
