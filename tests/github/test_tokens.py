"""Any GitHub token: who it writes as (never a hard-coded name), check runs only for App tokens,
Dependabot runs read-only like forks, 429s with or without Retry-After, and a stalled GitHub.
Real PyGithub against the fake GitHub API."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest
from github.Auth import Token
from github.GithubException import GithubException
from github.GithubRetry import GithubRetry
from github.MainClass import Github

from gradient_runtime_test.errors import UsageError
from gradient_runtime_test.github import checks
from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.client import (
    Identity,
    TokenKind,
    github_retry,
    identity,
    make_github,
    token_kind,
)
from gradient_runtime_test.github.comment import LiveComment, upsert_comment
from gradient_runtime_test.github.context import GitHubContext
from gradient_runtime_test.github.publish import publish
from gradient_runtime_test.results import CellStatus
from tests.fakes.github import APP_ONLY, FakeGitHub
from tests.github.helpers import HEAD, PERSONAL, PR, cell, run_of
from tests.github.test_context import load

pytestmark = pytest.mark.server

MakeGh = Callable[..., Github]
APP_ONE, APP_TWO = "ghs_app_one", "ghs_app_two"
RUN = run_of(cell("A4000"), cell("P5000", CellStatus.FAILED, "notebooks/a.ipynb"))


@pytest.fixture
def apps(fake: FakeGitHub) -> FakeGitHub:
    fake.add_token(APP_ONE, kind="installation", app_slug="runtime-tester")
    fake.add_token(APP_TWO, kind="installation", app_slug="other-tester")
    fake.add_token("0123abcd" * 5, kind="installation", app_slug="old-format")  # no prefix
    fake.add_token("legacy-personal", kind="personal", login="hubot")
    return fake


def test_token_kinds_by_their_prefix() -> None:
    assert token_kind("ghs_abc") is TokenKind.APP
    for personal in ("ghp_abc", "github_pat_11AB", "gho_x", "ghu_x"):
        assert token_kind(personal) is TokenKind.PERSONAL
    assert token_kind("0123abcd" * 5) is None and token_kind(None) is None


def test_identity_asks_github_only_when_the_prefix_does_not_tell(
    apps: FakeGitHub, make_gh: MakeGh
) -> None:
    assert identity(make_gh(APP_ONE), APP_ONE) == Identity(TokenKind.APP)
    assert apps.requests("GET", "^/user$") == []
    old = "0123abcd" * 5
    assert identity(make_gh(old), old) == Identity(TokenKind.APP)  # 403 on GET /user
    assert identity(make_gh("legacy-personal"), "legacy-personal") == Identity(
        TokenKind.PERSONAL, "hubot"
    )
    assert identity(make_gh(PERSONAL), PERSONAL) == Identity(TokenKind.PERSONAL, "octocat")


def test_an_app_token_learns_its_login_from_the_comment_it_creates(
    apps: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    live = LiveComment(
        make_gh(APP_ONE), dataclasses.replace(context, token=APP_ONE), "PyTorch 1.12", actions
    )
    live.start(RUN)
    [comment] = apps.comments_on(PR)
    assert comment.login == "runtime-tester[bot]"  # not github-actions[bot]
    live.finish(RUN)
    assert len(apps.comments_on(PR)) == 1
    assert len(apps.requests("PATCH", "/issues/comments/")) == 1


@pytest.mark.parametrize("second", [APP_TWO, "0123abcd" * 5])
def test_a_second_report_with_another_apps_token_edits_the_comment(
    apps: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, second: str
) -> None:
    first = upsert_comment(
        make_gh(APP_ONE), dataclasses.replace(context, token=APP_ONE), RUN, actions
    )
    later = dataclasses.replace(context, token=second, run_id="101")
    again = upsert_comment(make_gh(second), later, run_of(cell("A4000")), actions)

    assert again == first and actions.messages == []
    [comment] = apps.comments_on(PR)
    assert comment.login == "runtime-tester[bot]"  # edited in place, by the other App
    assert "P5000" not in comment.body
    assert len(apps.requests("POST", "/comments$")) == 1


def test_an_app_token_leaves_a_persons_comment_with_the_marker_alone(
    apps: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    from gradient_runtime_test.github import comment_body

    marker = comment_body.marker("PyTorch 1.12")
    quoted = apps.seed_comment(PR, f"{marker}\nquoted by a person", login="alice")
    upsert_comment(make_gh(APP_TWO), dataclasses.replace(context, token=APP_TWO), RUN, actions)
    assert [c.login for c in apps.comments_on(PR)] == ["alice", "other-tester[bot]"]
    assert apps.requests("PATCH", f"/issues/comments/{quoted}$") == []


def test_a_personal_token_gets_no_check_run_and_a_tip_saying_why(
    apps: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    mine = dataclasses.replace(context, token=PERSONAL)
    published = publish([RUN], mine, actions, github=make_gh(PERSONAL))

    assert len(published.comment_urls) == 1 and published.check_run_urls == ()
    assert apps.requests("POST", "/check-runs$") == []
    [(level, message)] = actions.messages
    assert level == "warning"
    assert "only GitHub App tokens can create check runs" in message
    assert "checks: write`)" not in message.split("only GitHub App")[0]


def test_the_fake_refuses_check_runs_to_personal_tokens(
    apps: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    repo = make_gh(PERSONAL).get_repo(apps.full_name)
    with pytest.raises(GithubException) as refused:
        repo.create_check_run("x", HEAD)
    assert refused.value.status == 403 and refused.value.data["message"] == APP_ONLY
    # a personal token not known as one: tried, refused, and the tip names the cause
    assert checks.publish_check_run(make_gh(PERSONAL), context, RUN, actions, head_sha=HEAD) is None
    [(_, message)] = actions.messages
    assert "only GitHub App tokens can create check runs" in message


def test_dependabot_runs_are_read_only_like_forks(
    apps: FakeGitHub, make_gh: MakeGh, actions: Actions
) -> None:
    by_actor = load("pull_request", GITHUB_ACTOR="dependabot[bot]")
    assert by_actor.read_only and by_actor.dependabot
    assert load("push", GITHUB_ACTOR="dependabot[bot]").read_only
    assert not load("pull_request", GITHUB_ACTOR="octocat").read_only

    publish([RUN], by_actor, actions, github=make_gh(APP_ONE))
    [(level, message)] = actions.messages
    assert level == "warning" and "Dependabot" in message and "job summary" in message
    assert apps.log == []


def test_a_pull_request_opened_by_dependabot_is_read_only(tmp_path: object) -> None:
    import json
    from pathlib import Path

    event = {
        "number": 9,
        "pull_request": {
            "number": 9,
            "user": {"login": "dependabot[bot]", "type": "Bot"},
            "head": {"sha": "3" * 40, "repo": {"full_name": "octo/runtimes"}},
            "base": {"repo": {"full_name": "octo/runtimes"}},
        },
    }
    path = Path(str(tmp_path)) / "event.json"
    path.write_text(json.dumps(event))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "octo/runtimes",
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_ACTOR": "maintainer",
    }
    context = GitHubContext.from_env(env)
    assert context is not None and context.pr_author == "dependabot[bot]" and context.read_only


def test_pygithub_alone_gives_up_on_a_429_without_retry_after(
    apps: FakeGitHub, context: GitHubContext
) -> None:
    apps.rate_limit("/issues/7/comments$", method="POST")
    gh = Github(auth=Token(APP_ONE), base_url=apps.url, retry=GithubRetry(total=3))
    with pytest.raises(GithubException) as raised:
        gh.get_repo(apps.full_name).get_issue(PR).create_comment("x")
    assert raised.value.status == 429
    gh.close()


def test_a_429_is_retried_with_or_without_retry_after(
    apps: FakeGitHub, context: GitHubContext, actions: Actions
) -> None:
    sleeps: list[float] = []
    gh = make_github(
        APP_ONE,
        apps.url,
        retry=github_retry(total=4, backoff_factor=1.0, sleep=sleeps.append),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    apps.rate_limit("/issues/7/comments$", method="POST", times=2)  # no Retry-After
    apps.rate_limit("/issues/comments/", method="PATCH", retry_after=9)
    mine = dataclasses.replace(context, token=APP_ONE)

    assert upsert_comment(gh, mine, RUN, actions) is not None
    assert upsert_comment(gh, mine, RUN, actions) is not None

    assert actions.messages == []
    assert [r.status for r in apps.requests("POST", "/comments$")] == [429, 429, 201]
    assert [r.status for r in apps.requests("PATCH", "/comments/")] == [429, 200]
    backoff, retry_after = sleeps[:2], sleeps[2:]
    assert all(0 < s <= 3.0 for s in backoff) and retry_after == [9.0]  # jittered; honoured
    gh.close()


def test_a_stalled_github_ends_each_request_by_its_timeout(
    apps: FakeGitHub, context: GitHubContext, actions: Actions
) -> None:
    gh = make_github(
        APP_ONE,
        apps.url,
        retry=github_retry(total=1, backoff_factor=0.0, sleep=lambda s: None),
        timeout=1,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    apps.stall("/issues/7/comments$", times=5)
    started = time.monotonic()

    url = upsert_comment(gh, dataclasses.replace(context, token=APP_ONE), RUN, actions)

    assert url is None and time.monotonic() - started < 10
    [(level, message)] = actions.messages
    assert level == "warning" and "timed out" in message.lower()
    gh.close()


def test_the_github_timeout_is_a_knob() -> None:
    assert load("push").timeout_s == 15.0
    assert load("push", GRT_GITHUB_TIMEOUT="40").timeout_s == 40.0
    with pytest.raises(UsageError, match="GRT_GITHUB_TIMEOUT"):
        load("push", GRT_GITHUB_TIMEOUT="0.2")
