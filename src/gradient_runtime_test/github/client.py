"""Building the PyGithub client, its retry policy and timeout, who the token writes as, and what
counts as a reporting failure."""

from __future__ import annotations

import dataclasses
import enum
import math
import time
from collections.abc import Callable
from typing import Any

import requests
from github.Auth import Token
from github.GithubException import GithubException, RateLimitExceededException
from github.GithubRetry import GithubRetry
from github.MainClass import Github
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

# Errors from talking to GitHub. Publishing turns these into warnings: failure of reporting is not
# failure of testing. RetryError is what requests raises once 5xx retries are exhausted.
REPORTING_ERRORS: tuple[type[Exception], ...] = (
    GithubException,
    requests.RequestException,
)


class TokenKind(enum.StrEnum):
    """What a GitHub token is, as far as writing goes."""

    APP = "app"  # a GitHub App installation token (the workflow's GITHUB_TOKEN is one)
    PERSONAL = "personal"  # a user's token (classic or fine-grained PAT, OAuth, user-to-server)


# Token prefixes GitHub documents ("Behind GitHub's new authentication token formats", 2021).
_PREFIXES = {
    "ghs_": TokenKind.APP,
    "ghp_": TokenKind.PERSONAL,
    "github_pat_": TokenKind.PERSONAL,
    "gho_": TokenKind.PERSONAL,
    "ghu_": TokenKind.PERSONAL,
}


def token_kind(token: str | None) -> TokenKind | None:
    """The kind its prefix says, or None (an older or unknown format: ask GitHub)."""
    return next((k for p, k in _PREFIXES.items() if (token or "").startswith(p)), None)


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who comments made with a token are authored by. A personal token's login comes from
    GET /user. An App token cannot read GET /user and its app's slug is not at hand: its login
    (`<slug>[bot]`) is unknown until a comment it created shows it; until then any bot's comment
    stands for ours."""

    kind: TokenKind
    login: str | None = None

    def authored(self, user: Any) -> bool:
        """Whether `user` (a comment's author) is this identity, as far as is known."""
        login = str(getattr(user, "login", "") or "")
        if self.login is not None:
            return login.lower() == self.login.lower()
        return self.kind is TokenKind.APP and getattr(user, "type", None) == "Bot"

    def learned(self, login: str | None) -> Identity:
        """This identity once a comment it created shows its login."""
        return self if not login else dataclasses.replace(self, login=login)


class BoundedRetry(GithubRetry):
    """GithubRetry that sleeps through an injected function, so tests need not wait.

    Secondary rate limits are honoured: `Retry-After` when the response has it, else
    `secondary_rate_wait`. A 429 is retried too, after its `Retry-After` or, without one (PyGithub
    would give up), after the jittered back-off. PATCH is retried as well (editing a comment or
    check run is idempotent); POST is retried by GithubRetry already, and a duplicate comment from
    a retried create is merged by the comment upsert.
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_sleep: float = 300.0,
        **kwargs: Any,
    ) -> None:
        self._sleeper = sleep
        self._max_sleep = max_sleep
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> BoundedRetry:
        kw["sleep"] = self._sleeper
        kw["max_sleep"] = self._max_sleep
        retry = super().new(**kw)
        assert isinstance(retry, BoundedRetry)
        return retry

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        if self.respect_retry_after_header and response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after:
                self._sleeper(min(retry_after, self._max_sleep))
                return
        backoff = self.get_backoff_time()
        if response is not None and response.status == 429:
            backoff = max(backoff, self.backoff_factor)  # never at once: it said "slow down"
        if backoff > 0:
            self._sleeper(min(backoff, self._max_sleep))


def github_retry(
    *,
    total: int = 5,
    backoff_factor: float = 1.0,
    secondary_rate_wait: float = 60.0,
    max_wait: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> BoundedRetry:
    """The retry policy for GitHub: 5xx and rate limits, bounded and exponential.

    No single wait exceeds `max_wait` seconds, whatever `Retry-After` asks for.
    """
    return BoundedRetry(
        sleep=sleep,
        max_sleep=max_wait,
        total=total,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_factor / 2,
        secondary_rate_wait=secondary_rate_wait,
        max_rate_limit_wait=max_wait,
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
        status_forcelist=[429, *range(500, 600)],
    )


def make_github(
    token: str | None,
    api_url: str,
    *,
    retry: Retry | None = None,
    per_page: int = 100,
    timeout: float = 15.0,
    seconds_between_requests: float | None = 0.25,
    seconds_between_writes: float | None = 1.0,
) -> Github:
    """A PyGithub client for `api_url` (GitHub Enterprise: `https://host/api/v3`).

    Lazy: objects are not fetched until an attribute needs it, so finding a PR comment does not
    first GET the repository and the issue. The pauses between requests follow GitHub's advice for
    avoiding secondary rate limits; tests pass 0. `timeout`: seconds to connect and for each read
    of an answer (GRT_GITHUB_TIMEOUT).
    """
    return Github(
        auth=Token(token) if token else None,
        base_url=api_url.rstrip("/"),
        retry=retry if retry is not None else github_retry(),
        per_page=per_page,
        timeout=max(1, math.ceil(timeout)),  # PyGithub takes whole seconds only
        seconds_between_requests=seconds_between_requests,
        seconds_between_writes=seconds_between_writes,
        lazy=True,
    )


def identity(gh: Github, token: str | None = None) -> Identity:
    """Who comments made with this client are authored by (never a hard-coded name).

    The token's prefix tells an App token (`ghs_`) without a request. Otherwise GET /user: a
    personal token answers with its login; an App installation token gets 403 "Resource not
    accessible by integration". Other errors propagate.
    """
    if token_kind(token) is TokenKind.APP:
        return Identity(TokenKind.APP)
    try:
        return Identity(TokenKind.PERSONAL, str(gh.get_user().login))
    except GithubException as e:
        if e.status == 403 and token_kind(token) is None:
            return Identity(TokenKind.APP)
        raise


def is_permanent(error: Exception) -> bool:
    """An answer that will not change during this run: no access (401/403), not found (404).

    A rate limit is a 403 too, but passes.
    """
    return (
        isinstance(error, GithubException)
        and error.status in (401, 403, 404)
        and not isinstance(error, RateLimitExceededException)
    )


def describe(error: Exception) -> str:
    """One line for a warning: status and GitHub's message when there is one."""
    if isinstance(error, GithubException):
        data = error.data
        message = data.get("message") if isinstance(data, dict) else None
        return f"HTTP {error.status}: {message or error.message or data}"
    return f"{type(error).__name__}: {error}"
