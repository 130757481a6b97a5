"""Loading the matrices: `machines.yaml` and `runtimes/*.yaml`, validated all at once.

`load_catalogue(dir)` either returns a `Catalogue` or raises `MatrixError` listing *every* problem,
one line each: `path:line: field: what is wrong (valid: ...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import MatrixError
from ..harness.protocol import Accelerator
from . import yamlnodes
from .model import MACHINE_NAME, SLUG, Catalogue, Machine, Runtime
from .reader import Reader, kind_of, short, unknown
from .runtime import parse_runtime

T = TypeVar("T")

# --- machines.yaml ---------------------------------------------------------------------------

_MACHINE_KEYS = (
    "accelerator",
    "count",
    "model",
    "memory_gb",
    "price_per_hour",
    "free",
    "description",
)


def parse_machines(data: Any, reader: Reader) -> dict[str, Machine]:
    top = reader.mapping(data, (), ("machines", "prices_as_of"), required=("machines",))
    if top is None or "machines" not in top:
        return {}
    table = top["machines"]
    if not isinstance(table, dict) or not table:
        reader.problem(
            ("machines",), f"must be a non-empty mapping of machine names, not {kind_of(table)}"
        )
        return {}
    machines: dict[str, Machine] = {}
    for name, spec in table.items():
        path: yamlnodes.Path_ = ("machines", name)
        if not MACHINE_NAME.match(name):
            reader.problem(
                path, f"{short(name)} is not a valid machine name (valid: letters, digits, . _ -)"
            )
            continue
        entry = reader.mapping(spec, path, _MACHINE_KEYS, required=("accelerator",))
        if entry is None or "accelerator" not in entry:
            continue
        kinds = [a.value for a in Accelerator]
        kind = reader.string(entry["accelerator"], (*path, "accelerator"), valid=", ".join(kinds))
        if kind is None:
            continue
        if kind not in kinds:
            reader.problem((*path, "accelerator"), unknown("accelerator", kind, kinds))
            continue
        accelerator = Accelerator(kind)
        count = 0
        if accelerator != Accelerator.CPU:
            count = reader.integer(entry.get("count", 1), (*path, "count"), 1, 64, "") or 1
        elif "count" in entry and entry["count"] != 0:
            reader.problem(
                (*path, "count"), "a CPU machine has no accelerators (valid: 0 or absent)"
            )
        model = None
        if "model" in entry:
            model = reader.string(entry["model"], (*path, "model"), max_len=64)
        memory = None
        if "memory_gb" in entry:
            memory = reader.number(entry["memory_gb"], (*path, "memory_gb"), 1, 1024)
        price = None
        if "price_per_hour" in entry and entry["price_per_hour"] is not None:
            price = reader.number(entry["price_per_hour"], (*path, "price_per_hour"), 0, 1000)
        free = reader.boolean(entry.get("free", False), (*path, "free")) or False
        description = ""
        if "description" in entry:
            description = reader.string(entry["description"], (*path, "description")) or ""
        machines[name] = Machine(
            name=name,
            accelerator=accelerator,
            count=count,
            model=model,
            memory_gb=memory,
            price_per_hour=price,
            free=free,
            description=description,
        )
    return machines


# --- the whole catalogue -----------------------------------------------------------------------


def _display(path: Path, base: Path | None) -> str:
    for root in (base, Path.cwd()):
        if root is None:
            continue
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


def load_catalogue(root: Path, *, display_base: Path | None = None) -> Catalogue:
    """Read and validate `root/machines.yaml` and `root/runtimes/*.yaml`; raise MatrixError on any problem."""
    problems: list[str] = []
    machines_file = root / "machines.yaml"
    runtimes_dir = root / "runtimes"
    if not root.is_dir():
        raise MatrixError(
            [
                f"{root}: matrices folder not found (valid: a folder holding machines.yaml and runtimes/)"
            ]
        )
    machines: dict[str, Machine] = {}
    if not machines_file.is_file():
        problems.append(
            f"{_display(machines_file, display_base)}:1: (file): not found (valid: a machine catalogue)"
        )
    else:
        parsed = _parse_file(machines_file, display_base, problems, parse_machines)
        machines = parsed or {}
    runtime_files = sorted(runtimes_dir.glob("*.y*ml")) if runtimes_dir.is_dir() else []
    if not runtime_files:
        problems.append(
            f"{_display(runtimes_dir, display_base)}:1: (folder): no runtime files (valid: runtimes/<slug>.yaml)"
        )
    runtimes: list[Runtime] = []
    seen: dict[str, str] = {}
    for file in runtime_files:
        slug = file.stem
        display = _display(file, display_base)
        if file.suffix not in (".yaml", ".yml") or not SLUG.match(slug):
            problems.append(
                f"{display}:1: (file): file name {file.name!r} is not valid (valid: lower-case letters, digits and '-', ending in .yaml)"
            )
            continue

        def parse(data: Any, reader: Reader, slug: str = slug) -> Runtime | None:
            return parse_runtime(data, reader, slug, machines)

        runtime = _parse_file(file, display_base, problems, parse)
        if runtime is None:
            continue
        if runtime.name in seen:
            problems.append(
                f"{display}:1: name: duplicate runtime name {runtime.name!r} (also in {seen[runtime.name]})"
            )
            continue
        seen[runtime.name] = display
        runtimes.append(runtime)
    if problems:
        raise MatrixError(problems)
    return Catalogue(root=root, machines=machines, runtimes=tuple(runtimes))


def _parse_file(
    file: Path, display_base: Path | None, problems: list[str], parse: Callable[[Any, Reader], T]
) -> T | None:
    display = _display(file, display_base)
    try:
        data, lines = yamlnodes.load(file.read_bytes())
    except OSError as exc:
        problems.append(f"{display}:1: (file): cannot be read: {exc.strerror}")
        return None
    except yamlnodes.YamlProblem as exc:
        problems.append(f"{display}:{exc.line}: (file): {exc.message}")
        return None
    if data is None:
        problems.append(f"{display}:1: (file): is empty (valid: a YAML mapping)")
        return None
    reader = Reader(display=display, lines=lines, problems=[])
    result = parse(data, reader)
    problems.extend(reader.sorted_problems())
    return None if reader.problems else result


def runtime_problem(
    root: Path, slug: str, path: yamlnodes.Path_, message: str, *, display_base: Path | None = None
) -> str:
    """A problem with runtime `slug` found once the catalogue is loaded (`grt validate`'s checks
    of what a run would do), in the same `file:line: field: what is wrong` form."""
    folder = root / "runtimes"
    file = next(
        (f for f in (folder / f"{slug}.yaml", folder / f"{slug}.yml") if f.is_file()),
        folder / f"{slug}.yaml",
    )
    try:
        _, lines = yamlnodes.load(file.read_bytes())
    except (OSError, yamlnodes.YamlProblem):
        lines = {}
    reader = Reader(display=_display(file, display_base), lines=lines, problems=[])
    reader.problem(path, message)
    return reader.problems[0]
