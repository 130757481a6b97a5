"""Money and memory of a run, shared by `grt run`, `grt report` and `grt plan`: where the run comes
from (its id and link), what its cells cost and may cost, the budget check made before anything
is created, and the history read before a run (reuse, the previous run) and appended after it."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import UsageError
from ..history import store
from ..history.inputs import Inputs, pin
from ..history.records import Cells, previous_cells, records_of
from ..history.reuse import find, reused_cell
from ..matrix.model import Machine, Runtime
from ..plan import Cell
from ..results import CellResult, RunResult

DEFAULT_EXPECTED = "30m"


def add_cost_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-cost",
        metavar="USD",
        help="budget in US dollars: refuse a plan estimated above it; stop a run before it passes it",
    )
    parser.add_argument(
        "--expected-duration",
        default=DEFAULT_EXPECTED,
        metavar="DURATION",
        help=f"how long a cell is expected to bill, for the cost estimate (default {DEFAULT_EXPECTED})",
    )


def add_history_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history",
        type=Path,
        metavar="DIR",
        help="append one record per cell to DIR/<runtime>.jsonl (see docs/history.md)",
    )


# --- where a run comes from ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Origin:
    run_id: str  # "<workflow run id>/<attempt>" in GitHub Actions, else `fallback`
    run_url: str = ""
    event: str = ""


def origin(env: Mapping[str, str], fallback: str) -> Origin:
    from ..github.context import GitHubContext

    context = GitHubContext.from_env(env)
    if context is None or not context.run_id:
        return Origin(fallback)
    return Origin(context.run_key, context.run_url, context.event_name)


# --- cost and budget -------------------------------------------------------------------------------


def price(machine: Machine, provider: str) -> float | None:
    """USD an hour of a cell on `machine`: the catalogue's price on Gradient; nothing locally."""
    return machine.price_per_hour if provider == "gradient" else 0.0


def estimate(cells: Sequence[Cell], *, provider: str, expected_s: float) -> float:
    """USD the cells are expected to cost (unpriced ones not counted)."""
    return sum((price(c.machine, provider) or 0.0) * expected_s / 3600 for c in cells)


def budget_problem(
    cells: Sequence[Cell], *, provider: str, expected_s: float, max_cost_usd: float
) -> str | None:
    """Why the cells do not fit the budget (unpriced cells could pass any budget; or the estimate
    exceeds it), one line; None when they fit."""
    unpriced = sorted({c.machine.name for c in cells if price(c.machine, provider) is None})
    if unpriced:
        names = ", ".join(unpriced)
        return (
            f"{names} {'has' if len(unpriced) == 1 else 'have'} no price_per_hour in"
            " machines.yaml, so a budget cannot hold their cost (valid: give them a price_per_hour,"
            " or leave them out with --machine)"
        )
    total = estimate(cells, provider=provider, expected_s=expected_s)
    if total > max_cost_usd + 1e-9:
        return (
            f"the estimate ${total:.2f} ({len(cells)} cell{'s' if len(cells) != 1 else ''} of"
            f" {_duration(expected_s)}) is over the budget of ${max_cost_usd:.2f} (valid: a budget"
            f" of at least ${total:.2f}, fewer machines with --machine, or a shorter"
            " --expected-duration)"
        )
    return None


def check_budget(
    cells: Sequence[Cell], *, provider: str, expected_s: float, max_cost_usd: float | None
) -> None:
    """Refuse (exit 2, before anything is created) a budget the cells do not fit."""
    if max_cost_usd is None:
        return
    problem = budget_problem(
        cells, provider=provider, expected_s=expected_s, max_cost_usd=max_cost_usd
    )
    if problem:
        raise UsageError(f"--max-cost: {problem}")


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:g} min" if minutes < 120 else f"{minutes / 60:g} h"


# --- history before and after a run ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ledger:
    """What history says about a run before it starts."""

    inputs: Inputs | None = None
    hashes: Mapping[str, str] = dataclasses.field(default_factory=dict)  # machine -> input hash
    reused: Mapping[str, CellResult] = dataclasses.field(default_factory=dict)  # by machine
    baseline: Cells | None = None  # the previous run's cells, for "changes since"
    notes: tuple[str, ...] = ()  # warnings: why nothing could be reused, bad history lines


def open_ledger(
    folder: Path,
    runtime: Runtime,
    cells: Sequence[Cell],
    *,
    workspace: str | None,
    ref: str | None,
    provider: str,
    cluster_id: str | None,
    run_id: str,
    reuse_max_age_s: float | None,
    env: Mapping[str, str],
    matrices_root: Path,
    now: dt.datetime,
) -> Ledger:
    """Read the history folder, pin the run's inputs down (git ls-remote, the registry), and
    find the cells a recent pass on the same inputs stands for."""
    from ..sources.check import SourceSettings

    past = store.load(folder)
    inputs = pin(
        workspace,
        ref,
        provider=provider,
        container=runtime.container,
        cluster_id=cluster_id,
        sources=SourceSettings.from_env(env),
        matrices_root=matrices_root,
    )
    hashes = {c.machine.name: inputs.cell_hash(runtime, c.machine) for c in cells}
    notes = []
    if past.skipped:
        notes.append(f"history: {past.skipped} line(s) in {folder} are not records: left out")
    reused: dict[str, CellResult] = {}
    if reuse_max_age_s is not None:
        if not inputs.pinned:
            notes.append(
                f"--reuse-passed: nothing reused, the workspace commit is unknown: {inputs.problem}"
            )
        for cell in cells:
            name = cell.machine.name
            found = find(
                past.records,
                runtime=runtime.name,
                machine=name,
                input_hash=hashes[name],
                now=now,
                max_age_s=reuse_max_age_s,
            )
            if found is not None:
                reused[name] = reused_cell(
                    found, input_hash=hashes[name], price_per_hour=price(cell.machine, provider)
                )
    baseline = previous_cells(past.records, runtime.name, before=run_id)
    return Ledger(inputs, hashes, reused, baseline, tuple(notes))


def record(folder: Path, runs: Sequence[RunResult], *, event: str) -> str | None:
    """Append the runs' records to the history folder; a warning when that failed."""
    try:
        store.append(folder, [r for run in runs for r in records_of(run, event=event)])
    except OSError as exc:
        return f"history: could not write {folder}: {exc.strerror or exc}"
    return None


def baselines(folder: Path, runs: Sequence[RunResult], *, run_id: str) -> dict[str, Cells]:
    """For each run's runtime, the cells of its previous run in the history folder."""
    past = store.load(folder).records
    found = {}
    for run in runs:
        cells = previous_cells(past, run.runtime, before=run_id)
        if cells is not None:
            found[run.runtime] = cells
    return found
