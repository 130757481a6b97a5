"""Where a run happens on GitHub: the event, the pull request, the commit, the token.

Built once at the edge from an environment mapping (`GitHubContext.from_env(os.environ)`); the one
I/O is reading the event payload file named by `GITHUB_EVENT_PATH` (pass `read_event` in tests).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gradient_runtime_test.settings import github_timeout_s

_SHA = re.compile(r"[0-9a-f]{40}")
DEPENDABOT = "dependabot[bot]"
_NULL_SHA = "0" * 40
PR_EVENTS = frozenset({"pull_request", "pull_request_target"})
DISPATCH_EVENTS = frozenset({"workflow_dispatch", "repository_dispatch"})


def read_event_file(path: str) -> Mapping[str, Any]:
    """The event payload; an unreadable or malformed file reads as an empty event."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_sha(value: str | None) -> bool:
    return bool(value) and _SHA.fullmatch(str(value).lower()) is not None


@dataclasses.dataclass(frozen=True)
class GitHubContext:
    """What the reporters need to know about the workflow run.

    `head_sha` is the commit the results are about (the pull request head for PR events) when the
    event names one, else None. `ref` is what to check out of *this* repository for the test: the
    PR head SHA for PRs, the pushed commit, a dispatch's `ref` input (`refs/pull/<n>/head` when it
    names only a PR, GITHUB_SHA when it names neither); None (schedule) means the matrix's own
    `workspace_ref`. Whether
    this repository is the workspace is the caller's decision.
    """

    event_name: str
    repository: str  # owner/name of the repository the workflow runs in
    sha: str  # GITHUB_SHA: for pull_request events, the merge commit
    server_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    run_id: str = ""
    run_attempt: str = "1"
    pr_number: int | None = None
    head_sha: str | None = None
    head_repository: str = ""  # owner/name holding head_sha; "" when unknown or deleted
    is_fork: bool = False
    ref: str | None = None
    runtime: str | None = None  # a dispatch's `runtime` input, when given
    artifact: str = ""  # GRT_ARTIFACT_NAME: the artifact the Action uploads the output folder as
    dashboard_url: str = ""  # GRT_DASHBOARD_URL: the dashboard site (the Action's dashboard-url)
    token: str | None = dataclasses.field(default=None, repr=False)
    actor: str = ""  # GITHUB_ACTOR: who triggered the run
    pr_author: str = ""  # the pull request's author, for PR events
    timeout_s: float = 15.0  # each GitHub request: to connect, and for each read of an answer

    @property
    def run_url(self) -> str:
        if not self.run_id:
            return f"{self.server_url}/{self.repository}/actions"
        url = f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        if self.run_attempt not in ("", "1"):
            url += f"/attempts/{self.run_attempt}"
        return url

    @property
    def run_key(self) -> str:
        """Identifies this workflow run attempt (comments remember which run wrote them)."""
        return f"{self.run_id}/{self.run_attempt}"

    @property
    def dependabot(self) -> bool:
        """Dependabot triggered the run, or opened its pull request."""
        return DEPENDABOT in (self.actor.lower(), self.pr_author.lower())

    @property
    def read_only(self) -> bool:
        """The token is read-only and secrets are absent: a pull_request event from a fork, or a
        run of Dependabot's (GitHub treats those like forks)."""
        return (self.event_name == "pull_request" and self.is_fork) or self.dependabot

    @property
    def read_only_reason(self) -> str:
        if self.dependabot:
            return "This run is Dependabot's (GitHub gives it what it gives forks)"
        return "This pull request comes from a fork"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        read_event: Callable[[str], Mapping[str, Any]] = read_event_file,
    ) -> GitHubContext | None:
        """The context of the current workflow run; None outside GitHub Actions."""
        repository = env.get("GITHUB_REPOSITORY", "")
        if env.get("GITHUB_ACTIONS") != "true" or not repository:
            return None
        event_path = env.get("GITHUB_EVENT_PATH", "")
        event = read_event(event_path) if event_path else {}
        event_name = env.get("GITHUB_EVENT_NAME", "")
        sha = env.get("GITHUB_SHA", "")
        base = cls(
            event_name=event_name,
            repository=repository,
            sha=sha,
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
            run_id=env.get("GITHUB_RUN_ID", ""),
            run_attempt=env.get("GITHUB_RUN_ATTEMPT") or "1",
            head_repository=repository,
            token=env.get("GITHUB_TOKEN") or None,
            artifact=env.get("GRT_ARTIFACT_NAME", "").strip(),
            dashboard_url=env.get("GRT_DASHBOARD_URL", "").strip(),
            actor=env.get("GITHUB_ACTOR", ""),
            timeout_s=github_timeout_s(env),
        )
        if event_name in PR_EVENTS:
            return _from_pull_request(base, event)
        if event_name == "push":
            after = str(event.get("after") or "")
            head = after if is_sha(after) and after != _NULL_SHA else sha
            return dataclasses.replace(base, head_sha=head or None, ref=head or None)
        if event_name in DISPATCH_EVENTS:
            key = "inputs" if event_name == "workflow_dispatch" else "client_payload"
            return _from_dispatch(base, _mapping(event.get(key)))
        if event_name == "schedule":
            return dataclasses.replace(base, head_sha=sha or None)
        return dataclasses.replace(base, head_sha=sha or None, ref=sha or None)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _from_pull_request(base: GitHubContext, event: Mapping[str, Any]) -> GitHubContext:
    pr = _mapping(event.get("pull_request"))
    head = _mapping(pr.get("head"))
    head_repo = _mapping(head.get("repo"))  # null when the fork was deleted
    head_full_name = str(head_repo.get("full_name") or "")
    base_full_name = str(_mapping(_mapping(pr.get("base")).get("repo")).get("full_name") or "")
    base_full_name = base_full_name or base.repository
    head_sha = str(head.get("sha") or "") or None
    number = pr.get("number", event.get("number"))
    return dataclasses.replace(
        base,
        pr_author=str(_mapping(pr.get("user")).get("login") or ""),
        pr_number=_int_or_none(number),
        head_sha=head_sha,
        head_repository=head_full_name,
        is_fork=head_full_name.lower() != base_full_name.lower(),
        ref=head_sha,
    )


def _from_dispatch(base: GitHubContext, inputs: Mapping[str, Any]) -> GitHubContext:
    pr = _int_or_none(inputs.get("pr"))
    ref = str(inputs.get("ref") or "").strip() or None
    runtime = str(inputs.get("runtime") or "").strip() or None
    if ref is None:
        ref = f"refs/pull/{pr}/head" if pr is not None else (base.sha or None)
    if ref is not None and is_sha(ref):
        head_sha: str | None = ref.lower()
    else:
        # a PR head is resolved through the API when needed; a branch or tag name is whatever
        # commit it points at when the runtime clones it
        head_sha = None
    return dataclasses.replace(base, pr_number=pr, ref=ref, head_sha=head_sha, runtime=runtime)


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    text = str(value or "").strip().lstrip("#")
    return int(text) if text.isdigit() and int(text) > 0 else None
