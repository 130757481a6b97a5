"""The spec the orchestrator hands the harness (docs/harness-protocol.md), parsed and checked.

Every problem is reported at once in one ``SpecError``; unknown keys are problems too, since the
harness always arrives at exactly the version that wrote the spec.
"""

from __future__ import annotations

import base64
import enum
import json
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .protocol import Keep

SCHEMA = 1

_BUNDLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_COMMAND = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SpecError(Exception):
    """The spec is unusable; ``problems`` lists every reason, ``bundle_id`` is set if readable."""

    def __init__(self, problems: List[str], bundle_id: Optional[str] = None) -> None:
        super().__init__("invalid spec: " + "; ".join(problems))
        self.problems = problems
        self.bundle_id = bundle_id


class Accelerator(str, enum.Enum):
    CPU = "cpu"
    GPU = "gpu"
    IPU = "ipu"


class Machine:
    def __init__(
        self,
        name: str,
        accelerator: Accelerator,
        count: int,
        model: Optional[str],
        memory_gb: Optional[float],
    ) -> None:
        self.name = name
        self.accelerator = accelerator
        self.count = count
        self.model = model
        self.memory_gb = memory_gb

    def describe(self) -> str:
        """What the machine should show, e.g. ``2 x A6000 (48 GB)``."""
        text = "%d x %s" % (self.count, self.model or self.accelerator.value.upper())
        if self.memory_gb is not None:
            text += " (%g GB)" % self.memory_gb
        return text


class Checks:
    def __init__(
        self,
        commands: List[str],
        imports: List[str],
        optional_imports: List[str],
        gradient_cli: bool,
        min_free_disk_gb: float,
    ) -> None:
        self.commands = commands
        self.imports = imports
        self.optional_imports = optional_imports
        self.gradient_cli = gradient_cli
        self.min_free_disk_gb = min_free_disk_gb


class NotebookEntry:
    def __init__(
        self,
        path: str,
        *,
        timeout: Optional[float] = 3600.0,
        cell_timeout: Optional[float] = 600.0,
        rerun: bool = False,
        skip: Optional[str] = None,
        parameters: Optional[Dict[str, Any]] = None,
        check_exit_codes: bool = True,
        kernel: Optional[str] = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.cell_timeout = cell_timeout
        self.rerun = rerun
        self.skip = skip
        self.parameters = parameters or {}
        self.check_exit_codes = check_exit_codes
        self.kernel = kernel

    @property
    def test_name(self) -> str:
        return "notebooks/" + self.path


class Caps:
    def __init__(self, output_chars: int, notebook_chars: int, bundle_chars: int) -> None:
        self.output_chars = output_chars
        self.notebook_chars = notebook_chars
        self.bundle_chars = bundle_chars


class Spec:
    def __init__(
        self,
        *,
        bundle_id: str,
        runtime: str,
        machine: Machine,
        workspace: str,
        checks: Checks,
        notebooks: List[NotebookEntry],
        keep: Keep,
        caps: Caps,
        gpu_sample_interval_s: float,
        parallel: int = 1,
    ) -> None:
        self.bundle_id = bundle_id
        self.runtime = runtime
        self.machine = machine
        self.workspace = workspace
        self.checks = checks
        self.notebooks = notebooks
        self.keep = keep
        self.caps = caps
        self.gpu_sample_interval_s = gpu_sample_interval_s
        # Notebooks run at once (0: one per usable CPU); never more than the usable CPUs.
        self.parallel = parallel


def decode_spec_arg(b64: str) -> Any:
    """The JSON value carried by ``--spec`` (base64 of UTF-8 JSON)."""
    try:
        raw = base64.b64decode(b64.encode("ascii"), validate=True)
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        raise SpecError(["--spec is not base64 of UTF-8 JSON: %s" % exc]) from None


def encode_spec_arg(data: Mapping[str, Any]) -> str:
    """The inverse of ``decode_spec_arg`` (the orchestrator's side, and tests)."""
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


class _Reader:
    """Reads typed fields from nested mappings, collecting problems instead of raising."""

    def __init__(self) -> None:
        self.problems: List[str] = []

    def mapping(self, value: Any, where: str, allowed: Tuple[str, ...]) -> Dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append("%s: expected an object" % where)
            return {}
        for key in value:
            if key not in allowed:
                self.problems.append(
                    "%s: unknown key %r (valid: %s)" % (where, key, ", ".join(allowed))
                )
        return value

    def string(
        self,
        obj: Mapping[str, Any],
        key: str,
        where: str,
        required: bool = False,
        pattern: Any = None,
    ) -> Optional[str]:
        value = obj.get(key)
        if value is None:
            if required:
                self.problems.append("%s.%s: missing" % (where, key))
            return None
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            self.problems.append("%s.%s: invalid value %r" % (where, key, value))
            return None
        return value

    def number(
        self, obj: Mapping[str, Any], key: str, where: str, default: Any, positive: bool = True
    ) -> Any:
        value = obj.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problems.append("%s.%s: expected a number, got %r" % (where, key, value))
            return default
        if positive and value <= 0:
            self.problems.append("%s.%s: must be positive, got %r" % (where, key, value))
            return default
        if not positive and value < 0:
            self.problems.append("%s.%s: must not be negative, got %r" % (where, key, value))
            return default
        return value

    def boolean(self, obj: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = obj.get(key, default)
        if not isinstance(value, bool):
            self.problems.append("%s.%s: expected true or false, got %r" % (where, key, value))
            return default
        return value

    def strings(self, obj: Mapping[str, Any], key: str, where: str, pattern: Any) -> List[str]:
        value = obj.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append("%s.%s: expected a list" % (where, key))
            return []
        good = []
        for item in value:
            if isinstance(item, str) and pattern.match(item):
                good.append(item)
            else:
                self.problems.append("%s.%s: invalid entry %r" % (where, key, item))
        return good

    def choice(
        self, obj: Mapping[str, Any], key: str, where: str, enum_type: Any, default: Any
    ) -> Any:
        value = obj.get(key, default.value)
        try:
            return enum_type(value)
        except ValueError:
            valid = ", ".join(m.value for m in enum_type)
            self.problems.append("%s.%s: invalid value %r (valid: %s)" % (where, key, value, valid))
            return default


def parse_spec(data: Any) -> Spec:
    """Check ``data`` (the decoded JSON) and build a ``Spec``; raises ``SpecError``."""
    r = _Reader()
    top = r.mapping(
        data,
        "spec",
        (
            "schema",
            "bundle_id",
            "runtime",
            "machine",
            "workspace",
            "checks",
            "notebooks",
            "keep",
            "caps",
            "gpu_sample_interval_s",
            "parallel",
        ),
    )
    if top.get("schema") != SCHEMA:
        r.problems.append("spec.schema: expected %d, got %r" % (SCHEMA, top.get("schema")))
    bundle_id = r.string(top, "bundle_id", "spec", required=True, pattern=_BUNDLE_ID) or ""
    runtime = r.string(top, "runtime", "spec") or ""
    workspace = r.string(top, "workspace", "spec") or "/notebooks"

    m = r.mapping(
        top.get("machine", {}),
        "spec.machine",
        ("name", "accelerator", "count", "model", "memory_gb"),
    )
    accelerator = r.choice(m, "accelerator", "spec.machine", Accelerator, Accelerator.CPU)
    count = m.get("count", 0 if accelerator is Accelerator.CPU else 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        r.problems.append("spec.machine.count: expected a whole number >= 0, got %r" % (count,))
        count = 0
    machine = Machine(
        name=r.string(m, "name", "spec.machine") or "",
        accelerator=accelerator,
        count=count,
        model=r.string(m, "model", "spec.machine"),
        memory_gb=r.number(m, "memory_gb", "spec.machine", None),
    )

    c = r.mapping(
        top.get("checks", {}),
        "spec.checks",
        ("commands", "imports", "optional_imports", "gradient_cli", "min_free_disk_gb"),
    )
    checks = Checks(
        commands=r.strings(c, "commands", "spec.checks", _COMMAND),
        imports=r.strings(c, "imports", "spec.checks", _MODULE),
        optional_imports=r.strings(c, "optional_imports", "spec.checks", _MODULE),
        gradient_cli=r.boolean(c, "gradient_cli", "spec.checks", False),
        min_free_disk_gb=r.number(c, "min_free_disk_gb", "spec.checks", 1.0, positive=False) or 0.0,
    )

    notebooks = []
    raw_notebooks = top.get("notebooks", [])
    if not isinstance(raw_notebooks, list):
        r.problems.append("spec.notebooks: expected a list")
        raw_notebooks = []
    seen = set()
    for i, raw in enumerate(raw_notebooks):
        entry = _parse_notebook(r, raw, "spec.notebooks[%d]" % i)
        if entry is None:
            continue
        if entry.path in seen:
            r.problems.append("spec.notebooks[%d].path: %r listed twice" % (i, entry.path))
        seen.add(entry.path)
        notebooks.append(entry)

    k = r.mapping(
        top.get("caps", {}), "spec.caps", ("output_chars", "notebook_chars", "bundle_chars")
    )
    caps = Caps(
        output_chars=int(r.number(k, "output_chars", "spec.caps", 20000) or 20000),
        notebook_chars=int(r.number(k, "notebook_chars", "spec.caps", 500000) or 500000),
        bundle_chars=int(r.number(k, "bundle_chars", "spec.caps", 4000000) or 4000000),
    )
    keep = r.choice(top, "keep", "spec", Keep, Keep.NEVER)
    interval = r.number(top, "gpu_sample_interval_s", "spec", 1.0) or 1.0
    parallel = top.get("parallel", 1)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or not 0 <= parallel <= 64:
        r.problems.append(
            "spec.parallel: expected a whole number from 0 to 64 (0: one per CPU), got %r"
            % (parallel,)
        )
        parallel = 1

    if r.problems:
        raise SpecError(r.problems, bundle_id or None)
    return Spec(
        bundle_id=bundle_id,
        runtime=runtime,
        machine=machine,
        workspace=workspace,
        checks=checks,
        notebooks=notebooks,
        keep=keep,
        caps=caps,
        gpu_sample_interval_s=float(interval),
        parallel=parallel,
    )


def _parse_notebook(r: _Reader, raw: Any, where: str) -> Optional[NotebookEntry]:
    if isinstance(raw, str):
        raw = {"path": raw}
    n = r.mapping(
        raw,
        where,
        (
            "path",
            "timeout",
            "cell_timeout",
            "rerun",
            "skip",
            "parameters",
            "check_exit_codes",
            "kernel",
        ),
    )
    if not n:
        return None
    path = r.string(n, "path", where, required=True)
    if not path:
        return None
    skip = n.get("skip")
    if skip is True:
        skip = "skipped by the matrix"
    elif skip is False:
        skip = None
    elif skip is not None and not isinstance(skip, str):
        r.problems.append("%s.skip: expected a reason (string) or null, got %r" % (where, skip))
        skip = None
    parameters = n.get("parameters") or {}
    if not isinstance(parameters, dict):
        r.problems.append("%s.parameters: expected an object" % where)
        parameters = {}
    for name in parameters:
        if not _IDENTIFIER.match(name):
            r.problems.append("%s.parameters: %r is not a Python identifier" % (where, name))
    return NotebookEntry(
        path=path,
        timeout=r.number(n, "timeout", where, 3600.0),
        cell_timeout=r.number(n, "cell_timeout", where, 600.0),
        rerun=r.boolean(n, "rerun", where, False),
        skip=skip,
        parameters=parameters,
        check_exit_codes=r.boolean(n, "check_exit_codes", where, True),
        kernel=r.string(n, "kernel", where),
    )


def peek_bundle_id(data: Any) -> Optional[str]:
    """The bundle id of a spec that may be invalid otherwise, if it is usable."""
    if isinstance(data, dict):
        value = data.get("bundle_id")
        if isinstance(value, str) and _BUNDLE_ID.match(value):
            return value
    return None
