"""Compact, hidden state a PR comment carries for the next run, and the changes between two runs.

The state lives in the comment as `<!-- grt-state:<base64 of zlib-compressed JSON> -->`:
`{"v": 1, "run": "<run_id>/<attempt>", "cells": {machine: [status, [failing tests]]},
"prev": {...}}`. `prev` is the baseline of the run that wrote it, so live edits by the same run
keep comparing against the run before. It is read from the comment's last line only: state-like
text anywhere else (quoted in a result) is not state. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import zlib
from collections.abc import Mapping

from gradient_runtime_test.report.markdown import code_span
from gradient_runtime_test.results import CellStatus, RunResult

STATE_LIMIT_CHARS = 12_000
_STATE = re.compile(r"<!-- grt-state:([A-Za-z0-9+/=]*) -->")
_BAD = (CellStatus.FAILED, CellStatus.ERROR)

# machine -> (cell status, names of failing tests)
Cells = Mapping[str, tuple[str, tuple[str, ...]]]


@dataclasses.dataclass(frozen=True)
class State:
    run: str
    cells: Cells
    prev: Cells | None = None

    def baseline_for(self, run_key: str) -> Cells | None:
        """What the run `run_key` compares against: these cells, unless it wrote them itself."""
        return self.prev if self.run == run_key else self.cells


@dataclasses.dataclass(frozen=True)
class Changes:
    new_failures: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()


def cells_of(run: RunResult) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The finished cells of a run, compactly."""
    return {
        c.machine: (c.status.value, tuple(t.name for t in c.failures))
        for c in run.cells
        if c.status.finished
    }


def encode(state: State, *, limit: int = STATE_LIMIT_CHARS) -> str:
    """The hidden comment line; test names and then the baseline are dropped to fit `limit`."""
    for names, with_prev in ((None, True), (20, True), (3, True), (3, False), (0, False)):
        data: dict[str, object] = {"v": 1, "run": state.run, "cells": _plain(state.cells, names)}
        if with_prev and state.prev is not None:
            data["prev"] = _plain(state.prev, names)
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        packed = base64.b64encode(zlib.compress(payload.encode(), 9)).decode()
        line = f"<!-- grt-state:{packed} -->"
        if len(line) <= limit:
            return line
    return ""


def decode(body: str) -> State | None:
    """The state in a comment body (its last line); None when absent or unreadable."""
    lines = body.rstrip().rsplit("\n", 1)
    match = _STATE.fullmatch(lines[-1].strip())
    if match is None:
        return None
    try:
        data = json.loads(zlib.decompress(base64.b64decode(match.group(1), validate=True)))
        prev = data.get("prev")
        return State(
            run=str(data["run"]),
            cells=_parse(data["cells"]),
            prev=_parse(prev) if prev is not None else None,
        )
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError, AttributeError):
        return None


def _plain(cells: Cells, names: int | None) -> dict[str, list[object]]:
    return {m: [s, list(f if names is None else f[:names])] for m, (s, f) in cells.items()}


def _parse(raw: object) -> Cells:
    if not isinstance(raw, dict):
        raise TypeError("cells")
    return {str(m): (str(v[0]), tuple(str(n) for n in v[1])) for m, v in raw.items()}


def changes(baseline: Cells, now: Cells) -> Changes:
    """New failures and fixes, per machine present (and finished) in both runs."""
    new: list[str] = []
    fixed: list[str] = []
    for machine, (status, failing) in now.items():
        if machine not in baseline:
            continue
        before, failing_before = baseline[machine]
        if status in _BAD and before not in _BAD:
            new.append(_line(machine, f"{before} → {status}", failing))
        elif status not in _BAD and before in _BAD and status == CellStatus.PASSED:
            fixed.append(_line(machine, f"{before} → {status}", ()))
        elif status in _BAD and before in _BAD:
            added = tuple(n for n in failing if n not in failing_before)
            gone = tuple(n for n in failing_before if n not in failing)
            if added:
                new.append(_line(machine, "newly failing", added))
            if gone and status == CellStatus.FAILED:  # an error cell ran no tests: nothing fixed
                fixed.append(_line(machine, "now passing", gone))
    return Changes(tuple(new), tuple(fixed))


def _line(machine: str, what: str, names: tuple[str, ...]) -> str:
    shown = ", ".join(code_span(n) for n in names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"{code_span(machine)}: {what}" + (f" ({shown}{more})" if names else "")
