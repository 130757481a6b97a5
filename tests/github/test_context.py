"""GitHubContext from the environment and the event payloads of each trigger."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradient_runtime_test.github.context import GitHubContext

EVENTS = Path(__file__).parent / "events"
SHA = "f" * 40


def env_for(event_name: str, sample: str, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "octo/runtimes",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(EVENTS / f"{sample}.json"),
        "GITHUB_SHA": SHA,
        "GITHUB_SERVER_URL": "https://github.example.com",
        "GITHUB_API_URL": "https://github.example.com/api/v3",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_TOKEN": "ghs_secret",
        **extra,
    }


def load(event_name: str, sample: str | None = None, **extra: str) -> GitHubContext:
    context = GitHubContext.from_env(env_for(event_name, sample or event_name, **extra))
    assert context is not None
    return context


def test_none_outside_actions() -> None:
    assert GitHubContext.from_env({}) is None
    assert GitHubContext.from_env({"GITHUB_ACTIONS": "true"}) is None
    assert GitHubContext.from_env({"GITHUB_REPOSITORY": "octo/runtimes"}) is None


def test_pull_request() -> None:
    c = load("pull_request")
    assert (c.pr_number, c.head_sha, c.ref) == (7, "1" * 40, "1" * 40)
    assert (c.head_repository, c.is_fork, c.read_only) == ("octo/runtimes", False, False)
    assert c.sha == SHA  # the merge commit stays available
    assert c.api_url == "https://github.example.com/api/v3"
    assert c.run_url == "https://github.example.com/octo/runtimes/actions/runs/4242"
    assert c.run_key == "4242/1"


def test_pull_request_from_a_fork_is_read_only() -> None:
    c = load("pull_request", "pull_request_fork")
    assert (c.pr_number, c.head_sha) == (8, "2" * 40)
    assert (c.head_repository, c.is_fork, c.read_only) == ("mallory/runtimes", True, True)


def test_pull_request_target_with_a_deleted_fork() -> None:
    c = load("pull_request_target")
    assert (c.pr_number, c.head_sha, c.ref) == (9, "3" * 40, "3" * 40)
    assert (c.head_repository, c.is_fork) == ("", True)
    assert not c.read_only  # pull_request_target runs with a write token


def test_push() -> None:
    c = load("push")
    assert (c.pr_number, c.head_sha, c.ref) == (None, "4" * 40, "4" * 40)


def test_workflow_dispatch_naming_a_pr() -> None:
    c = load("workflow_dispatch")
    assert (c.pr_number, c.head_sha, c.ref, c.runtime) == (
        12,
        None,
        "refs/pull/12/head",
        "PyTorch 1.12",
    )


def test_workflow_dispatch_naming_a_commit() -> None:
    c = load("workflow_dispatch", "workflow_dispatch_ref")
    assert (c.pr_number, c.head_sha, c.ref, c.runtime) == (None, "5" * 40, "5" * 40, None)


def test_repository_dispatch() -> None:
    c = load("repository_dispatch")
    assert (c.pr_number, c.head_sha, c.ref, c.runtime) == (
        13,
        None,
        "release-2.9",
        "TensorFlow 2.9",
    )


def test_schedule_uses_the_matrix_ref() -> None:
    c = load("schedule")
    assert (c.pr_number, c.head_sha, c.ref) == (None, SHA, None)


def test_run_attempt_in_the_url() -> None:
    c = load("push", GITHUB_RUN_ATTEMPT="3")
    assert c.run_url.endswith("/actions/runs/4242/attempts/3")
    assert c.run_key == "4242/3"


def test_token_is_held_but_not_shown() -> None:
    c = load("push")
    assert c.token == "ghs_secret"
    assert "ghs_secret" not in repr(c)


def test_missing_or_broken_event_file_reads_as_empty(tmp_path: Path) -> None:
    broken = tmp_path / "event.json"
    broken.write_text("{not json", encoding="utf-8")
    c = GitHubContext.from_env(
        {**env_for("pull_request", "pull_request"), "GITHUB_EVENT_PATH": str(broken)}
    )
    assert c is not None and c.pr_number is None


@pytest.mark.parametrize(
    ("payload", "pr"), [({"pr": "#5"}, 5), ({"pr": 6}, 6), ({"pr": ""}, None), ({"pr": "x"}, None)]
)
def test_dispatch_pr_forms(payload: dict[str, object], pr: int | None) -> None:
    c = GitHubContext.from_env(
        env_for("repository_dispatch", "unused"),
        read_event=lambda _: {"client_payload": payload},
    )
    assert c is not None and c.pr_number == pr
