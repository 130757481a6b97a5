"""Showing source checks: a table for people, JSON for tools, one annotation per finding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TextIO

from .check import Level, SourceReport
from .registry import ImageStatus


class Annotator(Protocol):
    """Where findings go: `github.actions.Actions` (annotations in Actions, plain lines outside)."""

    def error(self, message: str, *, file: str | None = None) -> None: ...
    def warning(self, message: str, *, file: str | None = None) -> None: ...
    def info(self, message: str) -> None: ...


def render_table(reports: Sequence[SourceReport]) -> str:
    rows = [("RUNTIME", "WORKSPACE", "NOTEBOOKS", "CONTAINER")]
    for report in reports:
        ws = report.workspace
        if report.runtime.workspace is None:
            where, notebooks = "-", "-"
        elif ws is None:
            where, notebooks = "unreadable", "not checked"
        else:
            where = ws.commit[:12] if ws.commit else "folder"
            listed = _listed(report)
            present = len([p for p in listed if p in ws.files])
            notebooks = f"{present}/{len(listed)} present"
        image = report.image
        container = image.status.value
        if image.status == ImageStatus.FOUND and image.digest:
            container += f" {image.digest[:19]}"
        rows.append((report.runtime.name, where, notebooks, container))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _listed(report: SourceReport) -> list[str]:
    return [n.path for n in report.runtime.notebooks]


def summary(reports: Sequence[SourceReport]) -> str:
    errors = sum(f.level == Level.ERROR for r in reports for f in r.findings)
    warnings = sum(f.level == Level.WARNING for r in reports for f in r.findings)
    checked = f"{len(reports)} runtime{'s' if len(reports) != 1 else ''}"
    if not errors and not warnings:
        return f"Sources: everything listed is there ({checked} checked)."
    parts = []
    if errors:
        parts.append(f"{errors} problem{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"Sources: {', '.join(parts)} ({checked} checked)."


def annotate(reports: Sequence[SourceReport], actions: Annotator) -> None:
    """One line (an annotation in GitHub Actions) per finding, naming the matrix file."""
    for report in reports:
        for finding in report.findings:
            emit = actions.error if finding.level == Level.ERROR else actions.warning
            emit(f"{finding.field}: {finding.message}", file=report.runtime.source or None)


def exit_code(reports: Sequence[SourceReport]) -> int:
    return 0 if all(r.ok for r in reports) else 1


def print_reports(
    reports: Sequence[SourceReport], *, table: bool, out: TextIO, actions: Annotator
) -> int:
    """The table (when asked) on `out`; findings and the summary through `actions` (stderr in the
    CLI, so `--format json` output stays one JSON document); the exit code."""
    if table:
        print("", file=out)
        print(render_table(reports), file=out)
    annotate(reports, actions)
    actions.info(summary(reports))
    return exit_code(reports)
