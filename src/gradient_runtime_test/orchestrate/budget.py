"""Holding a run to its budget (`--max-cost`), by the orchestrator's clock. Pure.

- *spent*: the billed cost of finished cells, plus what every notebook still up has accrued since
  it was created (its price times the time since create).
- *committed*: spent, with each running cell counted at no less than its expected cost (the
  estimate it was launched on).

A queued cell is launched only while committed plus its own expected cost stays within the budget;
it waits while cells are running (they may finish under their estimate), and is cancelled once
nothing runs and it still does not fit. Once spent would pass the budget before the next look (a
poll later, or as long as the last poll took, whichever is longer), every running cell is
cancelled (its notebook stopped and deleted, whatever the keep policy) and nothing more is
launched. Cells without a price count as free here: `grt run` refuses a budget
over unpriced cells before anything is created.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from .cells import Job, Live

REASON = "budget"  # the reason of cells cancelled to keep the budget


def _price(job: Job) -> float:
    return job.price_per_hour or 0.0


def accrued(cell: Live, now: float) -> float:
    """USD a notebook has cost from its create until `now`."""
    return max(0.0, now - cell.created_at) * _price(cell.job) / 3600


def expected(job: Job) -> float:
    """USD a cell is expected to cost (its estimate; 0 without a price)."""
    return job.estimated_cost_usd or 0.0


@dataclasses.dataclass(frozen=True)
class Budget:
    max_cost_usd: float

    def spent(self, billed: float, up: Iterable[Live], now: float) -> float:
        """Finished cells' `billed` cost plus what the notebooks still `up` accrued by `now`."""
        return billed + sum(accrued(cell, now) for cell in up)

    def committed(
        self, billed: float, running: Iterable[Live], ending: Iterable[Live], now: float
    ) -> float:
        """Spent, with each running cell counted at no less than its expected cost."""
        return (
            billed
            + sum(max(accrued(cell, now), expected(cell.job)) for cell in running)
            + sum(accrued(cell, now) for cell in ending)
        )

    def affords(self, committed: float, jobs: Iterable[Job]) -> bool:
        """Whether launching `jobs` keeps what is committed within the budget."""
        return committed + sum(expected(job) for job in jobs) <= self.max_cost_usd + 1e-9

    def exhausted(self, billed: float, up: Iterable[Live], now: float, lookahead_s: float) -> bool:
        """Whether spent would pass the budget before the next look, `lookahead_s` from `now`."""
        return self.spent(billed, up, now + lookahead_s) > self.max_cost_usd
