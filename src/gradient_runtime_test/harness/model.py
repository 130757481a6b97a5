"""What the harness records as it goes (``Result`` entries are the protocol's), and helpers to
record them: a guard around each step, a stopwatch, text clean-up."""

from __future__ import annotations

import dataclasses
import re
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

from .protocol import Result, Status

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Remove terminal colour and control sequences (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


def tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, marked when something was cut."""
    if len(text) <= limit:
        return text
    return "[... %d characters cut ...]\n" % (len(text) - limit) + text[-limit:]


@dataclasses.dataclass
class Recorder:
    """Collects results, environment facts and metrics as the run goes.

    Kept outside the run so that, should the harness crash, what was recorded still reaches the
    bundle next to the ``harness/internal`` error.
    """

    tests: List[Result] = dataclasses.field(default_factory=list)
    environment: Dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    notebooks: Dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: List[str] = dataclasses.field(default_factory=list)

    def add(self, result: Result) -> Result:
        self.tests.append(result)
        return result

    def get(self, name: str) -> Optional[Result]:
        for result in self.tests:
            if result.name == name:
                return result
        return None

    @property
    def any_failed(self) -> bool:
        return any(t.status in (Status.FAILED, Status.ERROR) for t in self.tests)


def guarded(recorder: Recorder, name: str, step: Callable[[], object]) -> None:
    """Run one step of the harness; if it breaks, record ``name`` as an error and carry on.

    A bug or surprise in one check or notebook must not cost the results of the others.
    """
    watch = Stopwatch()
    try:
        step()
    except Exception as exc:
        recorder.add(
            Result(
                name,
                Status.ERROR,
                "harness error: %s: %s" % (type(exc).__name__, exc),
                traceback.format_exc(),
                watch.elapsed(),
            )
        )


@dataclasses.dataclass
class Stopwatch:
    start: float = dataclasses.field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.start
