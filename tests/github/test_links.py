"""The artifact and the dashboard in what is published: the Action names them through
GRT_ARTIFACT_NAME and GRT_DASHBOARD_URL; the job summary and the PR comment link them, and a
failing notebook names its page and anchor in that artifact."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.context import GitHubContext
from gradient_runtime_test.github.publish import publish
from gradient_runtime_test.results import CellResult, CellStatus, TestResult, TestStatus
from tests.fakes.github import FakeGitHub
from tests.github.helpers import PR, run_of
from tests.github.test_publish import MakeGh

PAGE = "notebooks/P5000/a.html#cell-4"
RUN = run_of(
    CellResult(
        "P5000",
        CellStatus.FAILED,
        tests=(TestResult("notebooks/a.ipynb", TestStatus.FAILED, message="cell 4: E", html=PAGE),),
    )
)


def test_the_action_names_the_artifact_and_the_dashboard() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "octo/runtimes",
        "GITHUB_EVENT_NAME": "schedule",
        "GITHUB_RUN_ID": "77",
        "GRT_ARTIFACT_NAME": "grt-results-Example ",
        "GRT_DASHBOARD_URL": "https://octo.github.io/runtimes/",
    }
    context = GitHubContext.from_env(env, read_event=lambda _: {})
    assert context is not None
    assert (context.artifact, context.dashboard_url) == (
        "grt-results-Example",
        "https://octo.github.io/runtimes/",
    )
    bare = GitHubContext.from_env({**env, "GRT_ARTIFACT_NAME": "", "GRT_DASHBOARD_URL": ""})
    assert bare is not None and (bare.artifact, bare.dashboard_url) == ("", "")


@pytest.mark.server
def test_summary_and_comment_link_the_artifact_page_and_dashboard(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, tmp_path: Path
) -> None:
    context = dataclasses.replace(
        context,
        run_id="77",
        artifact="grt-results-PyTorch-1.12",
        dashboard_url="https://octo.github.io/runtimes/",
    )
    publish([RUN], context, actions, github=make_gh(), check_run=False)
    artifact = (
        f"[grt-results-PyTorch-1.12](https://github.com/{fake.full_name}/actions/runs/77#artifacts)"
    )
    line = f"📄 Executed notebook: `{PAGE}` in the artifact {artifact}"
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    [comment] = fake.comments_on(PR)
    for text in (summary, comment.body):
        assert line in text
        assert "(https://octo.github.io/runtimes/)" in text
