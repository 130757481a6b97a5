"""Progress output: a live table for terminals, plain lines elsewhere."""

from __future__ import annotations

import io

from gradient_runtime_test.report.progress import LinePrinter, LiveTable, make_progress
from gradient_runtime_test.results import CellStatus


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_outside_a_terminal() -> None:
    stream = io.StringIO()
    printer = make_progress(["A4000"], stream, in_actions=False)
    assert isinstance(printer, LinePrinter)
    printer("A4000", CellStatus.RUNNING, "")
    printer("A4000", CellStatus.FAILED, "1 notebook failed")
    lines = stream.getvalue().splitlines()
    assert [line[10:] for line in lines] == [
        "A4000            running",
        "A4000            failed  1 notebook failed",
    ]


def test_actions_get_lines_even_on_a_tty() -> None:
    assert isinstance(make_progress(["C5"], Tty(), in_actions=True), LinePrinter)


def test_live_table_redraws_every_cell() -> None:
    stream = Tty()
    now = [100.0]
    table = LiveTable(["A4000", "C5"], stream, clock=lambda: now[0])
    now[0] = 130.0
    table("A4000", CellStatus.RUNNING, "[not markup]")
    table.close()
    text = stream.getvalue()
    assert "MACHINE" in text and "A4000" in text and "C5" in text
    assert "running" in text and "queued" in text and "30s" in text
    assert "[not markup]" in text
