"""What `grt doctor` found, and how it is shown: a table in a terminal, one line (an annotation) per
finding in GitHub Actions, or JSON. Pure."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any, Protocol


class Level(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"  # worth knowing; a run would not trip on it
    ERROR = "error"  # a run would trip on it (exit 1)


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str  # "api key", "project", "machines", "running", "leftovers", "latency"
    level: Level
    message: str
    subject: str = ""  # what it is about, when there are several (a machine, a run id)

    def to_json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "level": self.level.value,
            "message": self.message,
            "subject": self.subject,
        }


class Annotator(Protocol):
    """`github.actions.Actions`: annotations in Actions, plain lines outside."""

    def error(self, message: str, *, title: str | None = None) -> None: ...
    def warning(self, message: str, *, title: str | None = None) -> None: ...
    def info(self, message: str) -> None: ...


_MARK = {Level.OK: "ok", Level.WARNING: "WARN", Level.ERROR: "FAIL"}


def render_table(findings: Sequence[Finding]) -> str:
    rows = [("CHECK", "RESULT", "DETAIL")]
    rows += [(f.check, _MARK[f.level], f.message) for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(
        f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}".rstrip() for r in rows
    )


def summary(findings: Sequence[Finding]) -> str:
    errors = sum(f.level is Level.ERROR for f in findings)
    warnings = sum(f.level is Level.WARNING for f in findings)
    if not errors and not warnings:
        return "Doctor: all good, a run can start."
    parts = []
    if errors:
        parts.append(f"{errors} problem{'s' if errors != 1 else ''} a run would trip on")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"Doctor: {', '.join(parts)}."


def annotate(findings: Sequence[Finding], actions: Annotator) -> None:
    """One line per finding: errors and warnings as annotations, the rest as plain lines."""
    for f in findings:
        if f.level is Level.ERROR:
            actions.error(f.message, title=f"grt doctor: {f.check}")
        elif f.level is Level.WARNING:
            actions.warning(f.message, title=f"grt doctor: {f.check}")
        else:
            actions.info(f"{f.check}: {f.message}")


def exit_code(findings: Sequence[Finding]) -> int:
    return 1 if any(f.level is Level.ERROR for f in findings) else 0


def to_json(findings: Sequence[Finding], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": 1,
        "ok": exit_code(findings) == 0,
        "findings": [f.to_json() for f in findings],
        **data,
    }
