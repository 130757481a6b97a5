"""The harness protocol's shared definitions, in one home (docs/harness-protocol.md).

Runs inside runtimes: Python 3.8+, standard library only, imports nothing from the package. The
orchestrator imports these definitions from here; nothing mirrors them by hand.
"""

from __future__ import annotations

import enum


class Keep(str, enum.Enum):
    """What happens to a cell's notebook once its result is in."""

    NEVER = "never"  # end it
    FAILED = "failed"  # keep it running when the cell did not pass
    ALWAYS = "always"  # keep it running

    def __str__(self) -> str:
        return self.value


def keeps(keep: Keep, failed: bool) -> bool:
    """Whether the notebook is kept running (by the harness and by the orchestrator alike)."""
    return keep is Keep.ALWAYS or (keep is Keep.FAILED and failed)
