"""The bridge from `grt run`/`grt report` to GitHub: builds the context and the workflow-command
adapter from the environment once, keeps a live PR comment updated off the main thread, and
publishes the final results. Reporting never decides the exit code."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from ..results import RunResult
from .actions import Actions
from .context import GitHubContext
from .state import Cells


def make_actions(env: Mapping[str, str], stream: TextIO | None = None) -> Actions:
    return Actions(stream or sys.stderr, env)  # it finds GITHUB_OUTPUT/GITHUB_STEP_SUMMARY itself


class LiveUpdates:
    """Edits the PR comment as cells change, from a worker thread (latest state wins), so a slow
    or rate-limited GitHub never holds up the orchestrator or its reaction to a signal."""

    def __init__(
        self,
        runtime: str,
        context: GitHubContext,
        actions: Actions,
        *,
        baseline: Cells | None = None,
    ) -> None:
        from .client import make_github
        from .comment import LiveComment

        self.comment = LiveComment(
            make_github(context.token, context.api_url, timeout=context.timeout_s),
            context,
            runtime,
            actions,
            baseline=baseline,
        )
        self._latest: RunResult | None = None
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="grt-live-comment", daemon=True)
        self._started = False

    def start(self, run: RunResult) -> None:
        self._latest = run
        self._started = True
        self._thread.start()

    def update(self, run: RunResult) -> None:
        with self._wake:
            self._latest = run
            self._wake.notify()

    def close(self, timeout: float = 30.0) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._started:
            self._thread.join(timeout)

    def _work(self) -> None:
        first = True
        while True:
            with self._wake:
                if not first:
                    self._wake.wait_for(lambda: self._closed or self._latest is not None)
                run, self._latest = self._latest, None
                closed = self._closed
            if run is not None:
                if first:
                    self.comment.start(run)
                else:
                    self.comment.update(run)
            first = False
            if closed:
                return


def live_updates(
    runtime: str, env: Mapping[str, str], actions: Actions, *, baseline: Cells | None = None
) -> LiveUpdates | None:
    """A live comment when running in Actions on a pull request with a usable token.
    `baseline`: the previous run from history, for a comment that holds no state yet."""
    context = GitHubContext.from_env(env)
    if context is None or context.pr_number is None or context.read_only or not context.token:
        return None
    return LiveUpdates(runtime, context, actions, baseline=baseline)


def publish_runs(
    runs: Sequence[RunResult],
    paths: Mapping[str, Path],
    env: Mapping[str, str],
    *,
    comment: bool,
    check_run: bool,
    actions: Actions | None = None,
    live: LiveUpdates | None = None,
    baselines: Mapping[str, Cells] | None = None,
) -> None:
    from .publish import publish

    actions = actions or make_actions(env)
    context = GitHubContext.from_env(env)
    live_comments = {}
    if live is not None:
        live.close()
        live_comments = {r.runtime: live.comment for r in runs}
    publish(
        runs,
        context,
        actions,
        comment=comment,
        check_run=check_run,
        results_paths=[paths["results"]],
        junit_paths=[paths["junit"]],
        live_comments=live_comments,
        baselines=baselines,
    )
