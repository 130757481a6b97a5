"""Process trees, read from ``/proc``: ending what notebooks left behind, and ending the notebook.

The harness never signals a process outside the notebook command's own tree: the local provider
runs the same command on a shared host. Without ``/proc`` (not Linux) only the given root is
signalled. A process is named by its pid and its start time, so a pid reused meanwhile is never
signalled by mistake.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Callable, Dict, List, Optional, Tuple

Member = Tuple[int, int]  # pid, start time (clock ticks since boot)
_Stat = Tuple[int, int, str]  # parent pid, start time, state


def _stat(pid: int) -> Optional[_Stat]:
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the name in (...) may hold anything
    try:
        return int(fields[1]), int(fields[19]), fields[0]
    except (IndexError, ValueError):
        return None


def _table() -> Dict[int, _Stat]:
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    for name in names:
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None:
                table[int(name)] = stat
    return table


def members(root: int, *, include_root: bool = True) -> List[Member]:
    """``root`` and every process below it, as they are now (zombies left out), parents first."""
    table = _table()
    children: Dict[int, List[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: List[Member] = []
    pending = [root]
    while pending:
        pid = pending.pop(0)
        stat = table.get(pid)
        if stat is None and pid == root and include_root:
            found.append((pid, 0))  # no /proc: the root alone, unchecked
        elif stat is not None and stat[2] != "Z" and (pid != root or include_root):
            found.append((pid, stat[1]))
        pending.extend(sorted(children.get(pid, ())))
    return found


def alive(member: Member) -> bool:
    pid, start = member
    stat = _stat(pid)
    if stat is None:
        if start:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return stat[2] != "Z" and (not start or stat[1] == start)


def signal_all(found: List[Member], signum: int, kill: Callable[[int, int], None] = os.kill) -> int:
    """Send ``signum`` to each member still alive; returns how many were signalled."""
    sent = 0
    for member in found:
        if alive(member):
            try:
                kill(member[0], signum)
                sent += 1
            except OSError:
                pass
    return sent


def wait_gone(found: List[Member], timeout_s: float, *, reaping: bool = False) -> List[Member]:
    """Wait up to ``timeout_s`` for the members to end (a zombie has ended); returns those still
    alive. ``reaping`` collects our ended children meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        if reaping:
            reap()
        left = [m for m in found if alive(m)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def reap() -> None:
    """Collect ended children (and orphans handed to us as a subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def end_leftovers(grace_s: float = 5.0) -> int:
    """End every process still below the harness (what notebooks left running), before its
    final line; returns how many there were."""
    found = members(os.getpid(), include_root=False)
    if found:
        signal_all(found, signal.SIGKILL)
        wait_gone(found, grace_s, reaping=True)
    reap()
    return len(found)


def end_tree(root: int, grace_s: float = 10.0) -> Tuple[int, int]:
    """SIGTERM ``root`` and everything below it (the harness itself excepted), then SIGKILL
    what is left after ``grace_s``; returns (signalled, killed). When ``root`` is PID 1 of a
    container, its end ends the container, and the harness with it."""
    me = os.getpid()
    found = [m for m in members(root) if m[0] != me]
    sent = signal_all(found, signal.SIGTERM)
    left = wait_gone(found, grace_s)
    killed = signal_all(left, signal.SIGKILL)
    return sent, killed
