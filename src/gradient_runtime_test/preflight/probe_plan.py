"""What `grt doctor --probe` creates and how it reads back what it printed. Pure.

The probe's notebook command prints a 2,000-character line (10-character blocks that each end
with their own position, so a cut or a split shows where it happened), a burst of 500 numbered
lines, the length of a padding variable that makes the command as long as a real cell's, and an
end marker; then it starts the runtime's Jupyter (the platform waits for Jupyter), which a
background timer ends after the probe's longest possible life, so the notebook ends itself even
if `grt` dies.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..harness.protocol import Accelerator
from ..matrix.model import Catalogue, Machine, Runtime

MARK = "GRTPROBE"
LONG_LINE_CHARS = 2000
BURST_LINES = 500
END_OF_LOG = "PSEOF"
_BLOCK = 10
_LONG_PREFIX = f"{MARK}-LONG-LINE: "  # 20 characters: the blocks end at 30, 40, ... 2000
_BURST = re.compile(rf"^{MARK}-BURST (\d+)$")
_PAD = re.compile(rf"^{MARK}-PAD (\d+)$")
_BLOCKS_ONLY = re.compile(r"^[0-9|]{10,}$")  # a piece of the long line on a row of its own
MAX_LISTED = 20  # gaps and missing lines listed in the report, at most


class Row(Protocol):
    """A log row as the logs API sent it (`providers.gradient_api.RawLogRow`)."""

    @property
    def line(self) -> int | None: ...
    @property
    def message(self) -> str: ...
    @property
    def timestamp(self) -> str | None: ...


def long_line() -> str:
    """`GRTPROBE-LONG-LINE: ` then blocks like `000000030|`: each block's last character is at
    the position the block names (1-based), so a kept piece tells where the line was cut."""
    text = _LONG_PREFIX
    while len(text) < LONG_LINE_CHARS:
        end = len(text) + _BLOCK
        text += f"{end:0{_BLOCK - 1}d}|"
    return text[:LONG_LINE_CHARS]


def probe_command(jupyter_command: str, *, size: int, lifetime_s: int) -> str:
    """The probe's command, padded to `size` characters when it is shorter (a real cell's
    command carries the harness: the size the platform must accept)."""

    def build(pad: int) -> str:
        return (
            f"GRT_PROBE_PAD={'p' * pad}; "
            f"printf '%s\\n' {shlex.quote(long_line())}; "
            f'i=1; while [ "$i" -le {BURST_LINES} ]; do echo "{MARK}-BURST $i"; i=$((i+1)); done; '
            f'echo "{MARK}-PAD ${{#GRT_PROBE_PAD}}"; echo {MARK}-END; '
            f"(sleep {lifetime_s}; kill -TERM 0) >/dev/null 2>&1 & "
            f"exec sh -c {shlex.quote(jupyter_command)}"
        )

    bare = len(build(0))
    return build(max(0, size - bare))


def pad_length(command: str) -> int:
    match = re.match(r"GRT_PROBE_PAD=(p*);", command)
    return len(match.group(1)) if match else 0


# --- choosing the machine and the image ----------------------------------------------------------


def cheapest_cpu(
    catalogue: Catalogue, offered: Iterable[str], only: Sequence[str] = ()
) -> Machine | None:
    """The cheapest CPU machine of the catalogue that the platform offers now (among `only`, when
    given); priced machines first, cheapest first, then by name."""
    available = set(offered)
    candidates = [
        m
        for m in catalogue.machines.values()
        if m.accelerator is Accelerator.CPU and m.name in available and (not only or m.name in only)
    ]
    return min(
        candidates,
        key=lambda m: (m.price_per_hour is None, m.price_per_hour or 0.0, m.name),
        default=None,
    )


def runtime_for(
    catalogue: Catalogue, machine: Machine, selected: Sequence[Runtime]
) -> Runtime | None:
    """Whose image and Jupyter command the probe uses: the first selected runtime that lists
    `machine`, else the first selected one, else any runtime that lists it, else the first."""
    pools = (selected, catalogue.runtimes)
    for pool in pools:
        for runtime in pool:
            if machine.name in runtime.machines:
                return runtime
        if pool:
            return pool[0]
    return None


def estimate(machine: Machine, lifetime_s: float) -> float | None:
    if machine.price_per_hour is None:
        return None
    return machine.price_per_hour * lifetime_s / 3600


# --- reading back what it printed ----------------------------------------------------------------


def analyse_logs(rows: Sequence[Row], *, pad_sent: int) -> dict[str, Any]:
    """How the rows of one logs answer came: order, repeats, gaps, the end marker, and what
    survived of the long line, the burst and the padding length."""
    numbers = [r.line for r in rows if r.line is not None]
    messages = [r.message for r in rows]
    return {
        "rows": len(rows),
        "first_line": min(numbers, default=None),
        "last_line": max(numbers, default=None),
        "order": _order(numbers),
        "repeated_lines": len(numbers) - len(set(numbers)),
        "gaps": _gaps(numbers),
        "end_marker": END_OF_LOG in messages,
        "longest_row": max((len(m) for m in messages), default=0),
        "timestamps": sum(r.timestamp is not None for r in rows),
        "timestamp_sample": next((r.timestamp for r in rows if r.timestamp), None),
        "long_line": _long(messages),
        "burst": _burst(messages),
        "pad": _pad(messages, pad_sent),
        "end_seen": f"{MARK}-END" in messages,
    }


def _order(numbers: Sequence[int]) -> str:
    if list(numbers) == sorted(numbers):
        return "ascending"
    if list(numbers) == sorted(numbers, reverse=True):
        return "descending"
    return "mixed"


def _ranges(missing: Sequence[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for n in missing:
        if ranges and ranges[-1][1] == n - 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    return ranges[:MAX_LISTED]


def _gaps(numbers: Sequence[int]) -> list[list[int]]:
    """Line numbers missing between the first and the last, as [from, to] ranges."""
    if not numbers:
        return []
    seen = set(numbers)
    return _ranges([n for n in range(min(seen), max(seen) + 1) if n not in seen])


def _long(messages: Sequence[str]) -> dict[str, Any]:
    sent = long_line()
    kept = [m for m in messages if m.startswith(_LONG_PREFIX)]
    pieces = [m for m in messages if _BLOCKS_ONLY.match(m)]
    longest = max(kept, key=len, default="")
    return {
        "sent": len(sent),
        "kept": len(longest),
        "intact": longest == sent,
        "head_kept": bool(longest) and sent.startswith(longest),
        "split_rows": len(pieces),  # the rest of it on rows of their own
    }


def _burst(messages: Sequence[str]) -> dict[str, Any]:
    got = [int(m.group(1)) for m in map(_BURST.match, messages) if m]
    unique = set(got)
    missing = [n for n in range(1, BURST_LINES + 1) if n not in unique]
    return {
        "sent": BURST_LINES,
        "received": len(unique),
        "missing": _ranges(missing),
        "in_order": got == sorted(got),
        "repeated": len(got) - len(unique),
    }


def _pad(messages: Sequence[str], sent: int) -> dict[str, Any]:
    got = next((int(m.group(1)) for m in map(_PAD.match, messages) if m), None)
    return {"sent": sent, "received": got, "command_intact": None if got is None else got == sent}


def first_and_final(states: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The states seen before the first `Running`, and those seen after the stop request."""
    before: list[str] = []
    for entry in states:
        if str(entry["state"]).lower() == "running":
            break
        before.append(str(entry["state"]))
    after = [str(e["state"]) for e in states if e.get("after_stop")]
    return before, after
