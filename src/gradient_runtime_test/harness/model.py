"""Test results as the harness records them (the ``tests`` entries of the bundle payload)."""

from __future__ import annotations

import enum
import re
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Remove terminal colour and control sequences (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


def tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, marked when something was cut."""
    if len(text) <= limit:
        return text
    return "[... %d characters cut ...]\n" % (len(text) - limit) + text[-limit:]


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"  # the runtime misbehaved
    ERROR = "error"  # infrastructure or configuration broke: no verdict on the runtime
    SKIPPED = "skipped"


class Result:
    """One test: a check or a notebook run."""

    __test__ = False  # not a pytest class

    __slots__ = ("details", "duration_s", "message", "name", "status")

    def __init__(
        self,
        name: str,
        status: Status,
        message: str = "",
        details: str = "",
        duration_s: float = 0.0,
    ) -> None:
        self.name = name
        self.status = status
        self.message = message
        self.details = details
        self.duration_s = duration_s

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
            "details": self.details,
        }

    def __repr__(self) -> str:
        return "Result(%r, %s, %r)" % (self.name, self.status.value, self.message)


class Recorder:
    """Collects results, environment facts and metrics as the run goes.

    Kept outside the run so that, should the harness crash, what was recorded still reaches the
    bundle next to the ``harness/internal`` error.
    """

    def __init__(self) -> None:
        self.tests: List[Result] = []
        self.environment: Dict[str, Any] = {}
        self.metrics: Dict[str, Dict[str, Any]] = {}
        self.notebooks: Dict[str, Any] = {}
        self.notes: List[str] = []

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


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start
