"""The spec the orchestrator hands the harness, checked against the protocol's records.

Each record of ``protocol`` (``Spec``, ``Machine``, ``Checks``, ``NotebookEntry``, ``Caps``) is
read field by field in the record's own order: an absent field takes the record's default, a
field whose default is None may be null, a field without a default must be present, and every
present value passes its field's rule below. Every problem is reported at once in one
``SpecError``; unknown keys are problems too, since the harness always arrives at exactly the
version that wrote the spec.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .protocol import (
    BUNDLE_ID,
    COMMAND,
    IDENTIFIER,
    KERNEL,
    MAX_PARALLEL,
    MODULE,
    SCHEMA,
    Accelerator,
    Caps,
    Checks,
    Keep,
    Machine,
    NotebookEntry,
    Spec,
    default_count,
    field_names,
)


class SpecError(Exception):
    """The spec is unusable; ``problems`` lists every reason, ``bundle_id`` is set if readable."""

    def __init__(self, problems: List[str], bundle_id: Optional[str] = None) -> None:
        super().__init__("invalid spec: " + "; ".join(problems))
        self.problems = problems
        self.bundle_id = bundle_id


def decode_spec_arg(b64: str) -> Any:
    """The JSON value carried by ``--spec`` (base64 of UTF-8 JSON; ``protocol.encode_spec_arg``)."""
    try:
        raw = base64.b64decode(b64.encode("ascii"), validate=True)
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        raise SpecError(["--spec is not base64 of UTF-8 JSON: %s" % exc]) from None


def parse_spec(data: Any) -> Spec:
    """Check ``data`` (the decoded JSON) and build a ``Spec``; raises ``SpecError``."""
    problems: List[str] = []
    top = _object(problems, data, "spec", ("schema", *field_names(Spec)))
    if top.get("schema") != SCHEMA:
        problems.append("spec.schema: expected %d, got %r" % (SCHEMA, top.get("schema")))
    values = _fields(problems, top, "spec", Spec)
    if problems:
        raise SpecError(problems, peek_bundle_id(top))
    return Spec(**values)


def peek_bundle_id(data: Any) -> Optional[str]:
    """The bundle id of a spec that may be invalid otherwise, if it is usable."""
    if isinstance(data, dict):
        value = data.get("bundle_id")
        if isinstance(value, str) and BUNDLE_ID.match(value):
            return value
    return None


# --- reading records ---------------------------------------------------------------------------

# A field's rule: (problems, present value, where, default) -> the value to use. On a bad value
# it appends a problem and returns the default.
Rule = Callable[[List[str], Any, str, Any], Any]
_REQUIRED = object()  # the default of a field that has none


def _object(problems: List[str], value: Any, where: str, keys: Tuple[str, ...]) -> Dict[str, Any]:
    if not isinstance(value, dict):
        problems.append("%s: expected an object" % where)
        return {}
    for key in value:
        if key not in keys:
            problems.append("%s: unknown key %r (valid: %s)" % (where, key, ", ".join(keys)))
    return value


def _default(field: Any) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return _REQUIRED


def _fields(problems: List[str], obj: Mapping[str, Any], where: str, record: Any) -> Dict[str, Any]:
    """``record``'s fields read from ``obj`` by their rules (``_RULES``)."""
    values: Dict[str, Any] = {}
    for field in dataclasses.fields(record):
        name, default = field.name, _default(field)
        at = "%s.%s" % (where, name)
        if name not in obj:
            if default is _REQUIRED:
                problems.append("%s: missing" % at)
            values[name] = None if default is _REQUIRED else default
        elif obj[name] is None and default is None:
            values[name] = None
        else:
            values[name] = _RULES[record][name](problems, obj[name], at, default)
    return values


def _record(record: Any) -> Rule:
    """A nested object read as ``record``."""

    def rule(problems: List[str], value: Any, where: str, default: Any) -> Any:
        obj = _object(problems, value, where, field_names(record))
        return record(**_fields(problems, obj, where, record))

    return rule


def _string(pattern: Any = None) -> Rule:
    def rule(problems: List[str], value: Any, where: str, default: Any) -> Any:
        if isinstance(value, str) and (pattern is None or pattern.match(value)):
            return value
        problems.append("%s: invalid value %r" % (where, value))
        return "" if default is _REQUIRED else default

    return rule


def _strings(pattern: Any) -> Rule:
    def rule(problems: List[str], value: Any, where: str, default: Any) -> Any:
        if not isinstance(value, list):
            problems.append("%s: expected a list" % where)
            return default
        for item in value:
            if not (isinstance(item, str) and pattern.match(item)):
                problems.append("%s: invalid entry %r" % (where, item))
        return tuple(item for item in value if isinstance(item, str) and pattern.match(item))

    return rule


def _number(positive: bool) -> Rule:
    def rule(problems: List[str], value: Any, where: str, default: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append("%s: expected a number, got %r" % (where, value))
        elif positive and value <= 0:
            problems.append("%s: must be positive, got %r" % (where, value))
        elif value < 0:
            problems.append("%s: must not be negative, got %r" % (where, value))
        else:
            return value
        return default

    return rule


def _whole(lowest: int, highest: Optional[int] = None, hint: str = "") -> Rule:
    def rule(problems: List[str], value: Any, where: str, default: Any) -> Any:
        whole = isinstance(value, int) and not isinstance(value, bool)
        if whole and lowest <= value and (highest is None or value <= highest):
            return value
        valid = ">= %d" % lowest if highest is None else "from %d to %d" % (lowest, highest)
        problems.append("%s: expected a whole number %s%s, got %r" % (where, valid, hint, value))
        return default

    return rule


def _boolean(problems: List[str], value: Any, where: str, default: Any) -> Any:
    if isinstance(value, bool):
        return value
    problems.append("%s: expected true or false, got %r" % (where, value))
    return default


def _choice(kind: Any) -> Rule:
    def rule(problems: List[str], value: Any, where: str, default: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            valid = ", ".join(m.value for m in kind)
            problems.append("%s: invalid value %r (valid: %s)" % (where, value, valid))
            return default

    return rule


def _machine(problems: List[str], value: Any, where: str, default: Any) -> Any:
    obj = _object(problems, value, where, field_names(Machine))
    values = _fields(problems, obj, where, Machine)
    if "count" not in obj:
        values["count"] = default_count(values["accelerator"])
    return Machine(**values)


def _notebooks(problems: List[str], value: Any, where: str, default: Any) -> Any:
    if not isinstance(value, list):
        problems.append("%s: expected a list" % where)
        return default
    entries: List[NotebookEntry] = []
    for i, raw in enumerate(value):
        at = "%s[%d]" % (where, i)
        obj = _object(problems, {"path": raw} if isinstance(raw, str) else raw, at, _NOTEBOOK)
        values = _fields(problems, obj, at, NotebookEntry)
        if not values["path"]:
            continue
        if any(e.path == values["path"] for e in entries):
            problems.append("%s.path: %r listed twice" % (at, values["path"]))
        entries.append(NotebookEntry(**values))
    return tuple(entries)


def _skip(problems: List[str], value: Any, where: str, default: Any) -> Any:
    if value is True:
        return "skipped by the matrix"
    if value is False or isinstance(value, str):
        return value or None
    problems.append("%s: expected a reason (string) or null, got %r" % (where, value))
    return default


def _parameters(problems: List[str], value: Any, where: str, default: Any) -> Any:
    if not isinstance(value, dict):
        problems.append("%s: expected an object" % where)
        return default
    for name in value:
        if not IDENTIFIER.match(name):
            problems.append("%s: %r is not a Python identifier" % (where, name))
    return value


_NOTEBOOK = field_names(NotebookEntry)
_NOT_EMPTY = re.compile(r"(?s).")
_RULES: Dict[Any, Dict[str, Rule]] = {
    Spec: {
        "bundle_id": _string(BUNDLE_ID),
        "runtime": _string(),
        "machine": _machine,
        "workspace": _string(),
        "checks": _record(Checks),
        "notebooks": _notebooks,
        "keep": _choice(Keep),
        "caps": _record(Caps),
        "gpu_sample_interval_s": _number(positive=True),
        "parallel": _whole(0, MAX_PARALLEL, " (0: one per CPU)"),
    },
    Machine: {
        "name": _string(),
        "accelerator": _choice(Accelerator),
        "count": _whole(0),
        "model": _string(),
        "memory_gb": _number(positive=True),
    },
    Checks: {
        "commands": _strings(COMMAND),
        "imports": _strings(MODULE),
        "optional_imports": _strings(MODULE),
        "gradient_cli": _boolean,
        "min_free_disk_gb": _number(positive=False),
    },
    NotebookEntry: {
        "path": _string(_NOT_EMPTY),
        "timeout": _number(positive=True),
        "cell_timeout": _number(positive=True),
        "rerun": _boolean,
        "skip": _skip,
        "parameters": _parameters,
        "check_exit_codes": _boolean,
        "kernel": _string(KERNEL),
        "allow_errors": _boolean,
    },
    Caps: {
        "output_chars": _whole(1),
        "notebook_chars": _whole(1),
        "bundle_chars": _whole(1),
    },
}
