"""The matrix model (machines and runtimes) and its validation.

`load_catalogue(dir)` reads `machines.yaml` and `runtimes/*.yaml`, validates everything and either
returns a `Catalogue` or raises `MatrixError` listing *every* problem, one line each:
`path:line: field: what is wrong (valid: ...)`.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import keyword
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from . import yamlnodes
from .errors import MatrixError

DEFAULT_COMMAND = (
    "PIP_DISABLE_PIP_VERSION_CHECK=1 jupyter lab --allow-root --ip=0.0.0.0 --no-browser"
    " --ServerApp.trust_xheaders=True --ServerApp.disable_check_xsrf=False"
    " --ServerApp.allow_remote_access=True --ServerApp.allow_origin='*'"
    " --ServerApp.allow_credentials=True"
)
DEFAULT_SHUTDOWN_TIMEOUT_H = 6
DEFAULT_NOTEBOOK_TIMEOUT_S = 3600
DEFAULT_CELL_TIMEOUT_S = 600
MAX_TIMEOUT_S = 86_400
MAX_SHUTDOWN_TIMEOUT_H = 168

# Variables a runtime may not set: they are ours, or they would carry a secret into the notebook.
RESERVED_ENV = frozenset(
    {"PAPERSPACE_API_KEY", "GITHUB_TOKEN", "GH_TOKEN", "PATH", "HOME", "PYTHONPATH", "LD_PRELOAD"}
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$")
_REF = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/@+-]{1,200}$")
_COMMAND_NAME = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLUSTER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MACHINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_TEST_NAME = re.compile(r"^(checks|notebooks|harness)/\S.*$")
_WORKSPACE_URL = re.compile(r"^(https?|file)://[^\s'\"`$;|&<>\\]+$")

# The same values are valid in a matrix and on the command line (settings.py checks the flags).
REF_PATTERN = _REF
CLUSTER_PATTERN = _CLUSTER
WORKSPACE_URL_PATTERN = _WORKSPACE_URL


T = TypeVar("T")


class Accelerator(enum.StrEnum):
    CPU = "cpu"
    GPU = "gpu"
    IPU = "ipu"


@dataclasses.dataclass(frozen=True)
class Machine:
    name: str
    accelerator: Accelerator
    count: int = 0  # accelerators a notebook on it must see (0 on CPU machines)
    model: str | None = None  # substring of the name nvidia-smi reports, e.g. "A4000"
    memory_gb: float | None = None  # per accelerator
    price_per_hour: float | None = None  # USD, public list price
    free: bool = False
    description: str = ""

    @property
    def label(self) -> str:
        if self.accelerator == Accelerator.CPU:
            return "CPU"
        memory = f" {self.memory_gb:g} GB" if self.memory_gb else ""
        return f"{self.count}× {self.model or self.accelerator.upper()}{memory}"


@dataclasses.dataclass(frozen=True)
class NotebookSpec:
    path: str
    timeout: int = DEFAULT_NOTEBOOK_TIMEOUT_S  # whole notebook, seconds
    cell_timeout: int = DEFAULT_CELL_TIMEOUT_S
    rerun: bool = False
    skip: str | None = None  # reason
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    check_exit_codes: bool = True  # a `!cmd` exiting non-zero fails the notebook
    kernel: str | None = None  # kernelspec override


@dataclasses.dataclass(frozen=True)
class Checks:
    commands: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    optional_imports: tuple[str, ...] = ()
    gradient_cli: bool = False
    min_free_disk_gb: float = 1.0


@dataclasses.dataclass(frozen=True)
class ExpectedFailure:
    machine: str  # a machine name, or "*"
    test: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Runtime:
    name: str
    slug: str
    container: str
    workspace: str | None
    workspace_ref: str | None
    machines: tuple[str, ...]
    notebooks: tuple[NotebookSpec, ...] = ()
    command: str = DEFAULT_COMMAND
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    cluster_id: str | None = None
    cluster_required: bool = False
    shutdown_timeout: int = DEFAULT_SHUTDOWN_TIMEOUT_H
    checks: Checks = Checks()
    expected_failures: tuple[ExpectedFailure, ...] = ()
    partner: bool = False
    description: str = ""
    source: str = ""  # the matrix file it came from


@dataclasses.dataclass(frozen=True)
class Catalogue:
    root: Path
    machines: Mapping[str, Machine]
    runtimes: tuple[Runtime, ...]

    def runtime(self, name: str) -> Runtime:
        for runtime in self.runtimes:
            if runtime.name == name:
                return runtime
        raise KeyError(name)


# --------------------------------------------------------------------------------------------
# Validation


@dataclasses.dataclass
class _Reader:
    """Walks one file's values, collecting problems with their lines instead of raising."""

    display: str
    lines: Mapping[yamlnodes.Path_, int]
    problems: list[str]

    def problem(self, path: yamlnodes.Path_, message: str) -> None:
        line = self._line(path)
        self.problems.append(f"{self.display}:{line}: {_field(path) or '(file)'}: {message}")

    def sorted_problems(self) -> list[str]:
        """Problems in line order (stable: same-line problems keep their order)."""
        prefix = len(self.display) + 1
        return sorted(self.problems, key=lambda p: int(p[prefix:].split(":", 1)[0]))

    def _line(self, path: yamlnodes.Path_) -> int:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def mapping(
        self,
        value: Any,
        path: yamlnodes.Path_,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, not {_kind(value)}")
            return None
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.problem((*path, key), _unknown("key", key, allowed))
        for key in required:
            if key not in value:
                self.problem(path, f"missing required key '{key}'")
        return value

    def string(
        self,
        value: Any,
        path: yamlnodes.Path_,
        *,
        pattern: re.Pattern[str] | None = None,
        valid: str = "",
        max_len: int = 1000,
    ) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"must be a string, not {_kind(value)}" + _valid(valid))
            return None
        if _CONTROL.search(value):
            self.problem(path, f"{_short(value)} contains a control character (newline, tab, ...)")
            return None
        if not value.strip():
            self.problem(path, "must not be empty" + _valid(valid))
            return None
        if len(value) > max_len:
            self.problem(path, f"is {len(value)} characters long (valid: at most {max_len})")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(path, f"{_short(value)} is not valid" + _valid(valid))
            return None
        return value

    def integer(
        self, value: Any, path: yamlnodes.Path_, low: int, high: int, unit: str
    ) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(
                path, f"must be an integer, not {_kind(value)} (valid: {low} to {high}{unit})"
            )
            return None
        if not low <= value <= high:
            self.problem(path, f"{value} is out of range (valid: {low} to {high}{unit})")
            return None
        return value

    def number(self, value: Any, path: yamlnodes.Path_, low: float, high: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"must be a number, not {_kind(value)} (valid: {low:g} to {high:g})")
            return None
        if not low <= value <= high:
            self.problem(path, f"{value} is out of range (valid: {low:g} to {high:g})")
            return None
        return float(value)

    def boolean(self, value: Any, path: yamlnodes.Path_) -> bool | None:
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false, not {_kind(value)}")
            return None
        return value

    def string_list(
        self, value: Any, path: yamlnodes.Path_, pattern: re.Pattern[str], valid: str
    ) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.problem(path, f"must be a list, not {_kind(value)}")
            return ()
        out: list[str] = []
        for i, item in enumerate(value):
            text = self.string(item, (*path, i), pattern=pattern, valid=valid)
            if text is None:
                continue
            if text in out:
                self.problem((*path, i), f"{_short(text)} is listed twice")
                continue
            out.append(text)
        return tuple(out)


def _field(path: yamlnodes.Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "empty (null)"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _short(value: str) -> str:
    shown = value if len(value) <= 60 else value[:57] + "..."
    return repr(shown)


def _valid(valid: str) -> str:
    return f" (valid: {valid})" if valid else ""


def _unknown(what: str, value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
    if not close:
        close = [c for c in choices if c.lower() == value.lower()]
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} {_short(value)}{hint} (valid: {', '.join(choices)})"


def suggest(what: str, value: str, choices: Sequence[str]) -> str:
    """The message for an unknown name, with a 'did you mean' when one is close."""
    return _unknown(what, value, choices)


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


def parse_machines(data: Any, reader: _Reader) -> dict[str, Machine]:
    top = reader.mapping(data, (), ("machines", "prices_as_of"), required=("machines",))
    if top is None or "machines" not in top:
        return {}
    table = top["machines"]
    if not isinstance(table, dict) or not table:
        reader.problem(
            ("machines",), f"must be a non-empty mapping of machine names, not {_kind(table)}"
        )
        return {}
    machines: dict[str, Machine] = {}
    for name, spec in table.items():
        path: yamlnodes.Path_ = ("machines", name)
        if not _MACHINE_NAME.match(name):
            reader.problem(
                path, f"{_short(name)} is not a valid machine name (valid: letters, digits, . _ -)"
            )
            continue
        entry = reader.mapping(spec, path, _MACHINE_KEYS, required=("accelerator",))
        if entry is None or "accelerator" not in entry:
            continue
        kind = entry["accelerator"]
        if kind not in {a.value for a in Accelerator}:
            reader.problem(
                (*path, "accelerator"),
                _unknown("accelerator", str(kind), [a.value for a in Accelerator]),
            )
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


# --- runtimes/<slug>.yaml ----------------------------------------------------------------------

RUNTIME_KEYS = (
    "name",
    "description",
    "container",
    "workspace",
    "workspace_ref",
    "machines",
    "notebooks",
    "command",
    "environment",
    "cluster_id",
    "cluster_required",
    "shutdown_timeout",
    "checks",
    "expected_failures",
    "partner",
)
NOTEBOOK_KEYS = (
    "path",
    "timeout",
    "cell_timeout",
    "rerun",
    "skip",
    "parameters",
    "check_exit_codes",
    "kernel",
)
CHECK_KEYS = ("commands", "imports", "optional_imports", "gradient_cli", "min_free_disk_gb")
EXPECTED_FAILURE_KEYS = ("machine", "test", "reason")


def parse_runtime(
    data: Any, reader: _Reader, slug: str, machines: Mapping[str, Machine]
) -> Runtime | None:
    top = reader.mapping(data, (), RUNTIME_KEYS, required=("name", "container", "machines"))
    if top is None:
        return None
    ok = True

    def need(value: Any) -> Any:
        nonlocal ok
        if value is None:
            ok = False
        return value

    name = (
        need(reader.string(top.get("name", ""), ("name",), max_len=100)) if "name" in top else None
    )
    container = (
        need(
            reader.string(
                top["container"],
                ("container",),
                pattern=_IMAGE,
                valid="an image like paperspace/gradient-base:pt112",
            )
        )
        if "container" in top
        else None
    )
    workspace = None
    if top.get("workspace") is not None:
        workspace = need(_workspace(top["workspace"], reader))
    workspace_ref = None
    if top.get("workspace_ref") is not None:
        workspace_ref = need(
            reader.string(
                top["workspace_ref"],
                ("workspace_ref",),
                pattern=_REF,
                valid="a branch, tag or commit",
            )
        )
    machine_names = (
        _machine_list(top.get("machines"), reader, machines) if "machines" in top else ()
    )
    if "machines" in top and not machine_names:
        ok = False
    notebooks = _notebooks(top.get("notebooks", []), reader)
    command = DEFAULT_COMMAND
    if "command" in top:
        command = need(reader.string(top["command"], ("command",), max_len=4000))
    environment = _environment(top.get("environment", {}), reader)
    cluster_id = None
    if top.get("cluster_id") is not None:
        cluster_id = need(
            reader.string(
                str(top["cluster_id"]) if isinstance(top["cluster_id"], int) else top["cluster_id"],
                ("cluster_id",),
                pattern=_CLUSTER,
                valid="a cluster id like clg07azjl",
            )
        )
    cluster_required = bool(
        reader.boolean(top.get("cluster_required", False), ("cluster_required",))
    )
    shutdown = reader.integer(
        top.get("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT_H),
        ("shutdown_timeout",),
        1,
        MAX_SHUTDOWN_TIMEOUT_H,
        " hours",
    )
    checks = _checks(top.get("checks", {}), reader)
    expected = _expected_failures(top.get("expected_failures", []), reader, machine_names)
    partner = bool(reader.boolean(top.get("partner", False), ("partner",)))
    description = ""
    if "description" in top:
        description = reader.string(top["description"], ("description",)) or ""
    if not ok or name is None or container is None or shutdown is None:
        return None
    return Runtime(
        name=name,
        slug=slug,
        container=container,
        workspace=workspace,
        workspace_ref=workspace_ref,
        machines=machine_names,
        notebooks=notebooks,
        command=command,
        environment=environment,
        cluster_id=cluster_id,
        cluster_required=cluster_required,
        shutdown_timeout=shutdown,
        checks=checks,
        expected_failures=expected,
        partner=partner,
        description=description,
        source=reader.display,
    )


def _workspace(value: Any, reader: _Reader) -> str | None:
    text = reader.string(value, ("workspace",), max_len=500)
    if text is None:
        return None
    if _WORKSPACE_URL.match(text) or re.match(r"^[A-Za-z0-9._/-]+$", text):
        return text
    reader.problem(
        ("workspace",),
        f"{_short(text)} is not valid (valid: an https:// git URL or a relative path)",
    )
    return None


def _machine_list(value: Any, reader: _Reader, machines: Mapping[str, Machine]) -> tuple[str, ...]:
    names = reader.string_list(value, ("machines",), _MACHINE_NAME, "machine names")
    if isinstance(value, list) and not value:
        reader.problem(("machines",), "must list at least one machine")
    known = list(machines)
    out = []
    for i, name in enumerate(names):
        if machines and name not in machines:
            index = value.index(name) if isinstance(value, list) and name in value else i
            reader.problem(("machines", index), _unknown("machine", name, known))
            continue
        out.append(name)
    return tuple(out)


def _notebooks(value: Any, reader: _Reader) -> tuple[NotebookSpec, ...]:
    if not isinstance(value, list):
        reader.problem(("notebooks",), f"must be a list, not {_kind(value)}")
        return ()
    out: list[NotebookSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        path: yamlnodes.Path_ = ("notebooks", i)
        entry: dict[str, Any] = {"path": item} if isinstance(item, str) else {}
        if not isinstance(item, str):
            mapping = reader.mapping(item, path, NOTEBOOK_KEYS, required=("path",))
            if mapping is None or "path" not in mapping:
                continue
            entry = mapping
        path_key: yamlnodes.Path_ = path if isinstance(item, str) else (*path, "path")
        nb_path = _notebook_path(entry["path"], path_key, reader)
        spec = _notebook_options(entry, path, reader)
        if nb_path is None or spec is None:
            continue
        if nb_path in seen:
            reader.problem(path_key, f"{_short(nb_path)} is listed twice")
            continue
        seen.add(nb_path)
        out.append(dataclasses.replace(spec, path=nb_path))
    return tuple(out)


def _notebook_path(value: Any, path: yamlnodes.Path_, reader: _Reader) -> str | None:
    text = reader.string(value, path, max_len=500, valid="a path relative to the workspace")
    if text is None:
        return None
    if text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", text) or "\\" in text:
        reader.problem(
            path, f"{_short(text)} is absolute (valid: a path relative to the workspace)"
        )
        return None
    parts = PurePosixPath(text).parts
    if ".." in parts:
        reader.problem(
            path, f"{_short(text)} escapes the workspace (valid: a path inside it, without '..')"
        )
        return None
    # What a URL-decoding or Unicode-normalising tool further down would make of it: '%2e%2e'
    # and look-alike dots (U+FF0E fullwidth, U+2025 two-dot leader) must not become '..' there.
    decoded = unicodedata.normalize("NFKC", urllib.parse.unquote(text))
    if decoded != text and (
        decoded.startswith(("/", "~")) or "\\" in decoded or ".." in PurePosixPath(decoded).parts
    ):
        reader.problem(
            path,
            f"{_short(text)} escapes the workspace once decoded as {_short(decoded)}"
            " (valid: a path inside it, without '..', '%2e' or look-alike dots)",
        )
        return None
    if not text.endswith(".ipynb"):
        reader.problem(path, f"{_short(text)} is not a notebook (valid: a path ending in .ipynb)")
        return None
    return str(PurePosixPath(*[p for p in parts if p != "."]))


def _notebook_options(
    entry: Mapping[str, Any], path: yamlnodes.Path_, reader: _Reader
) -> NotebookSpec | None:
    before = len(reader.problems)
    timeout = reader.integer(
        entry.get("timeout", DEFAULT_NOTEBOOK_TIMEOUT_S),
        (*path, "timeout"),
        1,
        MAX_TIMEOUT_S,
        " seconds",
    )
    cell_timeout = reader.integer(
        entry.get("cell_timeout", min(DEFAULT_CELL_TIMEOUT_S, timeout or DEFAULT_CELL_TIMEOUT_S)),
        (*path, "cell_timeout"),
        1,
        MAX_TIMEOUT_S,
        " seconds",
    )
    if timeout and cell_timeout and cell_timeout > timeout:
        reader.problem(
            (*path, "cell_timeout"),
            f"{cell_timeout} is longer than the notebook's timeout {timeout} (valid: at most {timeout})",
        )
    rerun = reader.boolean(entry.get("rerun", False), (*path, "rerun"))
    skip = None
    if entry.get("skip") is not None:
        skip = reader.string(
            entry["skip"], (*path, "skip"), valid="the reason the notebook is skipped"
        )
    check_exit = reader.boolean(entry.get("check_exit_codes", True), (*path, "check_exit_codes"))
    kernel = None
    if entry.get("kernel") is not None:
        kernel = reader.string(
            entry["kernel"],
            (*path, "kernel"),
            pattern=re.compile(r"^[A-Za-z0-9._-]+$"),
            valid="a kernelspec name like python3",
        )
    parameters: dict[str, Any] = {}
    if "parameters" in entry:
        raw = reader.mapping(
            entry["parameters"],
            (*path, "parameters"),
            list(entry["parameters"]) if isinstance(entry["parameters"], dict) else (),
        )
        for key, value in (raw or {}).items():
            if not _IDENT.match(key):
                reader.problem(
                    (*path, "parameters", key),
                    f"{_short(key)} is not a Python identifier (valid: letters, digits, _)",
                )
            elif keyword.iskeyword(key):
                reader.problem(
                    (*path, "parameters", key),
                    f"{_short(key)} is a Python keyword (valid: a name a value can be assigned to)",
                )
            elif not _finite(value):
                reader.problem(
                    (*path, "parameters", key),
                    "holds .nan or .inf (valid: finite numbers; a parameter is written as Python code)",
                )
            elif not _json_like(value):
                reader.problem(
                    (*path, "parameters", key),
                    f"value {_kind(value)} is not supported (valid: string, number, boolean, null, list, mapping)",
                )
            else:
                parameters[key] = value
    if len(reader.problems) != before:
        return None
    return NotebookSpec(
        path="",
        timeout=timeout or DEFAULT_NOTEBOOK_TIMEOUT_S,
        cell_timeout=cell_timeout or DEFAULT_CELL_TIMEOUT_S,
        rerun=bool(rerun),
        skip=skip,
        parameters=parameters,
        check_exit_codes=bool(check_exit),
        kernel=kernel,
    )


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _json_like(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_json_like(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_like(v) for k, v in value.items())
    return False


def _environment(value: Any, reader: _Reader) -> dict[str, str]:
    if not isinstance(value, dict):
        reader.problem(("environment",), f"must be a mapping of NAME: value, not {_kind(value)}")
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        path: yamlnodes.Path_ = ("environment", key)
        if not _ENV_NAME.match(key):
            reader.problem(
                path,
                f"{_short(key)} is not a valid variable name (valid: letters, digits, _, not starting with a digit)",
            )
            continue
        if key in RESERVED_ENV or key.startswith("GRT_"):
            reader.problem(
                path,
                f"'{key}' may not be set by a runtime (reserved: {', '.join(sorted(RESERVED_ENV))}, GRT_*)",
            )
            continue
        if not isinstance(item, str):
            reader.problem(
                path, f'must be a string, not {_kind(item)} (valid: quote it, e.g. "{item}")'
            )
            continue
        if "\x00" in item or "\n" in item or "\r" in item:
            reader.problem(path, "contains a newline or NUL (valid: a single-line string)")
            continue
        out[key] = item
    return out


def _checks(value: Any, reader: _Reader) -> Checks:
    entry = reader.mapping(value, ("checks",), CHECK_KEYS)
    if entry is None:
        return Checks()
    return Checks(
        commands=reader.string_list(
            entry.get("commands", []),
            ("checks", "commands"),
            _COMMAND_NAME,
            "command names like git",
        ),
        imports=reader.string_list(
            entry.get("imports", []),
            ("checks", "imports"),
            _MODULE,
            "module names like numpy or torch.cuda",
        ),
        optional_imports=reader.string_list(
            entry.get("optional_imports", []),
            ("checks", "optional_imports"),
            _MODULE,
            "module names like gradient",
        ),
        gradient_cli=bool(
            reader.boolean(entry.get("gradient_cli", False), ("checks", "gradient_cli"))
        ),
        min_free_disk_gb=reader.number(
            entry.get("min_free_disk_gb", 1.0), ("checks", "min_free_disk_gb"), 0, 100_000
        )
        or 0.0,
    )


def _expected_failures(
    value: Any, reader: _Reader, machine_names: Sequence[str]
) -> tuple[ExpectedFailure, ...]:
    if not isinstance(value, list):
        reader.problem(("expected_failures",), f"must be a list, not {_kind(value)}")
        return ()
    out = []
    for i, item in enumerate(value):
        path: yamlnodes.Path_ = ("expected_failures", i)
        entry = reader.mapping(item, path, EXPECTED_FAILURE_KEYS, required=EXPECTED_FAILURE_KEYS)
        if entry is None or any(k not in entry for k in EXPECTED_FAILURE_KEYS):
            continue
        machine = reader.string(entry["machine"], (*path, "machine"))
        if machine is not None and machine != "*" and machine not in machine_names:
            reader.problem((*path, "machine"), _unknown("machine", machine, ["*", *machine_names]))
            machine = None
        test = reader.string(
            entry["test"],
            (*path, "test"),
            pattern=_TEST_NAME,
            valid="a test name like checks/gpu.count or notebooks/x.ipynb",
        )
        reason = reader.string(entry["reason"], (*path, "reason"))
        if machine and test and reason:
            out.append(ExpectedFailure(machine=machine, test=test, reason=reason))
    return tuple(out)


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
        if file.suffix not in (".yaml", ".yml") or not _SLUG.match(slug):
            problems.append(
                f"{display}:1: (file): file name {file.name!r} is not valid (valid: lower-case letters, digits and '-', ending in .yaml)"
            )
            continue

        def parse(data: Any, reader: _Reader, slug: str = slug) -> Runtime | None:
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
    file: Path, display_base: Path | None, problems: list[str], parse: Callable[[Any, _Reader], T]
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
    reader = _Reader(display=display, lines=lines, problems=[])
    result = parse(data, reader)
    problems.extend(reader.sorted_problems())
    return None if reader.problems else result
