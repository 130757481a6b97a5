"""Planning: which cells (runtime x machine) a run would create. Pure: no I/O.

`grt plan` prints exactly what `grt run` would create.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from .errors import UsageError
from .matrix.model import Catalogue, Machine, Runtime
from .matrix.reader import suggest

MACHINES_FILE = "machines.yaml"


@dataclasses.dataclass(frozen=True)
class Cell:
    runtime: Runtime
    machine: Machine

    @property
    def id(self) -> str:
        return f"{self.runtime.slug}--{self.machine.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "runtime": self.runtime.name,
            "slug": self.runtime.slug,
            "machine": self.machine.name,
            "accelerator": self.machine.label,
            "price_per_hour": self.machine.price_per_hour,
            "container": self.runtime.container,
            "workspace": self.runtime.workspace,
            "ref": self.runtime.workspace_ref,
            "notebooks": [n.path for n in self.runtime.notebooks],
        }


@dataclasses.dataclass(frozen=True)
class Plan:
    cells: tuple[Cell, ...]

    @property
    def runtimes(self) -> tuple[Runtime, ...]:
        seen: dict[str, Runtime] = {}
        for cell in self.cells:
            seen.setdefault(cell.runtime.name, cell.runtime)
        return tuple(seen.values())

    def estimated_cost(self, hours: float) -> tuple[float, int]:
        """(USD for `hours` per cell, number of cells without a public price)."""
        priced = [
            c.machine.price_per_hour for c in self.cells if c.machine.price_per_hour is not None
        ]
        return sum(p * hours for p in priced), len(self.cells) - len(priced)


def normalise_repository(value: str) -> str:
    """'https://github.com/O/R.git', 'github.com/o/r/', 'O/R' -> 'o/r'. Empty string if not one."""
    text = value.strip().lower()
    text = re.sub(r"^(https?://|ssh://|git://)?(git@)?", "", text)
    text = re.sub(r"^(www\.)?github\.com[:/]", "", text)
    text = text.rstrip("/")
    text = text.removesuffix(".git")
    return text if re.fullmatch(r"[a-z0-9_.-]+/[a-z0-9_.-]+", text) else ""


def select_runtimes(
    catalogue: Catalogue,
    *,
    names: Sequence[str] = (),
    repository: str | None = None,
    changed_files: Sequence[str] = (),
    changed_machines: Iterable[str] | None = None,
    matrices_prefix: str = "matrices",
) -> tuple[Runtime, ...]:
    """The union of what each selector picks; every runtime when no selector is given.

    `changed_machines`: machines whose entry differs from the base version of machines.yaml;
    None means unknown, and then a change to machines.yaml selects every runtime.
    """
    all_names = [r.name for r in catalogue.runtimes]
    wanted: set[str] = set()
    for name in names:
        if name not in all_names:
            raise UsageError(f"--runtime: {suggest('runtime', name, all_names)}")
        wanted.add(name)
    if repository is not None:
        repo = normalise_repository(repository)
        if not repo:
            raise UsageError(
                f"--repository: {repository!r} is not a GitHub repository (valid: OWNER/NAME or its URL)"
            )
        matches = [
            r.name
            for r in catalogue.runtimes
            if r.workspace and normalise_repository(r.workspace) == repo
        ]
        if not matches:
            known = sorted(
                {normalise_repository(r.workspace) for r in catalogue.runtimes if r.workspace}
                - {""}
            )
            raise UsageError(
                f"--repository: no runtime has workspace {repository!r} (valid: {', '.join(known)})"
            )
        wanted.update(matches)
    if changed_files:
        wanted.update(_changed(catalogue, changed_files, changed_machines, matrices_prefix))
    if not names and repository is None and not changed_files:
        return catalogue.runtimes
    return tuple(r for r in catalogue.runtimes if r.name in wanted)


def _changed(
    catalogue: Catalogue,
    changed_files: Sequence[str],
    changed_machines: Iterable[str] | None,
    prefix: str,
) -> set[str]:
    picked: set[str] = set()
    root = PurePosixPath(prefix)
    for raw in changed_files:
        path = PurePosixPath(raw.strip().lstrip("./") if raw.startswith("./") else raw.strip())
        if path == root / MACHINES_FILE:
            if changed_machines is None:
                picked.update(r.name for r in catalogue.runtimes)
            else:
                machines = set(changed_machines)
                picked.update(r.name for r in catalogue.runtimes if machines & set(r.machines))
            continue
        if path.parent == root / "runtimes":
            picked.update(r.name for r in catalogue.runtimes if r.slug == path.stem)
    return picked


def changed_machine_names(old: Mapping[str, Machine], new: Mapping[str, Machine]) -> set[str]:
    """Machines added, removed or edited between two versions of machines.yaml."""
    return {name for name in set(old) | set(new) if old.get(name) != new.get(name)}


def plan(catalogue: Catalogue, runtimes: Sequence[Runtime], machines: Sequence[str] = ()) -> Plan:
    """One cell per (runtime, machine); `machines` restricts each runtime's own list."""
    known = list(catalogue.machines)
    for name in machines:
        if name not in catalogue.machines:
            raise UsageError(f"--machine: {suggest('machine', name, known)}")
    cells: list[Cell] = []
    for runtime in runtimes:
        chosen = [m for m in runtime.machines if not machines or m in machines]
        cells.extend(Cell(runtime, catalogue.machines[m]) for m in chosen)
    if machines:
        offered = {m for r in runtimes for m in r.machines}
        for name in machines:
            if name not in offered:
                names = ", ".join(r.name for r in runtimes)
                raise UsageError(
                    f"--machine: {name!r} is not offered by {names} (valid: {', '.join(sorted(offered))})"
                )
    return Plan(cells=tuple(cells))


# --- rendering -----------------------------------------------------------------------------------


def render_table(p: Plan, hours: float) -> str:
    rows = [("RUNTIME", "MACHINE", "ACCELERATOR", "$/H", "NOTEBOOKS")]
    for cell in p.cells:
        price = cell.machine.price_per_hour
        rows.append(
            (
                cell.runtime.name,
                cell.machine.name,
                cell.machine.label,
                "-" if price is None else f"{price:.2f}",
                str(len([n for n in cell.runtime.notebooks if not n.skip])),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    cost, unpriced = p.estimated_cost(hours)
    runtimes = len(p.runtimes)
    lines.append("")
    lines.append(f"{len(p.cells)} cells over {runtimes} runtime{'s' if runtimes != 1 else ''}.")
    note = f" ({unpriced} cells without a public price not counted)" if unpriced else ""
    lines.append(f"Estimated cost at {_hours(hours)} per cell: ${cost:.2f}{note}")
    return "\n".join(lines)


def _hours(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes} min" if minutes < 120 else f"{hours:g} h"


def render_json(p: Plan, hours: float) -> dict[str, Any]:
    cost, unpriced = p.estimated_cost(hours)
    return {
        "cells": [c.to_json() for c in p.cells],
        "expected_hours_per_cell": hours,
        "estimated_cost_usd": round(cost, 2),
        "unpriced_cells": unpriced,
    }


def render_github_matrix(p: Plan) -> dict[str, Any]:
    return {
        "include": [
            {
                "runtime": c.runtime.name,
                "slug": c.runtime.slug,
                "machine": c.machine.name,
                "cell": c.id,
            }
            for c in p.cells
        ]
    }
