"""How the orchestrator paces itself: slots, poll and log-read intervals, retries, timeouts."""

from __future__ import annotations

import dataclasses

from ..harness.protocol import Keep


@dataclasses.dataclass(frozen=True)
class Options:
    max_parallel: int = 1
    keep: Keep = Keep.NEVER
    poll_interval_s: float = 5.0
    log_interval_s: float = 15.0  # logs of a running notebook are read at most this often...
    # ...or this often when the harness ends the notebook itself (keep never): its logs are read
    # as it ends, so reading them while it runs is only a safety net. None: as log_interval_s.
    unattended_log_interval_s: float | None = None
    startup_timeout_s: float = 15 * 60
    unavailable_retries: int = 2
    unavailable_delay_s: float = 120.0
    running_limit_delay_s: float = 30.0
    stop_timeout_s: float = 3.0  # all stop requests on cancel are sent within this
    # An ended notebook whose logs cannot be read is kept (not deleted: its logs hold the
    # result) and asked again at each poll for this long before the cell is an error.
    log_retry_s: float = 120.0
    # USD the run may spend (billed plus what running notebooks accrue); None: no budget.
    max_cost_usd: float | None = None
    # The provider's API failing without a break this long (polls and creates alike): every live
    # and queued cell ends as an error, so a dead API cannot hold the run.
    api_outage_s: float = 120.0
    # A notebook in a state the provider does not know is treated as ended after this long.
    unknown_state_s: float = 300.0

    @property
    def running_log_interval_s(self) -> float:
        """How often the logs of a running notebook are read."""
        if self.keep == Keep.NEVER and self.unattended_log_interval_s is not None:
            return self.unattended_log_interval_s
        return self.log_interval_s


def options_for(
    poll_interval_s: float,
    *,
    max_parallel: int,
    keep: Keep = Keep.NEVER,
    startup_timeout_s: float = 15 * 60,
    unavailable_delay_s: float = 120.0,
    max_cost_usd: float | None = None,
    api_outage_s: float = 120.0,
) -> Options:
    """The options `grt run` uses: every interval scales with the poll interval."""
    return Options(
        max_parallel=max_parallel,
        keep=keep,
        poll_interval_s=poll_interval_s,
        # Logs of a running notebook: every third poll at most (two requests each on Gradient),
        # or every twelfth when the harness ends the notebook itself (a safety net).
        log_interval_s=min(15.0, 3 * poll_interval_s),
        unattended_log_interval_s=min(60.0, 12 * poll_interval_s),
        unavailable_delay_s=unavailable_delay_s,
        # A full running-notebook limit frees up when a notebook ends: check again every few polls.
        running_limit_delay_s=min(30.0, 6 * poll_interval_s),
        startup_timeout_s=startup_timeout_s,
        # An ended notebook whose logs cannot be read yet is asked again for twelve polls.
        log_retry_s=min(120.0, 12 * poll_interval_s),
        max_cost_usd=max_cost_usd,
        api_outage_s=api_outage_s,
        # An unknown state lasting sixty polls (five minutes at the default poll) means ended.
        unknown_state_s=min(300.0, 60 * poll_interval_s),
    )
