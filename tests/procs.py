"""Processes of this machine, read from /proc: for tests that check what a stop left running."""

from __future__ import annotations

import time
from pathlib import Path


def with_argv(argv: str) -> list[int]:
    """Processes of this machine whose command line is `argv` (words joined by NULs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_text().rstrip("\0") == argv:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def ends_within(pid: int, seconds: float) -> bool:
    """True once `pid` is gone or a zombie (a signal takes a moment to land under load)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False
