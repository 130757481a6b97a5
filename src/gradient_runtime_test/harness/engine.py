"""What the notebook engines share: nbclient in-process (``engine_nbclient``), or ``jupyter
nbconvert`` as a fallback (``engine_nbconvert``); ``run.choose_engine`` picks one.

An engine runs a ``Job`` (one notebook, one fresh kernel, once or twice in that kernel) and
returns one ``Outcome`` per run. It never raises for anything a notebook or kernel does: those
become ``Failure`` values. Messages are composed by the caller, which knows cell positions in the
notebook file.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, ContextManager, Dict, List, Mapping, Optional, Protocol

from .model import strip_ansi
from .nbfile import error_output
from .protocol import NotebookEntry, Status

STDIN_HINT = "the notebook asked for input(), but notebooks under test cannot read stdin"


@dataclasses.dataclass
class Failure:
    """Why a run did not pass. ``cell`` is an index into the job's notebook, None if no cell."""

    status: Status
    ename: str
    evalue: str
    details: str = ""
    cell: Optional[int] = None

    def __repr__(self) -> str:
        return "Failure(%s, %s: %s, cell=%r)" % (
            self.status.value,
            self.ename,
            self.evalue,
            self.cell,
        )


@dataclasses.dataclass(frozen=True)
class Outcome:
    nb: Dict[str, Any]
    failure: Optional[Failure]
    duration_s: float


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
    # Held while the job's cells run (a scheduler's slot); engines enter it once, after the
    # kernel is ready where they can. Set by the scheduler: ``waited_s``, the time spent waiting
    # for the slot, and ``busy_s``, the rest of the time the job took.
    slot: ContextManager[Any] = dataclasses.field(
        default_factory=contextlib.nullcontext, init=False
    )
    waited_s: float = dataclasses.field(default=0.0, init=False)
    busy_s: float = dataclasses.field(default=0.0, init=False)


class Engine(Protocol):
    name: str
    version: str

    def execute(self, job: Job) -> List[Outcome]:
        """Run the job; a failure to start the kernel is one Outcome whose failure has no cell."""


def error_failure(nb: Mapping[str, Any], index: int) -> Optional[Failure]:
    """The failure for a cell whose outputs hold an error, or None."""
    out = error_output(nb["cells"][index])
    if out is None:
        return None
    ename = str(out.get("ename", "Exception"))
    evalue = str(out.get("evalue", ""))
    if ename == "StdinNotImplementedError":
        evalue = "%s (%s)" % (evalue, STDIN_HINT) if evalue else STDIN_HINT
    details = strip_ansi("\n".join(str(line) for line in out.get("traceback", [])))
    return Failure(Status.FAILED, ename, evalue, details, index)
