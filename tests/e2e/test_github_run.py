"""`grt run` and `grt report` inside a (simulated) GitHub Actions job: the real PyGithub against
the fake GitHub API, the local provider running the example runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.workspace import REPO
from tests.fakes.github import FakeGitHub
from tests.github.helpers import HEAD, PR, outputs

pytestmark = [pytest.mark.server, pytest.mark.kernel, pytest.mark.slow]
TOKEN = "ghs_canary_token_5f1d3a"  # an installation token: comments as github-actions[bot]


@pytest.fixture
def github() -> FakeGitHub:
    with FakeGitHub() as server:
        server.add_token(TOKEN, kind="installation")
        server.add_pull(PR, HEAD)
        yield server


def actions_env(fake: FakeGitHub, tmp_path: Path, event: str = "pull_request") -> dict[str, str]:
    event_file = tmp_path / "event.json"
    event_file.write_text((REPO / "tests/github/events" / f"{event}.json").read_text())
    for name in ("output", "summary"):
        (tmp_path / name).write_text("")
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REPOSITORY": fake.full_name,
        "GITHUB_SHA": "f" * 40,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": fake.url,
        "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GRT_POLL_INTERVAL": "0.1",
    }


def grt(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pr_comment_created_then_edited_check_run_outputs_and_no_token_leak(
    github: FakeGitHub, tmp_path: Path
) -> None:
    env = actions_env(github, tmp_path)
    argv = [
        "run",
        "--matrices",
        "examples/matrices",
        "--runtime",
        "Example",
        "--comment",
        "--check-run",
    ]
    first = grt(env, *argv, "--out", str(tmp_path / "one"))
    assert first.returncode == 0, first.stderr
    comments = github.comments_on(PR)
    assert len(comments) == 1
    assert comments[0].login == "github-actions[bot]"
    assert "| C5 | ✅ passed |" in comments[0].body
    second = grt(env, *argv, "--out", str(tmp_path / "two"))
    assert second.returncode == 0, second.stderr
    assert len(github.comments_on(PR)) == 1  # edited, never a second one
    assert github.requests("PATCH", r"/issues/comments/")
    out = outputs(tmp_path / "output")
    assert out["conclusion"] == "passed" and out["passed"] == "1" and out["failed"] == "0"
    assert out["comment-url"].startswith("http")
    assert "Example" in (tmp_path / "summary").read_text()
    assert github.requests("POST", r"/check-runs")
    texts = [
        first.stdout,
        first.stderr,
        second.stdout,
        second.stderr,
        (tmp_path / "output").read_text(),
        (tmp_path / "summary").read_text(),
    ]
    texts += [c.body for c in github.comments_on(PR)]
    texts += [json.dumps(r.body) for r in github.requests()]
    texts += [
        f.read_text(errors="replace")
        for d in ("one", "two")
        for f in (tmp_path / d).rglob("*")
        if f.is_file()
    ]
    assert not [t for t in texts if TOKEN in t]


def test_read_only_token_still_writes_summary_and_exits_by_results(tmp_path: Path) -> None:
    with FakeGitHub() as server:
        server.add_token(TOKEN, kind="installation", read_only=True)
        server.add_pull(PR, HEAD)
        env = actions_env(server, tmp_path)
        proc = grt(
            env,
            "run",
            "--matrices",
            "examples/matrices",
            "--runtime",
            "Example",
            "--comment",
            "--check-run",
            "--out",
            str(tmp_path / "out"),
        )
        assert proc.returncode == 0, proc.stderr
        assert "::warning" in proc.stderr
        assert server.comments_on(PR) == []
    assert "Example" in (tmp_path / "summary").read_text()
    assert outputs(tmp_path / "output")["conclusion"] == "passed"


def test_report_merges_fan_out_results(github: FakeGitHub, tmp_path: Path) -> None:
    base = json.loads((REPO / "tests/report/data/pytorch.json").read_text())
    parts = []
    for i, cell in enumerate(base["cells"][:3]):
        part = dict(base, cells=[cell])
        path = tmp_path / f"job{i}" / "results.json"
        path.parent.mkdir()
        path.write_text(json.dumps(part))
        parts.append(path)
    env = actions_env(github, tmp_path)
    proc = grt(
        env, "report", "--results", *map(str, parts), "--out", str(tmp_path / "merged"), "--comment"
    )
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert [c["machine"] for c in merged["cells"]] == [c["machine"] for c in base["cells"][:3]]
    assert len(github.comments_on(PR)) == 1
    failed = any(c["status"] in ("failed", "error") for c in merged["cells"])
    assert proc.returncode == (1 if failed else 0), proc.stderr
