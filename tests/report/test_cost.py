"""Cost in the renderers: the Cost column, the "billed $X of an estimated $Y" line, reused cells
and the JUnit cost properties."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from gradient_runtime_test.report import junit, markdown
from gradient_runtime_test.results import CellResult, CellStatus, Reuse
from tests.report import builders

A4000 = 0.76


def priced(machine: str, billed_s: float, status: CellStatus = CellStatus.PASSED) -> CellResult:
    return CellResult(
        machine=machine,
        status=status,
        billed_s=billed_s,
        price_per_hour=A4000,
        estimated_cost_usd=A4000 / 2,
    )


@pytest.mark.parametrize(
    ("usd", "text"),
    [(None, "—"), (0.0, "$0.00"), (0.004, "<$0.01"), (0.005, "$0.01"), (1234.5, "$1,234.50")],
)
def test_money(usd: float | None, text: str) -> None:
    assert markdown.money(usd) == text


def test_the_cost_line_says_billed_of_estimated_and_the_budget() -> None:
    run = builders.run(priced("A4000", 1800), priced("A6000", 3600))
    assert markdown.cost_line(run) == "Cost: billed $1.14 of an estimated $0.76"
    budgeted = dataclasses.replace(
        builders.run(priced("A4000", 1800), CellResult("C5", CellStatus.PASSED)), max_cost_usd=5.0
    )
    assert markdown.cost_line(budgeted) == (
        "Cost: billed $0.38 of an estimated $0.38 · budget $5.00"
        " (1 machine without a price not counted)"
    )
    live = builders.run(priced("A4000", 1800), priced("A6000", 0, CellStatus.RUNNING))
    assert markdown.cost_line(live).startswith("Cost: billed $0.38 so far of an estimated")
    assert markdown.cost_line(builders.run(CellResult("C5", CellStatus.PASSED))) == ""


def test_dollars_are_not_math_in_markdown() -> None:
    run = builders.run(priced("A4000", 1800), priced("A6000", 3600))
    assert markdown.cost_markdown(run) == r"Cost: billed \$1.14 of an estimated \$0.76"
    rows = markdown.status_table(run).splitlines()[2:]
    assert [row.split(" | ")[6] for row in rows] == [r"\$0.38", r"\$0.76"]
    assert "$" not in markdown.status_table(run).replace(r"\$", "")


def test_a_running_cell_has_no_cost_yet_and_an_unpriced_one_none() -> None:
    run = builders.run(priced("A4000", 10, CellStatus.RUNNING), CellResult("C5", CellStatus.PASSED))
    costs = [row.split(" | ")[6] for row in markdown.status_table(run).splitlines()[2:]]
    assert costs == ["—", "—"]


def test_a_reused_cell_says_where_its_pass_comes_from() -> None:
    reuse = Reuse("41/1", "2026-11-29T03:00:00Z", "https://github.com/a/b/actions/runs/41")
    hostile = Reuse("x|`y`", "2026-11-29T03:00:00Z", "javascript:alert(1)")
    run = builders.run(
        CellResult("A4000", CellStatus.PASSED, price_per_hour=A4000, reused_from=reuse),
        CellResult("A6000", CellStatus.PASSED, reused_from=hostile),
    )
    table = markdown.status_table(run)
    assert (
        "✅ passed (reused: [run 41/1](https://github.com/a/b/actions/runs/41) of 2026-11-29)"
        in table
    )
    assert r"reused: run x\|\`y\` of 2026-11-29" in table and "javascript" not in table
    assert "reused" in markdown.terminal_table(run)


def test_junit_carries_the_cost_of_each_cell() -> None:
    reuse = Reuse("41/1", "2026-11-29T03:00:00Z")
    run = builders.run(
        priced("A4000", 1800),
        CellResult("C5", CellStatus.PASSED),
        CellResult("A6000", CellStatus.PASSED, price_per_hour=1.89, reused_from=reuse),
    )
    root = ET.fromstring(junit.render([run]).encode())
    props = [
        {p.get("name"): p.get("value") for p in suite.iter("property")}
        for suite in root.iter("testsuite")
    ]
    assert (props[0]["cost_usd"], props[0]["estimated_cost_usd"]) == ("0.3800", "0.3800")
    assert props[0]["price_per_hour"] == "0.7600"
    assert "cost_usd" not in props[1]  # no price: no cost
    assert (
        props[2]["cost_usd"] == "0.0000" and props[2]["reused_from"] == "41/1 2026-11-29T03:00:00Z"
    )
