"""The fault matrix's GitHub columns: the PR comment and the check run under a 5xx burst, an
outage and a refusal, through `grt report --comment --check-run` in a pull request's Actions job
(in-process, the real PyGithub against the fake GitHub API).

Reporting never decides the exit code and never loses a result: the job summary and outputs are
written first, a failed comment or check run is a warning, and a comment is never duplicated.

GitHub's retry pauses (1 s, doubling, and 1 s between writes) are set to zero here by handing
`grt` a client factory with the same retry count and no sleeps; the number of retries, which
decides the outcomes, is unchanged. A lost answer to a comment create (a duplicate) and racing
reporters are tests/github/test_comment.py's `test_two_reporters_at_once_leave_one_comment`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.github import client, publish
from gradient_runtime_test.report.outputs import Output
from gradient_runtime_test.results import CellStatus
from tests.fakes.github import FakeGitHub
from tests.github.helpers import PR, cell, outputs, run_of
from tests.hardening.conftest import Canaries

pytestmark = pytest.mark.server


@pytest.fixture
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    original = client.make_github

    def quick(token: str | None, api_url: str, **options: Any) -> Any:
        retry = client.github_retry(backoff_factor=0.0, sleep=lambda s: None)
        return original(
            token, api_url, retry=retry, seconds_between_requests=None, seconds_between_writes=None
        )

    monkeypatch.setattr(publish, "make_github", quick)


def _comment_5xx(gh: FakeGitHub) -> None:
    gh.fail(r"/issues/", times=2, status=502)


def _comment_outage(gh: FakeGitHub) -> None:
    gh.fail(r"/issues/", times=1000, status=503)


def _comment_refused(gh: FakeGitHub) -> None:
    gh.fail(r"/issues/", times=1000, status=403)


def _check_5xx(gh: FakeGitHub) -> None:
    gh.fail(r"/check-runs", times=2, status=502, method="POST")


def _check_outage(gh: FakeGitHub) -> None:
    gh.fail(r"/check-runs", times=1000, status=503)


def _check_refused(gh: FakeGitHub) -> None:
    gh.fail(r"/check-runs", times=1000, status=403)


# fault -> (comments, check runs, a fragment of the warning)
CASES: dict[str, tuple[Callable[[FakeGitHub], None], int, int, str]] = {
    "comment-5xx": (_comment_5xx, 1, 1, ""),
    "comment-outage": (_comment_outage, 0, 1, "could not update the pull request comment"),
    "comment-refused": (_comment_refused, 0, 1, "could not update the pull request comment"),
    "check-run-5xx": (_check_5xx, 1, 1, ""),
    "check-run-outage": (_check_outage, 1, 0, "check run"),
    "check-run-refused": (_check_refused, 1, 0, "check run"),
}


@pytest.mark.parametrize("status", [CellStatus.PASSED, CellStatus.FAILED])
@pytest.mark.parametrize("case", list(CASES))
def test_comment_and_check_run_faults_are_warnings(
    case: str,
    status: CellStatus,
    *,
    gh: FakeGitHub,
    actions_env: dict[str, str],
    canaries: Canaries,
    tmp_path: Path,
    no_pauses: None,
) -> None:
    arm, comments, checks, warning = CASES[case]
    failing = ("notebooks/train.ipynb",) if status == CellStatus.FAILED else ()
    run = run_of(cell("A4000", status, *failing), cell("C5"), runtime="Hardened")
    Output(tmp_path / "in").results([run])
    # a comment from an earlier run: found and edited, never a second one
    first = canaries.grt(["report", "--results", str(tmp_path / "in"), "--comment"], actions_env)
    assert first.code == (1 if failing else 0) and len(gh.comments_on(PR)) == 1, first.text
    (tmp_path / "github-output").write_text("")
    before = len(gh.requests())
    arm(gh)

    argv = ["report", "--results", str(tmp_path / "in"), "--out", str(tmp_path / "merged")]
    result = canaries.grt([*argv, "--comment", "--check-run"], actions_env)
    assert result.code == (1 if failing else 0), result.text
    assert "Traceback" not in result.text
    assert (tmp_path / "merged" / "results.json").is_file()
    assert outputs(tmp_path / "github-output")["conclusion"] == status.value
    assert "Hardened" in (tmp_path / "step-summary").read_text()
    assert len(gh.comments_on(PR)) == 1, "a comment was duplicated or lost"
    edits = [r for r in gh.requests()[before:] if r.method == "PATCH" and "/issues/" in r.path]
    edited = any(r.status == 200 for r in edits)
    assert edited == bool(comments)
    assert len(gh.check_runs) == checks
    if warning:
        assert "::warning" in result.err and warning in result.err
    else:
        assert "::warning" not in result.err
