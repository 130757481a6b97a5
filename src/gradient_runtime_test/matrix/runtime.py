"""Validating one runtime file (`runtimes/<slug>.yaml`) into a `Runtime`."""

from __future__ import annotations

import dataclasses
import keyword
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from ..harness.protocol import (
    COMMAND,
    IDENTIFIER,
    KERNEL,
    MAX_PARALLEL,
    MODULE,
    NOTEBOOK_TIMEOUT_S,
    Checks,
    NotebookEntry,
    field_names,
)
from . import yamlnodes
from .model import (
    CLUSTER,
    DEFAULT_SHUTDOWN_TIMEOUT_H,
    ENV_NAME,
    IMAGE,
    MACHINE_NAME,
    MAX_SHUTDOWN_TIMEOUT_H,
    MAX_TIMEOUT_S,
    REF,
    TEST_NAME,
    WORKSPACE_PATH,
    WORKSPACE_URL,
    ExpectedFailure,
    Machine,
    Runtime,
    env_refusal,
)
from .reader import Reader, kind_of, short, unknown

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
    "parallel_notebooks",
)
NOTEBOOK_KEYS = field_names(NotebookEntry)
CHECK_KEYS = field_names(Checks)
EXPECTED_FAILURE_KEYS = ("machine", "test", "reason")


def parse_runtime(
    data: Any, reader: Reader, slug: str, machines: Mapping[str, Machine]
) -> Runtime | None:
    """The runtime in one file, or None when it is unusable (the reasons are in ``reader``)."""
    top = reader.mapping(data, (), RUNTIME_KEYS, required=("name", "container", "machines"))
    if top is None:
        return None
    texts = _texts(top, reader)
    options = _options(top, reader)
    machine_names = (
        _machine_list(top.get("machines"), reader, machines) if "machines" in top else ()
    )
    notebooks = _notebooks(top.get("notebooks", []), reader)
    environment = _environment(top.get("environment", {}), reader)
    checks = _checks(top.get("checks", {}), reader)
    expected = _expected_failures(top.get("expected_failures", []), reader, machine_names)
    if texts is None or options is None or ("machines" in top and not machine_names):
        return None
    return Runtime(
        slug=slug,
        machines=machine_names,
        notebooks=notebooks,
        environment=environment,
        checks=checks,
        expected_failures=expected,
        source=reader.display,
        **texts,
        **options,
    )


def _texts(top: Mapping[str, Any], reader: Reader) -> dict[str, Any] | None:
    """The runtime's single values that may be absent (then the `Runtime` default, or None); None
    when one of them is invalid, or the name or container is missing."""
    read: dict[str, Callable[[Any], Any]] = {
        "name": lambda v: reader.string(v, ("name",), max_len=100),
        "container": lambda v: reader.string(
            v, ("container",), pattern=IMAGE, valid="an image like paperspace/gradient-base:pt112"
        ),
        "command": lambda v: reader.string(v, ("command",), max_len=4000),
        "workspace": lambda v: _workspace(v, reader),
        "workspace_ref": lambda v: reader.string(
            v, ("workspace_ref",), pattern=REF, valid="a branch, tag or commit"
        ),
        "cluster_id": lambda v: reader.string(
            str(v) if isinstance(v, int) else v,
            ("cluster_id",),
            pattern=CLUSTER,
            valid="a cluster id like clg07azjl",
        ),
        "parallel_notebooks": lambda v: reader.integer(
            v, ("parallel_notebooks",), 1, MAX_PARALLEL, ""
        ),
    }
    nullable = ("workspace", "workspace_ref", "cluster_id", "parallel_notebooks")
    values = {
        key: read_value(top[key])
        for key, read_value in read.items()
        if key in top and not (key in nullable and top[key] is None)
    }
    if any(v is None for v in values.values()) or not {"name", "container"} <= set(values):
        return None
    return {"workspace": None, "workspace_ref": None, **values}


def _options(top: Mapping[str, Any], reader: Reader) -> dict[str, Any] | None:
    """The runtime's single values that always have one; None when the shutdown timeout is
    invalid."""
    shutdown = reader.integer(
        top.get("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT_H),
        ("shutdown_timeout",),
        1,
        MAX_SHUTDOWN_TIMEOUT_H,
        " hours",
    )
    cluster_required = reader.boolean(top.get("cluster_required", False), ("cluster_required",))
    partner = reader.boolean(top.get("partner", False), ("partner",))
    description = ""
    if "description" in top:
        description = reader.string(top["description"], ("description",)) or ""
    if shutdown is None:
        return None
    return {
        "shutdown_timeout": shutdown,
        "cluster_required": bool(cluster_required),
        "partner": bool(partner),
        "description": description,
    }


def _workspace(value: Any, reader: Reader) -> str | None:
    text = reader.string(value, ("workspace",), max_len=500)
    if text is None:
        return None
    if WORKSPACE_URL.match(text) or WORKSPACE_PATH.match(text):
        return text
    reader.problem(
        ("workspace",),
        f"{short(text)} is not valid (valid: an https:// git URL, or a path relative to the"
        " matrices folder)",
    )
    return None


def _machine_list(value: Any, reader: Reader, machines: Mapping[str, Machine]) -> tuple[str, ...]:
    names = reader.string_list(value, ("machines",), MACHINE_NAME, "machine names")
    if isinstance(value, list) and not value:
        reader.problem(("machines",), "must list at least one machine")
    known = list(machines)
    out = []
    for i, name in enumerate(names):
        if machines and name not in machines:
            index = value.index(name) if isinstance(value, list) and name in value else i
            reader.problem(("machines", index), unknown("machine", name, known))
            continue
        out.append(name)
    return tuple(out)


def _notebooks(value: Any, reader: Reader) -> tuple[NotebookEntry, ...]:
    if not isinstance(value, list):
        reader.problem(("notebooks",), f"must be a list, not {kind_of(value)}")
        return ()
    out: list[NotebookEntry] = []
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
            reader.problem(path_key, f"{short(nb_path)} is listed twice")
            continue
        seen.add(nb_path)
        out.append(dataclasses.replace(spec, path=nb_path))
    return tuple(out)


def _notebook_path(value: Any, path: yamlnodes.Path_, reader: Reader) -> str | None:
    text = reader.string(value, path, max_len=500, valid="a path relative to the workspace")
    if text is None:
        return None
    if text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", text) or "\\" in text:
        reader.problem(path, f"{short(text)} is absolute (valid: a path relative to the workspace)")
        return None
    parts = PurePosixPath(text).parts
    if ".." in parts:
        reader.problem(
            path, f"{short(text)} escapes the workspace (valid: a path inside it, without '..')"
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
            f"{short(text)} escapes the workspace once decoded as {short(decoded)}"
            " (valid: a path inside it, without '..', '%2e' or look-alike dots)",
        )
        return None
    if not text.endswith(".ipynb"):
        reader.problem(path, f"{short(text)} is not a notebook (valid: a path ending in .ipynb)")
        return None
    return str(PurePosixPath(*[p for p in parts if p != "."]))


def _notebook_options(
    entry: Mapping[str, Any], path: yamlnodes.Path_, reader: Reader
) -> NotebookEntry | None:
    """The entry's options (its path aside; absent ones keep the protocol's defaults), or None
    when one of them is invalid."""
    before = len(reader.problems)
    timeout, cell_timeout = _timeouts(entry, path, reader)
    options: dict[str, Any] = {"timeout": timeout, "cell_timeout": cell_timeout}
    for flag in ("rerun", "check_exit_codes"):
        if flag in entry:
            options[flag] = reader.boolean(entry[flag], (*path, flag))
    if entry.get("allow_errors") is not None:  # null: the notebook's own metadata decides
        options["allow_errors"] = reader.boolean(entry["allow_errors"], (*path, "allow_errors"))
    if entry.get("skip") is not None:
        options["skip"] = reader.string(
            entry["skip"], (*path, "skip"), valid="the reason the notebook is skipped"
        )
    if entry.get("kernel") is not None:
        options["kernel"] = reader.string(
            entry["kernel"],
            (*path, "kernel"),
            pattern=KERNEL,
            valid="a kernelspec name like python3",
        )
    if "parameters" in entry:
        options["parameters"] = _parameters(entry["parameters"], path, reader)
    if len(reader.problems) != before:
        return None
    return NotebookEntry(path="", **options)


def _timeouts(
    entry: Mapping[str, Any], path: yamlnodes.Path_, reader: Reader
) -> tuple[int | None, int | None]:
    """The whole-notebook and per-cell limits (a cell's never longer than its notebook's). An
    absent `cell_timeout` stays None: the notebook's own `metadata.execution.timeout` applies,
    else the protocol's default, within the notebook's limit."""
    timeout = reader.integer(
        entry.get("timeout", NOTEBOOK_TIMEOUT_S), (*path, "timeout"), 1, MAX_TIMEOUT_S, " seconds"
    )
    if entry.get("cell_timeout") is None:
        return timeout, None
    cell_timeout = reader.integer(
        entry["cell_timeout"], (*path, "cell_timeout"), 1, MAX_TIMEOUT_S, " seconds"
    )
    if timeout and cell_timeout and cell_timeout > timeout:
        reader.problem(
            (*path, "cell_timeout"),
            f"{cell_timeout} is longer than the notebook's timeout {timeout} (valid: at most {timeout})",
        )
    return timeout, cell_timeout


def _parameters(value: Any, path: yamlnodes.Path_, reader: Reader) -> dict[str, Any]:
    """The entry's parameters: each a Python name bound to a finite, JSON-like value."""
    where: yamlnodes.Path_ = (*path, "parameters")
    raw = reader.mapping(value, where, list(value) if isinstance(value, dict) else ())
    parameters: dict[str, Any] = {}
    for key, item in (raw or {}).items():
        problem = _parameter_problem(key, item)
        if problem:
            reader.problem((*where, key), problem)
        else:
            parameters[key] = item
    return parameters


def _parameter_problem(key: str, value: Any) -> str:
    """What is wrong with one parameter ("" when nothing is)."""
    if not IDENTIFIER.match(key):
        return f"{short(key)} is not a Python identifier (valid: letters, digits, _)"
    if keyword.iskeyword(key):
        return f"{short(key)} is a Python keyword (valid: a name a value can be assigned to)"
    if not _finite(value):
        return "holds .nan or .inf (valid: finite numbers; a parameter is written as Python code)"
    if not _json_like(value):
        return f"value {kind_of(value)} is not supported (valid: string, number, boolean, null, list, mapping)"
    return ""


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


def _environment(value: Any, reader: Reader) -> dict[str, str]:
    if not isinstance(value, dict):
        reader.problem(("environment",), f"must be a mapping of NAME: value, not {kind_of(value)}")
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        path: yamlnodes.Path_ = ("environment", key)
        if not ENV_NAME.match(key):
            reader.problem(
                path,
                f"{short(key)} is not a valid variable name (valid: letters, digits, _, not starting with a digit)",
            )
            continue
        refused = env_refusal(key)
        if refused is not None:
            reader.problem(
                path,
                f"'{key}' may not be set by a runtime: it {refused}"
                ' (valid: a name the README\'s "Matrices" section does not refuse)',
            )
            continue
        if not isinstance(item, str):
            reader.problem(
                path, f'must be a string, not {kind_of(item)} (valid: quote it, e.g. "{item}")'
            )
            continue
        if "\x00" in item or "\n" in item or "\r" in item:
            reader.problem(path, "contains a newline or NUL (valid: a single-line string)")
            continue
        out[key] = item
    return out


def _checks(value: Any, reader: Reader) -> Checks:
    """The runtime's generic checks (absent ones keep the protocol's defaults)."""
    entry = reader.mapping(value, ("checks",), CHECK_KEYS)
    if entry is None:
        return Checks()
    lists = {
        "commands": (COMMAND, "command names like git"),
        "imports": (MODULE, "module names like numpy or torch.cuda"),
        "optional_imports": (MODULE, "module names like gradient"),
    }
    checks: dict[str, Any] = {
        key: reader.string_list(entry[key], ("checks", key), pattern, valid)
        for key, (pattern, valid) in lists.items()
        if key in entry
    }
    if "gradient_cli" in entry:
        checks["gradient_cli"] = bool(
            reader.boolean(entry["gradient_cli"], ("checks", "gradient_cli"))
        )
    if "min_free_disk_gb" in entry:
        checks["min_free_disk_gb"] = (
            reader.number(entry["min_free_disk_gb"], ("checks", "min_free_disk_gb"), 0, 100_000)
            or 0.0
        )
    return Checks(**checks)


def _expected_failures(
    value: Any, reader: Reader, machine_names: Sequence[str]
) -> tuple[ExpectedFailure, ...]:
    if not isinstance(value, list):
        reader.problem(("expected_failures",), f"must be a list, not {kind_of(value)}")
        return ()
    out = []
    for i, item in enumerate(value):
        path: yamlnodes.Path_ = ("expected_failures", i)
        entry = reader.mapping(item, path, EXPECTED_FAILURE_KEYS, required=EXPECTED_FAILURE_KEYS)
        if entry is None or any(k not in entry for k in EXPECTED_FAILURE_KEYS):
            continue
        machine = reader.string(entry["machine"], (*path, "machine"))
        if machine is not None and machine != "*" and machine not in machine_names:
            reader.problem((*path, "machine"), unknown("machine", machine, ["*", *machine_names]))
            machine = None
        test = reader.string(
            entry["test"],
            (*path, "test"),
            pattern=TEST_NAME,
            valid="a test name like checks/gpu.count or notebooks/x.ipynb",
        )
        reason = reader.string(entry["reason"], (*path, "reason"))
        if machine and test and reason:
            out.append(ExpectedFailure(machine=machine, test=test, reason=reason))
    return tuple(out)
