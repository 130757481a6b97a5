"""Publishing results to GitHub: job summary, step outputs, PR comment, check run.

Failure of reporting is not failure of testing: without Actions, without a token, on a fork's
read-only token, or when GitHub answers 403/404/5xx (after retries), `publish` warns through the
actions adapter and returns; the summary and outputs are written first, whatever happens later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from github.MainClass import Github

from gradient_runtime_test.github import comment_body, state
from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.checks import publish_check_run
from gradient_runtime_test.github.client import (
    REPORTING_ERRORS,
    Identity,
    describe,
    identity,
    make_github,
)
from gradient_runtime_test.github.comment import LiveComment, upsert_comment
from gradient_runtime_test.github.context import GitHubContext, is_sha
from gradient_runtime_test.report import markdown
from gradient_runtime_test.results import CellStatus, RunResult

# A client, or how to make one for a context (default: make_github from the context's token).
GithubSource = Github | Callable[[GitHubContext], Github]

_WORST_FIRST = (
    CellStatus.FAILED,
    CellStatus.ERROR,
    CellStatus.CANCELLED,
    CellStatus.UNAVAILABLE,
    CellStatus.PASSED,
)


@dataclasses.dataclass(frozen=True)
class Published:
    conclusion: CellStatus
    comment_urls: tuple[str, ...] = ()
    check_run_urls: tuple[str, ...] = ()


def overall_conclusion(runs: Sequence[RunResult]) -> CellStatus:
    """The worst of the runs' conclusions (all skipped, or no runs: skipped)."""
    found = {r.conclusion for r in runs}
    return next((s for s in _WORST_FIRST if s in found), CellStatus.SKIPPED)


def publish(
    runs: Sequence[RunResult],
    context: GitHubContext | None,
    actions: Actions,
    *,
    github: GithubSource | None = None,
    comment: bool = True,
    check_run: bool = True,
    results_paths: Sequence[Path | str] = (),
    junit_paths: Sequence[Path | str] = (),
    live_comments: Mapping[str, LiveComment] | None = None,
    baselines: Mapping[str, state.Cells] | None = None,
) -> Published:
    """Write the job summary and outputs, then the PR comment and check run where allowed.

    `live_comments` (runtime -> LiveComment) are finished instead of found afresh. `baselines`
    (runtime -> the previous run's cells, from history) give "changes since the previous run" in
    the job summary, and in a comment that holds no state of its own.
    """
    conclusion = overall_conclusion(runs)
    links = comment_body.links_of(context) if context else None
    actions.append_summary(
        markdown.summary(runs, run_url=context.run_url if context else None, links=links)
    )
    baselines = baselines or {}
    changes = [_changes(run, baselines[run.runtime]) for run in runs if run.runtime in baselines]
    if changes:
        actions.append_summary("\n\n".join(changes) + "\n")
    outputs = {
        "results": "\n".join(str(p) for p in results_paths),
        "junit": "\n".join(str(p) for p in junit_paths),
        "conclusion": conclusion.value,
        "passed": _count(runs, CellStatus.PASSED),
        "failed": _count(runs, CellStatus.FAILED),
        "errored": _count(runs, CellStatus.ERROR),
        "unavailable": _count(runs, CellStatus.UNAVAILABLE),
    }
    for name, value in outputs.items():
        actions.set_output(name, value)
    published = Published(conclusion)
    if comment or check_run:
        gh = _client(context, github, actions)
        if gh is not None and context is not None:
            published = _to_github(
                runs,
                context,
                gh,
                actions,
                comment=comment,
                check_run=check_run,
                live=live_comments or {},
                conclusion=conclusion,
                baselines=baselines,
            )
    actions.set_output("comment-url", "\n".join(published.comment_urls))
    return published


def _changes(run: RunResult, baseline: state.Cells) -> str:
    section = comment_body.changes_section(baseline, state.cells_of(run))
    return f"#### {markdown.escape(run.runtime)}\n\n{section}"


def _count(runs: Sequence[RunResult], status: CellStatus) -> str:
    return str(sum(r.count(status) for r in runs))


def _client(
    context: GitHubContext | None, github: GithubSource | None, actions: Actions
) -> Github | None:
    if context is None:
        actions.info("Not running in GitHub Actions: no pull request comment or check run.")
        return None
    if context.read_only:
        actions.warning(
            f"{context.read_only_reason}: its token is read-only and secrets are absent, so there "
            "is no pull request comment or check run. The results are in the job summary."
        )
        return None
    if isinstance(github, Github):
        return github
    if github is not None:
        return github(context)
    if not context.token:
        actions.warning(
            "No GitHub token (set GITHUB_TOKEN), so there is no pull request comment or check "
            "run. The results are in the job summary."
        )
        return None
    return make_github(context.token, context.api_url, timeout=context.timeout_s)


def _to_github(
    runs: Sequence[RunResult],
    context: GitHubContext,
    gh: Github,
    actions: Actions,
    *,
    comment: bool,
    check_run: bool,
    live: Mapping[str, LiveComment],
    conclusion: CellStatus,
    baselines: Mapping[str, state.Cells],
) -> Published:
    comment_urls: list[str] = []
    check_urls: list[str] = []
    author: Identity | None = None
    finding = comment and context.pr_number is not None and any(r.runtime not in live for r in runs)
    if finding or check_run:
        try:
            author = identity(gh, context.token)  # once for all runtimes
        except REPORTING_ERRORS as e:
            actions.warning(f"could not tell who this token comments as: {describe(e)}")
            comment = comment and not finding
    for run in runs:
        if comment and context.pr_number is not None:
            if run.runtime in live:
                url = live[run.runtime].finish(run)
            else:
                url = upsert_comment(
                    gh, context, run, actions, author=author, baseline=baselines.get(run.runtime)
                )
            if url:
                comment_urls.append(url)
        if check_run:
            head = _check_sha(gh, context, run, actions)
            url = head and publish_check_run(
                gh, context, run, actions, head_sha=head, identity=author
            )
            if url:
                check_urls.append(url)
    return Published(conclusion, tuple(comment_urls), tuple(check_urls))


def _check_sha(gh: Github, context: GitHubContext, run: RunResult, actions: Actions) -> str | None:
    """The commit the check run belongs to: the tested commit, else the PR head, else GITHUB_SHA."""
    if context.head_sha:
        return context.head_sha
    if run.workspace_ref and is_sha(run.workspace_ref):
        return run.workspace_ref
    if context.pr_number is not None:
        try:
            return str(gh.get_repo(context.repository).get_pull(context.pr_number).head.sha)
        except REPORTING_ERRORS as e:
            actions.warning(
                f"could not read the pull request head for the check run: {describe(e)}"
            )
            return None
    return context.sha or None
