"""Read a file as it was at a git ref (for planning on changed machines)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from . import yamlnodes
from .load import parse_machines
from .model import Machine
from .reader import Reader


def machines_at_ref(root: Path, ref: str) -> Mapping[str, Machine] | None:
    """machines.yaml at `ref`, or None when git cannot tell (then every runtime counts as changed)."""
    path = (root / "machines.yaml").resolve()
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        rel = path.relative_to(Path(top).resolve()).as_posix()
        blob = subprocess.run(
            ["git", "show", f"{ref}:{rel}"], cwd=root, capture_output=True, check=True, timeout=10
        ).stdout
        data, lines = yamlnodes.load(blob)
    except (OSError, ValueError, subprocess.SubprocessError, yamlnodes.YamlProblem):
        return None
    reader = Reader(display=f"{ref}:{rel}", lines=lines, problems=[])
    machines = parse_machines(data, reader)
    return None if reader.problems else machines
