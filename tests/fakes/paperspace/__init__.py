"""A fake Paperspace Gradient API that the real ``gradient`` SDK (2.99.4) talks to.

It implements what ``shared/reference/gradient-api.md`` observed on the wire, and really runs each
created notebook's command on this machine (see :mod:`.runtime`). Start it in tests with the
``fake_paperspace`` fixture (``tests/conftest_paperspace.py``), or for a demo with
``python -m tests.fakes.paperspace --port 8080``.
"""

from .endpoints import ROUTES, Response
from .faults import (
    CAPACITY_MESSAGE,
    INVALID_TOKEN_MESSAGE,
    NOT_FOUND_MESSAGE,
    RUNNING_LIMIT_MESSAGE,
    Faults,
)
from .runtime import DEFAULT_COMMAND, END_OF_LOG, FakeNotebook, LogRow, NotebookSpec
from .server import FakePaperspace
from .transport import RecordedRequest

__all__ = [
    "CAPACITY_MESSAGE",
    "DEFAULT_COMMAND",
    "END_OF_LOG",
    "INVALID_TOKEN_MESSAGE",
    "NOT_FOUND_MESSAGE",
    "ROUTES",
    "RUNNING_LIMIT_MESSAGE",
    "FakeNotebook",
    "FakePaperspace",
    "Faults",
    "LogRow",
    "NotebookSpec",
    "RecordedRequest",
    "Response",
]
