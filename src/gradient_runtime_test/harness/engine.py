"""How notebooks are executed: nbclient in-process, or ``jupyter nbconvert`` as a fallback.

An engine runs a ``Job`` (one notebook, one fresh kernel, once or twice in that kernel) and
returns one ``Outcome`` per run. It never raises for anything a notebook or kernel does: those
become ``Failure`` values. Messages are composed by the caller, which knows cell positions in the
notebook file.
"""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager, Dict, List, Mapping, Optional, Protocol

from .model import Status, strip_ansi
from .nbfile import error_output

STDIN_HINT = "the notebook asked for input(), but notebooks under test cannot read stdin"


class Failure:
    """Why a run did not pass. ``cell`` is an index into the job's notebook, None if no cell."""

    def __init__(
        self,
        status: Status,
        ename: str,
        evalue: str,
        details: str = "",
        cell: Optional[int] = None,
    ) -> None:
        self.status = status
        self.ename = ename
        self.evalue = evalue
        self.details = details
        self.cell = cell

    def __repr__(self) -> str:
        return "Failure(%s, %s: %s, cell=%r)" % (
            self.status.value,
            self.ename,
            self.evalue,
            self.cell,
        )


class Outcome:
    def __init__(self, nb: Dict[str, Any], failure: Optional[Failure], duration_s: float) -> None:
        self.nb = nb
        self.failure = failure
        self.duration_s = duration_s


class Job:
    def __init__(
        self,
        nb: Dict[str, Any],
        kernel_name: str,
        cwd: str,
        env: Mapping[str, str],
        *,
        cell_timeout: Optional[float] = None,
        timeout: Optional[float] = None,
        check_exit_codes: bool = False,
        runs: int = 1,
        allow_errors: bool = False,
    ) -> None:
        self.nb = nb
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.env = env
        self.cell_timeout = cell_timeout
        self.timeout = timeout
        self.check_exit_codes = check_exit_codes
        self.runs = runs
        self.allow_errors = allow_errors
        # Held while the job's cells run (a scheduler's slot); engines enter it once, after
        # the kernel is ready where they can. Set by the scheduler: ``waited_s``, the time spent
        # waiting for the slot, and ``busy_s``, the rest of the time the job took.
        self.slot: ContextManager[Any] = contextlib.nullcontext()
        self.waited_s = 0.0
        self.busy_s = 0.0


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


def choose_engine(name: str, env: Mapping[str, str]) -> Engine:
    """The engine called ``name``, or for "auto" nbclient when importable, else nbconvert."""
    from .engine_nbclient import NbclientEngine, nbclient_available
    from .engine_nbconvert import NbconvertEngine

    if name == "nbclient" or (name == "auto" and nbclient_available()):
        return NbclientEngine()
    return NbconvertEngine(env)
