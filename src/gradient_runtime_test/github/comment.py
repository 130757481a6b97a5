"""The PR status comment: one per runtime per pull request, found and edited in place, live.

Ours is a comment whose first line is the runtime's marker AND whose author is this token's
identity (a comment by someone else that quotes the marker, or one of ours that quotes another
runtime's marker further down, is left alone). All pages are searched. A personal token's login
is known (GET /user); an App token's (`<slug>[bot]`, any App: the workflow's GITHUB_TOKEN or one
from actions/create-github-app-token) is learned from the first comment it creates, and until then
a bot's comment with the marker as its first line stands for ours, so a report with another App's
token edits the comment instead of adding one.

Two reporters for the same runtime and PR may race: both list, find nothing, and both create.
Therefore whoever creates a comment lists again right after, keeps the oldest of ours (lowest
`(created_at, id)`), moves its text there, and deletes the others. Every creator does this after
its own create, so whichever order the requests interleave in, one comment is left. The same
clean-up merges a duplicate left by a create retried after a 5xx.

Reporting never raises: a failed find, create or edit is a warning through the actions adapter.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from github.GithubException import GithubException
from github.IssueComment import IssueComment
from github.MainClass import Github

from gradient_runtime_test.github import comment_body, state
from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.client import (
    REPORTING_ERRORS,
    Identity,
    describe,
    identity,
    is_permanent,
)
from gradient_runtime_test.github.context import GitHubContext, is_sha
from gradient_runtime_test.results import RunResult

MIN_INTERVAL_S = 10.0


class LiveComment:
    """The comment of one runtime on one pull request, kept up to date as cells finish.

    `start` writes it with every cell queued, `update` edits at most once per `min_interval_s`
    (by `clock`), `finish` always edits and checks whether the PR head has moved on.
    """

    def __init__(
        self,
        gh: Github,
        context: GitHubContext,
        runtime: str,
        actions: Actions,
        *,
        clock: Callable[[], float] = time.monotonic,
        min_interval_s: float = MIN_INTERVAL_S,
        author: Identity | None = None,
        baseline: state.Cells | None = None,
    ) -> None:
        if context.pr_number is None:
            raise ValueError("a PR comment needs a pull request number")
        self._gh = gh
        self._context = context
        self._number = context.pr_number
        self._runtime = runtime
        self._actions = actions
        self._clock = clock
        self._interval = min_interval_s
        self._author = author
        self._marker = comment_body.marker(runtime)
        self._comment: IssueComment | None = None
        self._searched = False
        self._baseline: state.Cells | None = None
        self._history_baseline = baseline  # the previous run in history, when no comment says
        self._last_write: float | None = None
        self._disabled = False

    @property
    def url(self) -> str | None:
        """The comment's web address, once written."""
        return self._comment.html_url if self._comment is not None else None

    def start(self, run: RunResult) -> None:
        self._write(run, check_head=False)

    def update(self, run: RunResult) -> None:
        now = self._clock()
        if self._last_write is not None and now - self._last_write < self._interval:
            return
        self._write(run, check_head=False)

    def finish(self, run: RunResult) -> str | None:
        self._write(run, check_head=True)
        return self.url

    # -- internals ------------------------------------------------------------------------------

    def _write(self, run: RunResult, *, check_head: bool) -> None:
        if self._disabled:
            return
        self._last_write = self._clock()
        try:
            self._write_or_raise(run, check_head=check_head)
        except REPORTING_ERRORS as e:
            forbidden = isinstance(e, GithubException) and e.status == 403
            tip = " (the workflow needs `permissions: pull-requests: write`)"
            self._actions.warning(
                f"could not update the pull request comment for {self._runtime}: "
                f"{describe(e)}{tip if forbidden and is_permanent(e) else ''}; "
                "the job summary has the results"
            )
            if is_permanent(e):
                self._disabled = True  # it will not get better during this run; warn once

    def _write_or_raise(self, run: RunResult, *, check_head: bool) -> None:
        if self._author is None:
            self._author = identity(self._gh, self._context.token)
        if not self._searched:
            found = self._ours()
            self._comment = found[0] if found else None
            old = state.decode(self._comment.body or "") if self._comment is not None else None
            self._baseline = old.baseline_for(self._context.run_key) if old else None
            if self._baseline is None:
                self._baseline = self._history_baseline
            self._searched = True
        tested = self._tested_sha(run)
        moved = self._head_if_moved(tested) if check_head else None
        header = comment_body.Header(
            run_url=self._context.run_url,
            run_key=self._context.run_key,
            sha=tested,
            commit_url=(
                f"{self._context.server_url}/{self._context.repository}/commit/{tested}"
                if tested
                else ""
            ),
            head_moved_to=moved,
            links=comment_body.links_of(self._context),
        )
        body = comment_body.render(run, header, baseline=self._baseline)
        if self._comment is not None:
            try:
                self._comment.edit(body)
                return
            except GithubException as e:
                if e.status != 404:
                    raise
                self._comment = None  # deleted meanwhile (e.g. by a racing reporter): recreate
        issue = self._gh.get_repo(self._context.repository).get_issue(self._number)
        created = self._comment = issue.create_comment(body)
        self._author = self._author.learned(created.user.login if created.user else None)
        self._comment = self._merge_duplicates(created, body)

    def _ours(self) -> list[IssueComment]:
        """Our comments for this runtime, oldest first, across all pages."""
        issue = self._gh.get_repo(self._context.repository).get_issue(self._number)
        author = self._author
        mine = [
            c
            for c in issue.get_comments()
            if comment_body.is_ours(c.body or "", self._marker)
            and c.user is not None
            and author is not None
            and author.authored(c.user)
        ]
        return sorted(mine, key=lambda c: (c.created_at, c.id))

    def _merge_duplicates(self, created: IssueComment, body: str) -> IssueComment:
        mine = self._ours()
        if all(c.id != created.id for c in mine):
            mine = sorted([*mine, created], key=lambda c: (c.created_at, c.id))
        keep = mine[0]
        if keep.id != created.id:
            keep.edit(body)
        for extra in mine[1:]:
            try:
                extra.delete()
            except GithubException as e:
                if e.status != 404:  # already deleted by the other reporter
                    raise
        return keep

    def _tested_sha(self, run: RunResult) -> str | None:
        if self._context.head_sha:
            return self._context.head_sha
        if is_sha(run.workspace_ref):
            return run.workspace_ref
        return None

    def _head_if_moved(self, tested: str | None) -> str | None:
        if tested is None:
            return None
        try:
            head = self._gh.get_repo(self._context.repository).get_pull(self._number).head.sha
        except REPORTING_ERRORS as e:
            self._actions.warning(f"could not read the pull request head: {describe(e)}")
            return None
        return head if head and head.lower() != tested.lower() else None


def upsert_comment(
    gh: Github,
    context: GitHubContext,
    run: RunResult,
    actions: Actions,
    *,
    author: Identity | None = None,
    baseline: state.Cells | None = None,
) -> str | None:
    """Create or edit the runtime's comment with finished results; its URL, or None on failure.

    `author`: the token's identity when already known (see `client.identity`). `baseline`: the
    previous run from history, compared with when the comment holds no state of its own.
    """
    return LiveComment(gh, context, run.runtime, actions, author=author, baseline=baseline).finish(
        run
    )
