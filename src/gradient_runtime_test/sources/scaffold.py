"""A new runtime file for `grt init`: inputs checked, machines and notebooks chosen, the text
rendered with only what the defaults do not say, validated as `grt validate` would, written once.

Everything that can refuse an input runs before anything is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import MatrixError, UsageError
from ..harness.protocol import Accelerator
from ..matrix import yamlnodes
from ..matrix.load import parse_machines
from ..matrix.model import CONTROL_CHARS, IMAGE, REF, WORKSPACE_URL, Machine
from ..matrix.reader import Reader, suggest
from ..matrix.runtime import _notebook_path, parse_runtime
from .workspace import WorkspaceSnapshot, is_url

CLASSES = tuple(a.value for a in Accelerator)
_LOCAL_PATH = re.compile(r"^[A-Za-z0-9._/][A-Za-z0-9._/-]*$")  # as matrix validation allows
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./+-]*$")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"})


@dataclasses.dataclass(frozen=True)
class InitRequest:
    workspace: str
    ref: str | None
    container: str
    name: str


@dataclasses.dataclass(frozen=True)
class NotebookChoice:
    kept: tuple[str, ...]
    left_out: tuple[tuple[str, str], ...]  # (path, why)


def checked_request(args: argparse.Namespace) -> InitRequest:
    workspace = str(args.workspace)
    if CONTROL_CHARS.search(workspace) or not (
        WORKSPACE_URL.match(workspace) or _LOCAL_PATH.match(workspace)
    ):
        raise UsageError(
            f"--workspace: {workspace!r} is not valid (valid: an https:// git URL or a folder)"
        )
    if args.ref is not None and not REF.match(args.ref):
        raise UsageError(f"--ref: {args.ref!r} is not valid (valid: a branch, tag or commit)")
    if not IMAGE.match(args.container):
        raise UsageError(
            f"--container: {args.container!r} is not valid (valid: an image like paperspace/gradient-base:pt112)"
        )
    name = args.name if args.name is not None else _name_from(workspace)
    if not name.strip() or CONTROL_CHARS.search(name) or len(name) > 100:
        raise UsageError(
            f"--name: {name!r} is not valid (valid: the runtime's name as shown in the Gradient UI, 1 to 100 characters on one line)"
        )
    return InitRequest(workspace, args.ref or None, args.container, name)


def _name_from(workspace: str) -> str:
    return workspace.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or workspace


def load_machines(root: Path) -> dict[str, Machine]:
    file = root / "machines.yaml"
    if not file.is_file():
        raise UsageError(
            f"{display(file)}: not found (valid: --matrices DIR, a folder holding machines.yaml)"
        )
    shown = display(file)
    try:
        data, lines = yamlnodes.load(file.read_bytes())
    except yamlnodes.YamlProblem as exc:
        raise MatrixError([f"{shown}:{exc.line}: (file): {exc.message}"]) from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot be read: {exc.strerror}") from None
    reader = Reader(display=shown, lines=lines, problems=[])
    machines = parse_machines(data, reader)
    if reader.problems:
        raise MatrixError(reader.sorted_problems())
    return machines


def pick_machines(spec: str, machines: Mapping[str, Machine]) -> tuple[str, ...]:
    """Machines named, or of a class, in catalogue order. A class stands for its paid machines
    with one accelerator (`gpu`: P4000, A4000, A100...; multi-GPU types only by name), or its free
    ones when it has no paid one (the IPU class)."""
    wanted: set[str] = set()
    for item in [i for i in re.split(r"[,\s]+", spec) if i]:
        if item.lower() in CLASSES:
            of_class = [m for m in machines.values() if m.accelerator == item.lower()]
            paid = [m.name for m in of_class if not m.free and m.count <= 1]
            picked = paid or [m.name for m in of_class]
            if not picked:
                raise UsageError(
                    f"--machines: the catalogue has no {item.lower()} machine (valid: {', '.join(machines)})"
                )
            wanted.update(picked)
        elif item in machines:
            wanted.add(item)
        else:
            raise UsageError(f"--machines: {suggest('machine', item, [*CLASSES, *machines])}")
    if not wanted:
        raise UsageError("--machines: empty (valid: gpu, cpu, ipu or machine names)")
    return tuple(m for m in machines if m in wanted)


def slug_for(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")


def target(root: Path, name: str) -> Path:
    """`root/runtimes/<slug>.yaml`, refused when it exists or the name is taken."""
    slug = slug_for(name)
    if not slug:
        raise UsageError(
            f"--name: {name!r} gives no file name (valid: a name with letters or digits)"
        )
    path = root / "runtimes" / f"{slug}.yaml"
    if path.exists():
        raise UsageError(
            f"{display(path)}: already exists and grt init never overwrites (valid: another --name, or edit that file)"
        )
    for other in sorted((root / "runtimes").glob("*.y*ml")):
        if _name_in(other) == name:
            raise UsageError(
                f"--name: {name!r} is already the name of {display(other)} (valid: a new name)"
            )
    return path


def _name_in(file: Path) -> object:
    try:
        data, _ = yamlnodes.load(file.read_bytes())
    except (OSError, yamlnodes.YamlProblem):
        return None
    return data.get("name") if isinstance(data, dict) else None


def pick_notebooks(available: Sequence[str], globs: Sequence[str], at: str) -> NotebookChoice:
    """Every notebook, or those matching a glob; paths a matrix cannot hold are left out."""
    chosen = list(available)
    if globs:
        for glob in globs:
            if not any(fnmatch.fnmatchcase(p, glob) for p in available):
                shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
                raise UsageError(
                    f"--notebook: {glob!r} matches no notebook at {at} (valid: {shown or 'none found'})"
                )
        chosen = [p for p in available if any(fnmatch.fnmatchcase(p, g) for g in globs)]
    kept: list[str] = []
    left_out: list[tuple[str, str]] = []
    for path in chosen:
        reader = Reader(display="", lines={}, problems=[])
        if _notebook_path(path, ("notebooks", 0), reader) == path:
            kept.append(path)
        else:
            why = reader.problems[0].split(": ", 2)[-1] if reader.problems else "not kept as is"
            left_out.append((path, why))
    return NotebookChoice(tuple(kept), tuple(left_out))


def render(
    request: InitRequest,
    ws: WorkspaceSnapshot,
    notebooks: NotebookChoice,
    chosen: Sequence[str],
    machines: Mapping[str, Machine],
    *,
    schema: str,
) -> str:
    where = "repository" if is_url(request.workspace) or ws.commit else "folder"
    lines = [
        f"# yaml-language-server: $schema={schema}",
        "#",
        f"# Written by `grt init` from the workspace {where}",
        f"# {ws.at}.",
        "# Every key (per-notebook options, checks, expected failures) is described in the README,",
        '# section "Matrices"; `grt validate` checks this file.',
        f"name: {scalar(request.name)}",
        f"container: {scalar(request.container)}",
        f"workspace: {scalar(request.workspace)}",
    ]
    if request.ref:
        lines.append(f"workspace_ref: {scalar(request.ref)}")
    if any(machines[m].accelerator == Accelerator.IPU for m in chosen):
        lines.append(
            "cluster_required: true  # IPU machines start only with an explicit cluster id"
        )
    lines.append("machines:")
    lines.extend(f"  - {scalar(m)}" for m in chosen)
    if notebooks.kept:
        lines.append("notebooks:")
        lines.extend(f"  - {scalar(p)}" for p in notebooks.kept)
    else:
        lines.append("# notebooks: none found; the runtime's checks run on their own")
    return "\n".join(lines) + "\n"


def scalar(text: str) -> str:
    """`text` as a YAML scalar: plain when that reads back as the same string, else quoted."""
    plain = (
        _PLAIN.match(text)
        and text.lower() not in _YAML_WORDS
        and not re.match(r"^[-+]?(\d[\d_]*)?\.?\d", text)
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def validate(text: str, path: Path, machines: Mapping[str, Machine]) -> None:
    """The new file as `grt validate` will read it; MatrixError when it would not pass."""
    shown = display(path)
    try:
        data, lines = yamlnodes.load(text.encode("utf-8"))
    except yamlnodes.YamlProblem as exc:
        raise MatrixError([f"{shown}:{exc.line}: (file): {exc.message}"]) from None
    reader = Reader(display=shown, lines=lines, problems=[])
    parse_runtime(data, reader, path.stem, machines)
    if reader.problems:
        raise MatrixError(reader.sorted_problems())


def write_new(path: Path, text: str) -> None:
    """Write `path` whole, or not at all; never over an existing file (even one made meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.link(tmp, path)
    except FileExistsError:
        raise UsageError(f"{display(path)}: already exists and grt init never overwrites") from None
    finally:
        os.unlink(tmp)


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
