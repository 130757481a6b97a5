"""How doctor's findings are shown: a table, a summary, one annotation per finding, JSON."""

from __future__ import annotations

import io

from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.preflight.findings import (
    Finding,
    Level,
    annotate,
    exit_code,
    render_table,
    summary,
    to_json,
)

FOUND = (
    Finding("api key", Level.OK, "accepted (3 notebooks visible)"),
    Finding("machines", Level.ERROR, "A100: not offered to this team", subject="A100"),
    Finding("leftovers", Level.WARNING, "2 notebooks of run abc (Stopped)", subject="abc"),
)


def test_the_table_has_a_row_per_finding_with_its_result() -> None:
    assert render_table(FOUND).splitlines() == [
        "CHECK      RESULT  DETAIL",
        "api key    ok      accepted (3 notebooks visible)",
        "machines   FAIL    A100: not offered to this team",
        "leftovers  WARN    2 notebooks of run abc (Stopped)",
    ]


def test_errors_fail_warnings_do_not() -> None:
    assert exit_code(FOUND) == 1
    assert exit_code(FOUND[::2]) == 0
    assert summary(FOUND) == "Doctor: 1 problem a run would trip on, 1 warning."
    assert summary(FOUND[:1]) == "Doctor: all good, a run can start."


def test_in_actions_each_finding_is_one_line() -> None:
    stream = io.StringIO()
    actions = Actions(stream, {"GITHUB_ACTIONS": "true"})
    annotate(FOUND, actions)
    assert stream.getvalue().splitlines() == [
        "api key: accepted (3 notebooks visible)",
        "::error title=grt doctor%3A machines::A100: not offered to this team",
        "::warning title=grt doctor%3A leftovers::2 notebooks of run abc (Stopped)",
    ]


def test_json_carries_every_finding_and_the_data() -> None:
    data = to_json(FOUND, {"running": {"count": 1, "limit": None}})
    assert data["ok"] is False and data["schema"] == 1
    assert [f["level"] for f in data["findings"]] == ["ok", "error", "warning"]
    assert data["findings"][1]["subject"] == "A100"
    assert data["running"] == {"count": 1, "limit": None}
