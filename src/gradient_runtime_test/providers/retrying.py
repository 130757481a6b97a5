"""How long to wait before trying an API call again: jittered exponential back-off, a server's
``Retry-After`` honoured up to a cap, and a time budget so that a dead API ends a call in bounded
time (pure: no clock, no sleep)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all. Between them: ``Retry-After`` when the answer gave one (at most
    ``retry_after_max_s``), else ``backoff_s`` doubling up to ``max_backoff_s``, jittered to
    between half and all of it (so concurrent callers spread out). A failure without
    ``Retry-After`` (a timeout, a 5xx) is not tried again once ``budget_s`` has passed since the
    first try, nor while the API has not answered anything for ``budget_s``."""

    attempts: int = 5
    backoff_s: float = 2.0
    max_backoff_s: float = 30.0
    retry_after_max_s: float = 60.0
    budget_s: float = 60.0

    def delay(
        self, attempt: int, retry_after_s: float | None, random: Callable[[], float]
    ) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.retry_after_max_s)
        ceiling = min(self.backoff_s * 2.0**attempt, self.max_backoff_s)
        return float(ceiling * (0.5 + 0.5 * random()))

    def again(
        self, attempt: int, *, elapsed_s: float, silent_s: float, retry_after_s: float | None
    ) -> bool:
        """Whether to try again after failed try number ``attempt`` of a retryable error."""
        if attempt + 1 >= self.attempts:
            return False
        if retry_after_s is not None:  # the API is alive and said when
            return True
        return elapsed_s < self.budget_s and silent_s < self.budget_s
