"""Fixtures for the GitHub reporters: the fake API, clients for it, a context, the adapter."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from github.MainClass import Github

from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.client import github_retry, make_github
from gradient_runtime_test.github.context import GitHubContext
from tests.fakes.github import FakeGitHub
from tests.github.helpers import HEAD, INSTALLATION, PERSONAL, PR, READ_ONLY


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_token(INSTALLATION, kind="installation")
        server.add_token(PERSONAL, kind="personal", login="octocat")
        server.add_token(READ_ONLY, kind="installation", read_only=True)
        server.add_pull(PR, HEAD)
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    """What the retry policy asked to sleep; nothing actually sleeps."""
    return []


@pytest.fixture
def make_gh(fake: FakeGitHub, sleeps: list[float]) -> Iterator[Callable[[str | None], Github]]:
    made: list[Github] = []

    def make(token: str | None = INSTALLATION) -> Github:
        gh = make_github(
            token,
            fake.url,
            retry=github_retry(total=4, backoff_factor=0.0, sleep=sleeps.append),
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        made.append(gh)
        return gh

    yield make
    for gh in made:
        gh.close()


@pytest.fixture
def context(fake: FakeGitHub) -> GitHubContext:
    return GitHubContext(
        event_name="pull_request",
        repository=fake.full_name,
        sha="f" * 40,
        server_url="https://github.com",
        api_url=fake.url,
        run_id="100",
        run_attempt="1",
        pr_number=PR,
        head_sha=HEAD,
        head_repository=fake.full_name,
        ref=HEAD,
        token=INSTALLATION,
    )


@pytest.fixture
def actions(tmp_path: Path) -> Actions:
    return Actions(
        io.StringIO(),
        {"GITHUB_ACTIONS": "true"},
        output_path=tmp_path / "output",
        summary_path=tmp_path / "summary.md",
    )
