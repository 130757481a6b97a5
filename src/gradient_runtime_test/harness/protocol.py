"""The harness protocol in one home (docs/harness-protocol.md): the spec the orchestrator hands
the harness and the results it gets back, with their field names, defaults and allowed values.

Runs inside runtimes: Python 3.8+, standard library only, imports nothing from the package. The
orchestrator builds a ``Spec`` from these records (``to_json`` writes it); the harness's ``spec``
module checks a spec's shape against the same records; results are ``Result`` entries of a
``payload``. The bundle's frame format lives in ``bundle`` (it frames any payload).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import re
from typing import AbstractSet, Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

SCHEMA = 1  # of the spec and of the payload

# What a spec's values may look like (the matrices check the same).
BUNDLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
COMMAND = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KERNEL = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_PARALLEL = 64

NOTEBOOK_TIMEOUT_S = 3600
CELL_TIMEOUT_S = 600


class Keep(str, enum.Enum):
    """What happens to a cell's notebook once its result is in."""

    NEVER = "never"  # end it
    FAILED = "failed"  # keep it running when the cell did not pass
    ALWAYS = "always"  # keep it running

    def __str__(self) -> str:
        return self.value


def keeps(keep: Keep, failed: bool) -> bool:
    """Whether the notebook is kept running (by the harness and by the orchestrator alike)."""
    return keep is Keep.ALWAYS or (keep is Keep.FAILED and failed)


class Accelerator(str, enum.Enum):
    CPU = "cpu"
    GPU = "gpu"
    IPU = "ipu"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Machine:
    """What a notebook on the cell's machine must see."""

    name: str = ""
    accelerator: Accelerator = Accelerator.CPU
    count: int = 0  # accelerators (absent: 0 on CPU machines, else 1)
    model: Optional[str] = None  # substring of the name nvidia-smi reports, e.g. "A4000"
    memory_gb: Optional[float] = None  # per accelerator

    def describe(self) -> str:
        """What the machine should show, e.g. ``2 x A6000 (48 GB)``."""
        text = "%d x %s" % (self.count, self.model or self.accelerator.value.upper())
        if self.memory_gb is not None:
            text += " (%g GB)" % self.memory_gb
        return text


def default_count(accelerator: Accelerator) -> int:
    """A machine's ``count`` when the spec leaves it out."""
    return 0 if accelerator is Accelerator.CPU else 1


@dataclasses.dataclass(frozen=True)
class Checks:
    """The generic checks of a runtime."""

    commands: Tuple[str, ...] = ()  # on PATH
    imports: Tuple[str, ...] = ()  # must import in the kernel
    optional_imports: Tuple[str, ...] = ()  # may be missing, must import when installed
    gradient_cli: bool = False
    min_free_disk_gb: float = 1.0


@dataclasses.dataclass(frozen=True)
class NotebookEntry:
    """One notebook to run (a runtime's ``notebooks`` entry; the matrix model uses this too)."""

    path: str  # relative to the workspace
    timeout: float = NOTEBOOK_TIMEOUT_S  # whole notebook, seconds
    # Per cell, seconds; None: the notebook's ``metadata.execution.timeout``, else CELL_TIMEOUT_S.
    cell_timeout: Optional[float] = None
    rerun: bool = False  # run it a second time in the same kernel
    skip: Optional[str] = None  # the reason it is not run
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # papermill-style
    check_exit_codes: bool = True  # a `!cmd` exiting non-zero fails the notebook
    kernel: Optional[str] = None  # kernelspec override
    # Error outputs do not fail the notebook; None: ``metadata.execution.allow_errors``, else no.
    allow_errors: Optional[bool] = None

    @property
    def test_name(self) -> str:
        return "notebooks/" + self.path


@dataclasses.dataclass(frozen=True)
class Caps:
    """Size limits, in characters, on what comes back."""

    output_chars: int = 20000  # one output of an executed notebook
    notebook_chars: int = 500000  # one executed notebook
    bundle_chars: int = 4000000  # the whole bundle's base64 text


@dataclasses.dataclass(frozen=True)
class Spec:
    """Everything the harness is told about one cell."""

    bundle_id: str  # unique per cell; frames the bundle
    runtime: str = ""
    machine: Machine = Machine()
    workspace: str = "/notebooks"  # notebook paths are relative to it
    checks: Checks = Checks()
    notebooks: Tuple[NotebookEntry, ...] = ()
    keep: Keep = Keep.NEVER
    caps: Caps = Caps()
    gpu_sample_interval_s: float = 1.0
    parallel: int = 1  # notebooks run at once (0: one per usable CPU), at most MAX_PARALLEL


def field_names(record: Any) -> Tuple[str, ...]:
    """The JSON keys of one of the records above, in order."""
    return tuple(f.name for f in dataclasses.fields(record))


def to_json(spec: Spec) -> Dict[str, Any]:
    """The spec as the JSON object the harness reads."""
    data: Dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(spec)))  # enums: values
    data["schema"] = SCHEMA
    return data


def encode_spec_arg(data: Mapping[str, Any]) -> str:
    """``--spec``'s value: base64 of the UTF-8 JSON of ``data`` (e.g. ``to_json(spec)``)."""
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


# --- results ---------------------------------------------------------------------------------


# A notebook's ``timing``: seconds starting its kernel, waiting (kernel ready) for a turn to run,
# in its cells (every run), in the harness's hidden cells (exit-code checks), shutting the kernel
# down, and in all (the notebook's wall time, waiting included; the rest is the engine's own).
TIMING_KEYS = ("kernel_start_s", "waiting_s", "cells_s", "hidden_s", "shutdown_s", "total_s")


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"  # the runtime misbehaved
    ERROR = "error"  # infrastructure or configuration broke: no verdict on the runtime
    SKIPPED = "skipped"


@dataclasses.dataclass(frozen=True)
class Result:
    """One test: a check or a notebook run (an entry of the payload's ``tests``)."""

    __test__ = False  # not a pytest class

    name: str  # checks/<group>.<name>, notebooks/<path>, notebooks/<path>[rerun], harness/<what>
    status: Status
    message: str = ""
    details: str = ""
    duration_s: float = 0.0
    # Notebooks only (left out of the JSON when unset):
    cell: Optional[int] = None  # the cell the message names: 1-based among all the file's cells
    timing: Optional[Mapping[str, float]] = None  # where the time went (TIMING_KEYS), seconds
    cut: Tuple[str, ...] = ()  # what was cut from the executed copy (outputs, images)
    warnings: Tuple[str, ...] = ()  # e.g. far more time outside the cells than in them

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "name": self.name,
            "status": self.status.value,
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
            "details": self.details,
        }
        if self.cell is not None:
            data["cell"] = self.cell
        if self.timing is not None:
            data["timing"] = {k: round(v, 3) for k, v in self.timing.items()}
        if self.cut:
            data["cut"] = list(self.cut)
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data

    def __repr__(self) -> str:
        return "Result(%r, %s, %r)" % (self.name, self.status.value, self.message)


def payload(
    *,
    bundle_id: str,
    harness_version: str,
    started_at: str,
    finished_at: str,
    tests: Sequence[Result],
    environment: Optional[Dict[str, Any]] = None,
    metrics: Optional[Dict[str, Dict[str, Any]]] = None,
    notebooks: Optional[Dict[str, Any]] = None,
    notes: Sequence[str] = (),
) -> Dict[str, Any]:
    """The JSON object the bundle carries back."""
    data: Dict[str, Any] = {
        "schema": SCHEMA,
        "harness_version": harness_version,
        "bundle_id": bundle_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "environment": environment or {},
        "metrics": metrics or {},
        "tests": [t.to_json() for t in tests],
        "notebooks": notebooks or {},
    }
    if notes:
        data["notes"] = list(notes)
    return data


# --- what a payload must answer --------------------------------------------------------------
#
# A payload answers its spec when its ``tests`` hold exactly the names the spec asks for, each
# once and with a status. The orchestrator checks every cell's payload (``expected_tests``):
# anything missing, extra or repeated makes the cell ``error``, never ``passed``.

RERUN = "[rerun]"  # suffix of a notebook's second run: notebooks/<path>[rerun]
ANY = "*"  # an expected name ending in it stands for the names it starts
HARNESS_ERRORS = "harness/" + ANY  # harness/spec, harness/internal: the harness itself broke
# Steps of the harness that, when they break, record one error under their own name in place of
# the results they did not get to (``model.guarded``), and the names they stand in for.
GPU_CHECKS = "checks/gpu"
KERNEL_CHECKS = "checks/kernel"
GUARDED = {
    GPU_CHECKS: ("checks/gpu.",),
    KERNEL_CHECKS: ("checks/python.kernel", "checks/import.", "checks/cuda."),
}
_SHOWN_NAMES = 5  # names listed per problem
_NAME_CHARS = 100


@dataclasses.dataclass(frozen=True)
class ExpectedTests:
    """The test names a payload must carry to answer a spec (see ``expected_tests``).

    ``required``: each exactly once; one ending in ``ANY`` wants at least one name it starts.
    ``optional``: at most once each (ending in ``ANY``: any names it starts). A required name
    may be missing only where an ``error`` stands in for it: a ``harness/`` error for any name,
    a guarded step's error for its names (``GUARDED``), a notebook's error for its ``[rerun]``.
    """

    required: Tuple[str, ...] = ()
    optional: Tuple[str, ...] = ()

    def problems(self, tests: Any) -> List[str]:
        """What keeps ``tests`` (a payload's raw ``tests`` value) from answering; [] if nothing."""
        if not isinstance(tests, list):
            return ["no list of tests"]
        counts, errors, bad = _tally(tests)
        found = [
            _listed("without a valid status", bad),
            _listed("missing", [n for n in self.required if not _answered(n, counts, errors)]),
            _listed("unexpected", [n for n in counts if not self._allows(n)]),
            _listed("repeated", [n for n, k in counts.items() if k > 1]),
        ]
        return [problem for problem in found if problem]

    def stood_in(self, tests: Any) -> List[str]:
        """The required names an error stands in for (missing, yet not a problem): the payload
        answers, but what a broken step did not record has no verdict."""
        counts, _, _ = _tally(tests if isinstance(tests, list) else [])
        return [n for n in self.required if not any(_matches(name, n) for name in counts)]

    def _allows(self, name: str) -> bool:
        return any(_matches(name, entry) for entry in self.required + self.optional)


def _tally(tests: List[Any]) -> Tuple[Dict[str, int], Set[str], List[str]]:
    """How often each name comes, the names with an error, the entries without name or status."""
    counts: Dict[str, int] = {}
    errors: Set[str] = set()
    bad: List[str] = []
    for i, test in enumerate(tests):
        name = test.get("name") if isinstance(test, dict) else None
        status = test.get("status") if isinstance(test, dict) else None
        if not isinstance(name, str) or status not in _STATUSES:
            bad.append(name if isinstance(name, str) else "tests[%d]" % i)
            continue
        counts[name] = counts.get(name, 0) + 1
        if status == Status.ERROR.value:
            errors.add(name)
    return counts, errors, bad


_STATUSES = tuple(s.value for s in Status)


def _matches(name: str, entry: str) -> bool:
    return name.startswith(entry[:-1]) if entry.endswith(ANY) else name == entry


def _answered(wanted: str, counts: Mapping[str, int], errors: AbstractSet[str]) -> bool:
    """Whether the required ``wanted`` is there, or an error stands in for it."""
    if any(_matches(name, wanted) for name in counts):
        return True
    if any(_matches(name, HARNESS_ERRORS) for name in errors):
        return True
    if wanted.endswith(RERUN) and wanted[: -len(RERUN)] in errors:
        return True
    return any(guard in errors and wanted.startswith(covered) for guard, covered in GUARDED.items())


def _listed(what: str, names: Sequence[str]) -> str:
    if not names:
        return ""
    shown = [n if len(n) <= _NAME_CHARS else n[: _NAME_CHARS - 3] + "..." for n in names]
    more = len(shown) - _SHOWN_NAMES
    text = "%s %s" % (what, ", ".join(shown[:_SHOWN_NAMES]))
    return text + (" and %d more" % more if more > 0 else "")


def expected_tests(spec: Spec) -> ExpectedTests:
    """The tests a payload must carry to answer ``spec``: what the harness records for it."""
    checks, gpu = spec.checks, spec.machine.accelerator is Accelerator.GPU
    required = ["checks/command." + name for name in checks.commands]
    required += ["checks/python.python3", "checks/python.python", "checks/gpu.count"]
    if gpu:
        required += ["checks/gpu.visible", "checks/gpu.model", "checks/gpu.memory"]
    required.append("checks/python.kernel")
    modules = checks.imports + checks.optional_imports
    required += ["checks/import." + m for i, m in enumerate(modules) if m not in modules[:i]]
    required.append("checks/cuda." + ANY if gpu else "checks/cuda.sanity")
    if checks.gradient_cli:
        required.append("checks/gradient.cli")
    required.append("checks/disk.free")
    for entry in spec.notebooks:
        required.append(entry.test_name)
        if entry.rerun:
            required.append(entry.test_name + RERUN)
    optional = [GPU_CHECKS, KERNEL_CHECKS, HARNESS_ERRORS]
    if gpu:  # multi-GPU machines, or more GPUs visible than expected
        optional.append("checks/gpu.topology")
    return ExpectedTests(required=tuple(required), optional=tuple(optional))
