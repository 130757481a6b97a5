"""What the notebook engines share: nbclient in-process (``engine_nbclient``), or ``jupyter
nbconvert`` as a fallback (``engine_nbconvert``); ``run.choose_engine`` picks one.

An engine runs a ``Job`` (one notebook, one fresh kernel, once or twice in that kernel) and
returns one ``Outcome`` per run. It never raises for anything a notebook or kernel does: those
become ``Failure`` values. Messages are composed by the caller, which knows cell positions in the
notebook file.

Both engines judge a cell that ran the same way (``judge_cell``): an ``error`` output anywhere in
it fails it — the cell's own exception, or one that a post-execute hook or a display formatter
showed while the cell itself finished — unless the cell may raise (``raises-exception`` tag, or
the job's ``allow_errors``); so does an error reply without an error output (a missing magic's
``UsageError``). ``SystemExit`` with code 0 or None ends the notebook early, as passed.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, ContextManager, Dict, List, Mapping, Optional, Protocol, Tuple

from .model import strip_ansi, tail
from .nbfile import error_outputs, stream_text
from .protocol import NotebookEntry, Status

STDIN_HINT = "the notebook asked for input(), but notebooks under test cannot read stdin"
# What ``str(SystemExit(code))`` gives for the codes that end a Python program successfully.
CLEAN_EXITS = ("", "0", "None", "False")
DETAIL_CHARS = 4000


@dataclasses.dataclass
class Failure:
    """Why a run did not pass. ``cell`` is an index into the job's notebook, None if no cell;
    ``execution_count`` is the cell's prompt number (``In [k]``) when it ran."""

    status: Status
    ename: str
    evalue: str
    details: str = ""
    cell: Optional[int] = None
    execution_count: Optional[int] = None

    def __repr__(self) -> str:
        return "Failure(%s, %s: %s, cell=%r)" % (
            self.status.value,
            self.ename,
            self.evalue,
            self.cell,
        )


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One run of a job. ``ended_early``: (cell index, execution count) of the cell whose
    clean ``SystemExit`` ended the run before its last cell."""

    nb: Dict[str, Any]
    failure: Optional[Failure]
    duration_s: float
    ended_early: Optional[Tuple[int, Optional[int]]] = None


@dataclasses.dataclass(eq=False)
class Job:
    """One notebook to run in a fresh kernel, ``runs`` times in that kernel."""

    nb: Dict[str, Any]
    kernel_name: str
    cwd: str
    env: Mapping[str, str]
    cell_timeout: Optional[float] = None
    timeout: Optional[float] = None
    check_exit_codes: bool = NotebookEntry.check_exit_codes  # the spec's default
    runs: int = 1
    allow_errors: bool = False
    cell_timeout_from: str = "cell_timeout"  # where the per-cell limit was set, for messages
    # Held while the job's cells run (a scheduler's slot); engines enter it once, after the
    # kernel is ready where they can. Set by the scheduler: ``waited_s``, the time spent waiting
    # for the slot, and ``busy_s``, the rest of the time the job took.
    slot: ContextManager[Any] = dataclasses.field(
        default_factory=contextlib.nullcontext, init=False
    )
    waited_s: float = dataclasses.field(default=0.0, init=False)
    busy_s: float = dataclasses.field(default=0.0, init=False)
    # Set by the engine: seconds per phase (``kernel_start_s``, ``cells_s``, ``hidden_s``,
    # ``shutdown_s``; see ``protocol.TIMING_KEYS``), as far as it can tell them apart.
    timing: Dict[str, float] = dataclasses.field(default_factory=dict, init=False)


class Engine(Protocol):
    name: str
    version: str

    def execute(self, job: Job) -> List[Outcome]:
        """Run the job; a failure to start the kernel is one Outcome whose failure has no cell."""


def judge_cell(
    cell: Mapping[str, Any],
    index: int,
    *,
    allowed: bool,
    reply: Optional[Tuple[str, str]] = None,
) -> Tuple[Optional[Failure], bool]:
    """(the failure, if the cell that just ran failed; whether it ended the notebook early).

    ``reply``: the (ename, evalue) of the kernel's error reply, if it was one. See the module
    docstring for the policy.
    """
    errors = error_outputs(cell)
    clean_exit = any(_clean_exit(out) for out in errors) or (
        reply is not None and reply[0] == "SystemExit" and reply[1] in CLEAN_EXITS
    )
    if allowed:
        return None, clean_exit
    for out in errors:
        if not _clean_exit(out):
            return output_failure(cell, index, out), False
    if reply is not None and not clean_exit:
        ename, evalue = reply
        return Failure(Status.FAILED, ename, evalue, cell_details(cell), index, _count(cell)), False
    return None, clean_exit


def _clean_exit(out: Mapping[str, Any]) -> bool:
    return out.get("ename") == "SystemExit" and str(out.get("evalue", "")) in CLEAN_EXITS


def output_failure(cell: Mapping[str, Any], index: int, out: Mapping[str, Any]) -> Failure:
    """The failure an ``error`` output of cell ``index`` stands for."""
    ename = str(out.get("ename", "Exception"))
    evalue = str(out.get("evalue", ""))
    if ename == "StdinNotImplementedError":
        evalue = "%s (%s)" % (evalue, STDIN_HINT) if evalue else STDIN_HINT
    elif ename == "SystemExit":
        evalue += " (a non-zero exit code fails the notebook)"
    details = strip_ansi("\n".join(str(line) for line in out.get("traceback", [])))
    return Failure(Status.FAILED, ename, evalue, details or cell_details(cell), index, _count(cell))


def cell_timeout_text(job: Job) -> str:
    return "cell did not finish within its %g s limit (%s)" % (
        job.cell_timeout or 0,
        job.cell_timeout_from,
    )


def cell_details(cell: Mapping[str, Any], note: str = "") -> str:
    """A failure's details when there is no traceback: a note, the cell's source and output."""
    parts = [note] if note else []
    parts.append("source:\n" + tail(str(cell.get("source", "")), DETAIL_CHARS))
    output = strip_ansi(stream_text(cell))
    parts.append("output:\n" + (tail(output, DETAIL_CHARS) if output.strip() else "(none)"))
    return "\n\n".join(parts)


def _count(cell: Mapping[str, Any]) -> Optional[int]:
    count = cell.get("execution_count")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def clear_from(cells: List[Dict[str, Any]], start: int) -> None:
    """Cells from ``start`` on did not run: no outputs, no prompt number."""
    for cell in cells[start:]:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
