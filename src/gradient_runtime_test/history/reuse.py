"""Don't pay twice (`--reuse-passed DURATION`): a cell whose inputs passed recently is not run. Pure.

A cell is reused when the latest verdict history holds for its runtime, machine and input hash is
`passed`, by a run that really ran it (not itself a reuse, so a verdict never outlives DURATION
by being passed on) and finished less than DURATION ago. A later `failed` or `error` on the same
inputs blocks reuse; cells without a verdict (unavailable, cancelled, skipped) are looked past.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..results import CellResult, CellStatus, Reuse
from .records import Record, order

_VERDICTS = (CellStatus.PASSED, CellStatus.FAILED, CellStatus.ERROR)
_CLOCK_SKEW_S = 300  # a record up to this far in the future (another runner's clock) still counts


def parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def find(
    records: Sequence[Record],
    *,
    runtime: str,
    machine: str,
    input_hash: str,
    now: dt.datetime,
    max_age_s: float,
) -> Record | None:
    """The record whose pass the cell can stand on, or None."""
    if not input_hash:
        return None
    for record in reversed(order(records)):
        if (
            record.runtime != runtime
            or record.machine != machine
            or record.input_hash != input_hash
            or record.reused_from is not None
            or record.status not in _VERDICTS
        ):
            continue
        finished = parse_time(record.finished_at)
        if record.status != CellStatus.PASSED or finished is None:
            return None
        age = (now - finished).total_seconds()
        return record if -_CLOCK_SKEW_S <= age < max_age_s else None
    return None


def reused_cell(record: Record, *, input_hash: str, price_per_hour: float | None) -> CellResult:
    """The cell as this run reports it: passed, nothing billed, pointing at the run it reuses."""
    return CellResult(
        machine=record.machine,
        status=CellStatus.PASSED,
        price_per_hour=price_per_hour,
        estimated_cost_usd=None if price_per_hour is None else 0.0,
        input_hash=input_hash,
        reused_from=Reuse(run_id=record.run_id, at=record.finished_at, run_url=record.run_url),
    )
