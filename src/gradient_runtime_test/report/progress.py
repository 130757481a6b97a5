"""Progress while cells run: a live table in a terminal; one line per state change elsewhere
(GitHub Actions logs, pipes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from ..results import CellStatus

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

_STYLE = {
    CellStatus.PASSED: "green",
    CellStatus.FAILED: "bold red",
    CellStatus.ERROR: "bold magenta",
    CellStatus.UNAVAILABLE: "yellow",
    CellStatus.CANCELLED: "dim",
    CellStatus.RUNNING: "cyan",
    CellStatus.STARTING: "blue",
}


class LinePrinter:
    """`HH:MM:SS  MACHINE  status  detail`, one line per change."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.time) -> None:
        self._stream = stream
        self._clock = clock

    def __call__(self, machine: str, status: CellStatus, detail: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(self._clock()))
        extra = f"  {detail}" if detail else ""
        print(f"{stamp}  {machine:<16} {status.value}{extra}", file=self._stream, flush=True)

    def close(self) -> None:
        pass


class LiveTable:
    """A table of every cell, redrawn in place as states change (rich)."""

    def __init__(
        self, machines: Sequence[str], stream: TextIO, clock: Callable[[], float] = time.monotonic
    ) -> None:
        from rich.console import Console
        from rich.live import Live

        self._clock = clock
        self._rows = {m: (CellStatus.QUEUED, "", clock()) for m in machines}
        self._live: Live = Live(
            self._table(), console=Console(file=stream), auto_refresh=False, transient=False
        )
        self._live.start()

    def __call__(self, machine: str, status: CellStatus, detail: str) -> None:
        previous = self._rows.get(machine)
        since = previous[2] if previous and previous[0] == status else self._clock()
        self._rows[machine] = (status, detail, since)
        self._live.update(self._table(), refresh=True)

    def _table(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("MACHINE", "STATUS", "FOR", "DETAIL"):
            table.add_column(column)
        now = self._clock()
        for machine, (status, detail, since) in self._rows.items():
            label = Text(status.value, style=_STYLE.get(status, ""))
            table.add_row(Text(machine), label, f"{now - since:.0f}s", Text(detail))
        return table

    def close(self) -> None:
        self._live.stop()


def make_progress(
    machines: Sequence[str], stream: TextIO, *, in_actions: bool
) -> LinePrinter | LiveTable:
    if stream.isatty() and not in_actions:
        return LiveTable(machines, stream)
    return LinePrinter(stream)
