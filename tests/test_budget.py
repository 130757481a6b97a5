"""The orchestrator holds a run to its budget (`--max-cost`): scripted notebooks, a manual clock
that moves one second per poll, and machines at $1 a second (3600 USD an hour)."""

from __future__ import annotations

import dataclasses

import pytest

from gradient_runtime_test.harness.protocol import Keep
from gradient_runtime_test.orchestrate import Job
from gradient_runtime_test.orchestrate.budget import Budget
from gradient_runtime_test.orchestrate.cells import Live
from gradient_runtime_test.providers.base import Handle, NotebookState
from gradient_runtime_test.results import CellStatus
from tests.test_orchestrate import PASS, Script, bundle, job, make

DOLLAR_A_SECOND = 3600.0
RUNNING = (NotebookState.RUNNING, [])


def priced(machine: str, *, expected_s: float = 10.0, price: float | None = DOLLAR_A_SECOND) -> Job:
    return dataclasses.replace(job(machine), price_per_hour=price, expected_s=expected_s)


def forever() -> Script:
    return Script(timeline=[RUNNING])


def after(polls: int, machine: str) -> Script:
    """Runs `polls` polls, then reports a pass."""
    return Script(
        timeline=[RUNNING] * polls + [(NotebookState.RUNNING, bundle(f"b{machine}", PASS))]
    )


def test_running_cells_are_cancelled_before_spending_past_the_budget() -> None:
    orchestrator, provider, clock = make(
        {"a": forever(), "b": forever(), "c": forever()}, max_parallel=2, max_cost_usd=25.0
    )
    provider.on_poll = lambda: setattr(clock, "now", clock.now + 1)
    a, b, c = orchestrator.run([priced("a"), priced("b"), priced("c")])
    assert [o.result.status for o in (a, b, c)] == [CellStatus.CANCELLED] * 3
    assert {o.result.reason for o in (a, b, c)} == {"budget"}
    # a and b ran at $1/s each; they were stopped before the run spent past $25
    spent = sum(o.result.cost_usd or 0 for o in (a, b, c))
    assert 20 <= spent <= 25
    assert a.result.billed_s == b.result.billed_s == 12
    # c never fitted next to them (3 x $10 > $25): no notebook was created for it
    assert ("create", "c") not in provider.calls and c.result.notebook_id == ""
    assert c.result.cost_usd == 0 and c.result.estimated_cost_usd == 10
    # every notebook created was stopped and deleted
    assert provider.stopped == set(provider.live) == provider.deleted and len(provider.live) == 2


def test_a_budget_cancel_ends_notebooks_the_keep_policy_would_keep() -> None:
    orchestrator, provider, clock = make({"a": forever()}, keep=Keep.ALWAYS, max_cost_usd=5.0)
    provider.on_poll = lambda: setattr(clock, "now", clock.now + 1)
    (a,) = orchestrator.run([priced("a", expected_s=2)])
    assert a.result.status == CellStatus.CANCELLED and a.result.reason == "budget"
    assert provider.stopped == set(provider.live) == provider.deleted


def test_a_cell_waits_for_room_and_runs_when_others_finish_under_their_estimate() -> None:
    scripts = {"a": after(2, "a"), "b": after(30, "b"), "c": after(2, "c")}
    orchestrator, provider, clock = make(scripts, max_parallel=3, max_cost_usd=70.0)
    provider.on_poll = lambda: setattr(clock, "now", clock.now + 1)
    a, b, c = orchestrator.run([priced(m, expected_s=30) for m in "abc"])
    assert [o.result.status for o in (a, b, c)] == [CellStatus.PASSED] * 3
    creates = [name for what, name in provider.calls if what == "create"]
    assert creates == ["a", "b", "c"]
    # c waited (3 x $30 > $70) until a passed at $3, which left room for it
    assert provider.calls.index(("create", "c")) > provider.calls.index(("states", "2")) + 2
    assert sum(o.result.cost_usd or 0 for o in (a, b, c)) <= 70


def test_what_cannot_fit_when_nothing_runs_is_cancelled_without_a_notebook() -> None:
    scripts = {"a": after(1, "a"), "b": after(1, "b")}
    orchestrator, provider, clock = make(scripts, max_parallel=2, max_cost_usd=15.0)
    provider.on_poll = lambda: setattr(clock, "now", clock.now + 1)
    a, b = orchestrator.run([priced("a"), priced("b", expected_s=20)])
    assert a.result.status == CellStatus.PASSED
    assert (b.result.status, b.result.reason, b.result.notebook_id) == (
        CellStatus.CANCELLED,
        "budget",
        "",
    )
    assert ("create", "b") not in provider.calls


def test_free_and_unpriced_machines_never_trip_a_zero_budget() -> None:
    scripts = {"a": after(3, "a"), "b": after(3, "b")}
    orchestrator, provider, clock = make(scripts, max_parallel=2, max_cost_usd=0.0)
    provider.on_poll = lambda: setattr(clock, "now", clock.now + 1)
    a, b = orchestrator.run([priced("a", price=0.0), priced("b", price=None)])
    assert (a.result.status, b.result.status) == (CellStatus.PASSED, CellStatus.PASSED)
    assert a.result.cost_usd == 0 and b.result.cost_usd is None


def test_cells_record_their_price_and_estimate_without_a_budget() -> None:
    orchestrator, provider, clock = make({"a": after(4, "a")})
    provider.on_poll = lambda: setattr(clock, "now", clock.now + 1)
    (a,) = orchestrator.run([priced("a", price=1.8, expected_s=1800)])
    assert a.result.status == CellStatus.PASSED
    assert a.result.price_per_hour == 1.8 and a.result.estimated_cost_usd == pytest.approx(0.9)
    assert (
        a.result.cost_usd == pytest.approx(a.result.billed_s * 1.8 / 3600) and a.result.billed_s > 0
    )


def test_the_look_ahead_covers_the_time_until_the_next_look() -> None:
    live = Live(job=priced("a"), handle=Handle(notebook_id="n", name="n"), created_at=0.0)
    meter = Budget(max_cost_usd=10.0)
    assert not meter.exhausted(0.0, [live], now=8.0, lookahead_s=2.0)  # $10 at the next look
    assert meter.exhausted(0.0, [live], now=8.0, lookahead_s=2.5)
    assert meter.exhausted(4.0, [], now=0.0, lookahead_s=0.0) is False
    assert meter.committed(1.0, [live], [], now=3.0) == 11.0  # running: at least its $10 estimate
    assert meter.committed(1.0, [], [live], now=3.0) == 4.0  # ending: what it accrued
    assert meter.affords(4.0, [priced("b", expected_s=6)]) and not meter.affords(
        4.1, [priced("b", expected_s=6)]
    )
