"""Keeping the cell's nonce (the secret that authenticates the bundle) from notebook code.

The harness holds the nonce in memory only. On Linux it makes itself non-dumpable, so processes
without ``CAP_SYS_PTRACE`` cannot read its memory, environment or open files through ``/proc``
(same user or not), and drops ``CAP_SYS_PTRACE`` and ``CAP_SYS_ADMIN`` from the capability
bounding set that every program it starts inherits: kernels running as root can then neither
read its memory nor unmount a private ``/proc`` to see processes outside their namespace. It also
becomes a child subreaper, so that whatever notebooks leave behind, even after a double fork,
stays below it and is ended before the final bundle (``tree.end_leftovers``).
docs/reliability.md ("Trust model") says what this does and does not protect against.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Dict, Optional

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21


def _prctl() -> Optional[Any]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def lock_down() -> Dict[str, bool]:
    """Apply what the platform allows; returns what took effect (recorded in the payload's
    ``environment``). Needs no privilege except the capability drop (``CAP_SETPCAP``: root)."""
    prctl = _prctl()
    if prctl is None:
        return {"non_dumpable": False, "subreaper": False, "kernels_without_ptrace_admin": False}

    def call(option: int, arg: int) -> bool:
        return int(prctl(option, ctypes.c_ulong(arg), 0, 0, 0)) == 0

    done = {
        "non_dumpable": call(PR_SET_DUMPABLE, 0),
        "subreaper": call(PR_SET_CHILD_SUBREAPER, 1),
    }
    for cap in (CAP_SYS_PTRACE, CAP_SYS_ADMIN):
        call(PR_CAPBSET_DROP, cap)  # EPERM without CAP_SETPCAP: the set below says what holds
    bounding = _bounding_set()
    done["kernels_without_ptrace_admin"] = bounding is not None and not (
        bounding & (1 << CAP_SYS_PTRACE | 1 << CAP_SYS_ADMIN)
    )
    return done


def _bounding_set() -> Optional[int]:
    """This process's capability bounding set (what any program it starts can ever hold)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return None
