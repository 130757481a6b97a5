"""The check run "Gradient runtime test / <runtime>": conclusion, counts, table, annotations.

GitHub takes at most 50 annotations per request: the check run is created with the first 50 and
updated with each further batch (GitHub appends them). A token that may not write checks (a fork's
read-only token: 403) gives a warning, never an exception. Only GitHub App tokens can create check
runs: with a personal token none is attempted, and a tip says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from github.GithubException import GithubException
from github.GithubObject import NotSet
from github.MainClass import Github

from gradient_runtime_test.github import comment_body
from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.client import REPORTING_ERRORS, Identity, TokenKind, describe
from gradient_runtime_test.github.context import GitHubContext
from gradient_runtime_test.report import markdown
from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult

ANNOTATIONS_PER_REQUEST = 50
OUTPUT_LIMIT = 65_535  # characters, for output.summary and output.text
_MESSAGE_CHARS = 4_000
_DETAILS_CHARS = 16_000
_TITLE_CHARS = 255
_RERUN = re.compile(r"\[[^\]]*\]$")

_CONCLUSIONS = {
    CellStatus.PASSED: "success",
    CellStatus.FAILED: "failure",
    CellStatus.ERROR: "failure",
    CellStatus.UNAVAILABLE: "neutral",  # no machine had capacity: no verdict on the runtime
    CellStatus.CANCELLED: "cancelled",
    CellStatus.SKIPPED: "skipped",
}

_APP_ONLY = (
    "only GitHub App tokens can create check runs, and this is a personal token: pass the "
    "workflow's GITHUB_TOKEN (with `permissions: checks: write`) or an App installation token as "
    "github-token; the job summary has the results"
)

# The file an annotation points at, for a test of a run.
AnnotationPath = Callable[[RunResult, CellResult, TestResult | None], str]


def check_name(runtime: str) -> str:
    return f"Gradient runtime test / {runtime}"


def conclusion(run: RunResult) -> str:
    return _CONCLUSIONS.get(run.conclusion, "neutral")


def default_annotation_path(run: RunResult, cell: CellResult, test: TestResult | None) -> str:
    """A notebook test points at its notebook (workspace-relative); anything else at matrices/."""
    if test is not None and test.name.startswith("notebooks/"):
        return _RERUN.sub("", test.name.removeprefix("notebooks/")) or "matrices"
    return "matrices"


def failure_annotations(
    run: RunResult, *, path_of: AnnotationPath = default_annotation_path
) -> list[dict[str, Any]]:
    """One failure annotation per failing test, and per broken cell that has no failing test."""
    found: list[dict[str, Any]] = []
    for cell in run.cells:
        for test in cell.failures:
            found.append(
                _annotation(
                    path_of(run, cell, test),
                    f"{cell.machine}: {test.name}",
                    test.message or f"{test.name} {test.status.value}",
                    test.details,
                )
            )
        if not cell.failures and cell.status in (CellStatus.FAILED, CellStatus.ERROR):
            found.append(
                _annotation(
                    path_of(run, cell, None),
                    f"{cell.machine}: {cell.status.value}",
                    cell.reason or f"the cell ended with {cell.status.value}",
                    "\n".join(cell.log_tail),
                )
            )
    return found


def _annotation(path: str, title: str, message: str, details: str) -> dict[str, Any]:
    note: dict[str, Any] = {
        "path": path,
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "failure",
        "title": title[:_TITLE_CHARS],
        "message": message[:_MESSAGE_CHARS],
    }
    if details:
        note["raw_details"] = details[-_DETAILS_CHARS:]
    return note


def output(run: RunResult, run_url: str) -> dict[str, str]:
    """title, summary (counts and status table) and text (failure details), within the limits."""
    counts = markdown.counts_line(run)
    cost = markdown.cost_markdown(run)
    head = f"{counts}\n\n" + (f"{cost}\n\n" if cost else "") + f"[Workflow run]({run_url})\n\n"
    table = markdown.status_table(run)
    if len(head) + len(table) > OUTPUT_LIMIT:
        table = comment_body.cut_table(table, OUTPUT_LIMIT - len(head), run_url)
    result = {"title": counts[:_TITLE_CHARS], "summary": (head + table)[:OUTPUT_LIMIT]}
    details = markdown.failure_details(run, max_chars=OUTPUT_LIMIT)
    if details:
        result["text"] = details
    return result


def publish_check_run(
    gh: Github,
    context: GitHubContext,
    run: RunResult,
    actions: Actions,
    *,
    head_sha: str,
    path_of: AnnotationPath = default_annotation_path,
    identity: Identity | None = None,
) -> str | None:
    """Create the completed check run; its URL, or None (with a warning) when it could not be.
    `identity`: the token's, when known (a personal token cannot create check runs)."""
    if identity is not None and identity.kind is TokenKind.PERSONAL:
        actions.warning(f"no check run for {run.runtime}: {_APP_ONLY}")
        return None
    notes = failure_annotations(run, path_of=path_of)
    batches = [
        notes[i : i + ANNOTATIONS_PER_REQUEST]
        for i in range(0, len(notes), ANNOTATIONS_PER_REQUEST)
    ]
    out: dict[str, Any] = output(run, context.run_url)
    try:
        repo = gh.get_repo(context.repository)
        check = repo.create_check_run(
            check_name(run.runtime),
            head_sha,
            details_url=context.run_url,
            external_id=context.run_key,
            status="completed",
            conclusion=conclusion(run),
            started_at=_when(run.started_at) or NotSet,
            completed_at=_when(run.finished_at) or datetime.now(UTC),
            output={**out, "annotations": batches[0]} if batches else out,
        )
        for batch in batches[1:]:
            check.edit(output={**out, "annotations": batch})
        return str(check.html_url)
    except REPORTING_ERRORS as e:
        if isinstance(e, GithubException) and e.status == 403:
            app_only = "github app" in describe(e).lower()
            tip = _APP_ONLY if app_only else "the workflow needs `permissions: checks: write`"
            actions.warning(
                f"the token may not write check runs, so there is no check run for "
                f"{run.runtime} ({describe(e)}; {tip}); the job summary has the results"
            )
        else:
            actions.warning(f"could not write the check run for {run.runtime}: {describe(e)}")
        return None


def _when(iso: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None
