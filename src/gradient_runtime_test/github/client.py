"""Building the PyGithub client, its retry policy, and what counts as a reporting failure."""

from __future__ import annotations

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

# An Actions token is an app installation token: it cannot read GET /user, and what it writes is
# authored by this bot.
ACTIONS_BOT = "github-actions[bot]"


class BoundedRetry(GithubRetry):
    """GithubRetry that sleeps through an injected function, so tests need not wait.

    Secondary rate limits are honoured: `Retry-After` when the response has it, else
    `secondary_rate_wait`. PATCH is retried as well (editing a comment or check run is idempotent);
    POST is retried by GithubRetry already, and a duplicate comment from a retried create is merged
    by the comment upsert.
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
        secondary_rate_wait=secondary_rate_wait,
        max_rate_limit_wait=max_wait,
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
    )


def make_github(
    token: str | None,
    api_url: str,
    *,
    retry: Retry | None = None,
    per_page: int = 100,
    timeout: int = 15,
    seconds_between_requests: float | None = 0.25,
    seconds_between_writes: float | None = 1.0,
) -> Github:
    """A PyGithub client for `api_url` (GitHub Enterprise: `https://host/api/v3`).

    Lazy: objects are not fetched until an attribute needs it, so finding a PR comment does not
    first GET the repository and the issue. The pauses between requests follow GitHub's advice for
    avoiding secondary rate limits; tests pass 0.
    """
    return Github(
        auth=Token(token) if token else None,
        base_url=api_url.rstrip("/"),
        retry=retry if retry is not None else github_retry(),
        per_page=per_page,
        timeout=timeout,
        seconds_between_requests=seconds_between_requests,
        seconds_between_writes=seconds_between_writes,
        lazy=True,
    )


def identity(gh: Github) -> str:
    """The login that comments made with this client are authored by.

    A personal token answers GET /user; an Actions (installation) token gets 403 "Resource not
    accessible by integration" and writes as github-actions[bot]. Other errors propagate.
    """
    try:
        return str(gh.get_user().login)
    except GithubException as e:
        if e.status == 403:
            return ACTIONS_BOT
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
