"""publish(): summary, outputs, comment and check run; reporting failures never raise."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from github.Auth import Token
from github.MainClass import Github

from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.comment import LiveComment
from gradient_runtime_test.github.context import GitHubContext
from gradient_runtime_test.github.publish import overall_conclusion, publish
from gradient_runtime_test.results import CellStatus
from tests.fakes.github import FakeGitHub
from tests.github.helpers import HEAD, INSTALLATION, PR, READ_ONLY, cell, outputs, run_of

MakeGh = Callable[..., Github]
RUN = run_of(
    cell("A4000"),
    cell("P5000", CellStatus.FAILED, "notebooks/a.ipynb"),
    cell("V100", CellStatus.UNAVAILABLE),
)


def test_overall_conclusion_is_the_worst() -> None:
    assert overall_conclusion([]) == CellStatus.SKIPPED
    assert overall_conclusion([run_of(cell("a"))]) == CellStatus.PASSED
    unavailable = run_of(cell("a", CellStatus.UNAVAILABLE))
    assert overall_conclusion([run_of(cell("a")), unavailable]) == CellStatus.UNAVAILABLE
    assert overall_conclusion([unavailable, RUN]) == CellStatus.FAILED


def test_outside_actions_writes_summary_and_outputs_only(tmp_path: Path) -> None:
    stream = io.StringIO()
    actions = Actions(stream, {}, output_path=tmp_path / "out", summary_path=tmp_path / "sum.md")
    published = publish(
        [RUN],
        None,
        actions,
        results_paths=[tmp_path / "results.json"],
        junit_paths=[tmp_path / "junit.xml"],
    )
    assert published.conclusion == CellStatus.FAILED
    assert outputs(tmp_path / "out") == {
        "results": str(tmp_path / "results.json"),
        "junit": str(tmp_path / "junit.xml"),
        "conclusion": "failed",
        "passed": "1",
        "failed": "1",
        "errored": "0",
        "unavailable": "1",
        "comment-url": "",
    }
    assert "| P5000 |" in (tmp_path / "sum.md").read_text(encoding="utf-8")
    assert "no pull request comment or check run" in stream.getvalue()


@pytest.mark.server
def test_publishes_comment_and_check_run(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, tmp_path: Path
) -> None:
    published = publish([RUN], context, actions, github=make_gh())
    assert actions.messages == []
    [comment] = fake.comments_on(PR)
    [check] = fake.check_runs.values()
    assert check.head_sha == HEAD
    assert published.comment_urls == (
        f"https://github.com/{fake.full_name}/pull/{PR}#issuecomment-{comment.id}",
    )
    assert outputs(tmp_path / "output")["comment-url"] == published.comment_urls[0]
    assert published.check_run_urls == (f"https://github.com/{fake.full_name}/runs/{check.id}",)
    assert fake.requests("GET", "^/user$") == []  # an App token (ghs_): no need to ask who it is


@pytest.mark.server
def test_a_factory_is_called_with_the_context(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    seen: list[GitHubContext] = []

    def factory(ctx: GitHubContext) -> Github:
        seen.append(ctx)
        return make_gh(ctx.token)

    publish([RUN], context, actions, github=factory, check_run=False)
    assert seen == [context]
    assert len(fake.comments_on(PR)) == 1
    assert fake.check_runs == {}


@pytest.mark.server
def test_a_read_only_token_still_writes_summary_and_outputs(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, tmp_path: Path
) -> None:
    published = publish([RUN], context, actions, github=make_gh(READ_ONLY))
    assert published.comment_urls == ()
    assert published.check_run_urls == ()
    levels = [level for level, _ in actions.messages]
    assert levels == ["warning", "warning"]  # one for the comment, one for the check run
    assert all("Resource not accessible by integration" in m for _, m in actions.messages)
    found = outputs(tmp_path / "output")
    assert found["conclusion"] == "failed"
    assert found["comment-url"] == ""
    assert "P5000" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert fake.comments_on(PR) == []


@pytest.mark.server
def test_a_fork_pull_request_skips_github_writes(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, tmp_path: Path
) -> None:
    fork = dataclasses.replace(context, is_fork=True, head_repository="mallory/runtimes")
    publish([RUN], fork, actions, github=make_gh())
    [(level, message)] = actions.messages
    assert level == "warning"
    assert "fork" in message and "job summary" in message
    assert fake.log == []
    assert outputs(tmp_path / "output")["failed"] == "1"


@pytest.mark.server
def test_no_token_warns(context: GitHubContext, actions: Actions) -> None:
    publish([RUN], dataclasses.replace(context, token=None), actions)
    [(level, message)] = actions.messages
    assert level == "warning"
    assert "No GitHub token" in message


@pytest.mark.server
def test_secondary_rate_limit_is_retried_after_retry_after(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, sleeps: list[float]
) -> None:
    fake.secondary_rate_limit("/issues/7/comments$", method="POST", retry_after=7)
    published = publish([RUN], context, actions, github=make_gh(), check_run=False)
    assert actions.messages == []
    assert len(published.comment_urls) == 1
    assert [r.status for r in fake.requests("POST", "/comments$")] == [403, 201]
    assert sleeps == [7.0]  # Retry-After honoured (through the injected sleeper)
    assert len(fake.comments_on(PR)) == 1


@pytest.mark.server
def test_a_5xx_burst_is_retried(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    fake.fail("/check-runs", times=2, status=503)
    fake.fail("/issues/comments/", times=1, status=502, method="PATCH")
    gh = make_gh()
    publish([RUN], context, actions, github=gh)
    publish([RUN], context, actions, github=gh)  # the second edits: PATCH is retried too
    assert actions.messages == []
    assert len(fake.comments_on(PR)) == 1
    assert len(fake.check_runs) == 2
    assert [r.status for r in fake.requests("PATCH", "/issues/comments/")] == [502, 200]


@pytest.mark.server
def test_a_dispatch_naming_only_a_pr_checks_the_pr_head(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    dispatch = dataclasses.replace(
        context, event_name="workflow_dispatch", head_sha=None, ref=f"refs/pull/{PR}/head"
    )
    run = dataclasses.replace(RUN, workspace_ref=f"refs/pull/{PR}/head")
    publish([run], dispatch, actions, github=make_gh())
    [check] = fake.check_runs.values()
    assert check.head_sha == HEAD
    assert len(fake.comments_on(PR)) == 1


@pytest.mark.server
def test_live_comments_are_finished_not_found_again(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    gh = make_gh()
    live = LiveComment(gh, context, RUN.runtime, actions, clock=lambda: 0.0)
    live.start(run_of(*(cell(c.machine, CellStatus.QUEUED) for c in RUN.cells)))
    before = len(fake.requests("GET", "/comments$"))
    published = publish([RUN], context, actions, github=gh, live_comments={RUN.runtime: live})
    assert len(fake.requests("GET", "/comments$")) == before
    assert published.comment_urls == (live.url,)
    assert "❌ failed" in fake.comments_on(PR)[0].body


@pytest.mark.server
def test_an_eager_client_works_too(
    fake: FakeGitHub, context: GitHubContext, actions: Actions
) -> None:
    with Github(
        auth=Token(INSTALLATION),
        base_url=fake.url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    ) as gh:
        publish([RUN], context, actions, github=gh)
    assert actions.messages == []
    assert fake.requests("GET", f"^/repos/{fake.full_name}$")
    assert fake.requests("GET", f"^/repos/{fake.full_name}/issues/{PR}$")
    assert len(fake.comments_on(PR)) == 1
    assert len(fake.check_runs) == 1
