"""The fake takes its wording, states and log caps from a ``grt doctor --probe`` report (what the
real platform did with one notebook): ``FakePaperspace(replay=PATH)`` or
``python -m tests.fakes.paperspace --replay PATH``. docs/probe.md says which report field sets
which knob, and how a maintainer makes them the fake's defaults.

Only what the report observed changes; every other knob keeps the fake's (stricter) default. Where
the report says a limit held (a 2,000-character line kept whole), the fake takes the observed value
as its cap: the real cap is at least that, and the stricter reading is the known-safe one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .faults import Faults

KIND = "grt-probe"
SCHEMA = 1


def replay_report(source: Path | Mapping[str, Any]) -> dict[str, Any]:
    """The report, read from a file when given a path; ``ValueError`` when it is not one."""
    report = (
        json.loads(Path(source).read_text(encoding="utf-8"))
        if isinstance(source, Path)
        else dict(source)
    )
    if not isinstance(report, dict) or report.get("kind") != KIND or report.get("schema") != SCHEMA:
        raise ValueError(f"not a {KIND} report of schema {SCHEMA}: {str(source)[:200]}")
    return report


def knobs(report: Mapping[str, Any]) -> dict[str, Any]:
    """Fault knob -> value, for what the report observed."""
    found: dict[str, Any] = {}
    start = [s for s in report.get("start_states") or () if isinstance(s, str) and s]
    if start:
        found["start_states"] = tuple(start)
    found.update(_create(report.get("create") or {}))
    found.update(_ending(report))
    found.update(_logs(report.get("logs") or {}))
    listed = report.get("list_unpaged") or {}
    if (
        listed.get("capped") is True
        and isinstance(listed.get("count"), int)
        and listed["count"] > 0
    ):
        found["list_page_size"] = listed["count"]
    return found


def _words(answer: Mapping[str, Any]) -> str | None:
    words = answer.get("words")
    return words if isinstance(words, str) and words else None


def _create(create: Mapping[str, Any]) -> dict[str, Any]:
    words = _words(create)
    if create.get("accepted") is not False or create.get("adopted") or words is None:
        return {}
    if create.get("kind") == "CapacityError":
        return {"capacity_message": words}
    chars = create.get("command_chars")
    if not isinstance(chars, int):
        return {}
    # The probe's create differs from an ordinary one only by its command's size.
    return {"max_command_chars": chars - 1, "command_refusal_message": words}


def _ending(report: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    refused = report.get("delete_while_stopping") or {}
    if refused.get("tried") and refused.get("accepted"):
        found["refuse_delete_while"] = frozenset()
    elif refused.get("tried") and isinstance(refused.get("state"), str):
        found["refuse_delete_while"] = frozenset({refused["state"]})
        words = _words(refused)
        if words is not None:  # literal words: the fake's {state} placeholder is not in them
            found["delete_refusal_message"] = words.replace("{", "{{").replace("}", "}}")
    stopped = report.get("stop_stopped") or {}
    if stopped.get("tried"):
        found["stop_ended_message"] = None if stopped.get("accepted") else _words(stopped) or ""
    return found


def _logs(logs: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    long = logs.get("long_line") or {}
    if isinstance(long.get("kept"), int) and long["kept"] > 0:
        found["log_line_limit"] = long["kept"]
    page = logs.get("page") or {}
    asked, got, rows = page.get("asked"), page.get("got"), logs.get("rows")
    if all(isinstance(v, int) for v in (asked, got, rows)) and got < asked <= rows:
        found["log_page_size"] = got
    if logs.get("order") in ("ascending", "descending"):
        found["reverse_log_rows"] = logs["order"] == "descending"
    return found


def apply_report(faults: Faults, report: Mapping[str, Any]) -> dict[str, Any]:
    """Set the knobs the report observed on ``faults``; returns them."""
    found = knobs(report)
    for name, value in found.items():
        setattr(faults, name, value)
    return found
