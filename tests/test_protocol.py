"""The harness protocol has one home (harness/protocol.py): what the orchestrator writes is what
the harness reads, field for field, and the matrices' JSON Schema lists the same fields."""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path
from typing import Any

from gradient_runtime_test.harness import protocol
from gradient_runtime_test.harness.protocol import (
    Accelerator,
    Caps,
    Checks,
    Keep,
    NotebookEntry,
    Spec,
    field_names,
)
from gradient_runtime_test.harness.spec import decode_spec_arg, parse_spec
from gradient_runtime_test.matrix.model import Machine, Runtime
from gradient_runtime_test.orchestrate.jobs import make_job
from gradient_runtime_test.plan import Cell
from gradient_runtime_test.providers.local import LocalProvider

SCHEMA = Path(__file__).resolve().parents[1] / "matrices" / "schema" / "runtime.schema.json"

# Every field away from its default, so that a field lost on the way cannot pass unnoticed.
NOTEBOOKS = (
    NotebookEntry(
        path="dir/first.ipynb",
        timeout=900,
        cell_timeout=45,
        rerun=True,
        skip="needs a TPU",
        parameters={"epochs": 2, "name": 'it\'s "quoted"', "rates": [0.1, 0.01], "flags": {}},
        check_exit_codes=False,
        kernel="python3-custom",
        allow_errors=True,
    ),
    NotebookEntry(path="second.ipynb"),
)
CHECKS = Checks(
    commands=("git", "nvidia-smi"),
    imports=("numpy", "torch.cuda"),
    optional_imports=("gradient",),
    gradient_cli=True,
    min_free_disk_gb=2.5,
)
RUNTIME = Runtime(
    name="Round Trip 1.0",
    slug="round-trip",
    container="img/x:1",
    workspace=None,
    workspace_ref=None,
    machines=("A6000x2",),
    notebooks=NOTEBOOKS,
    checks=CHECKS,
    parallel_notebooks=3,
)
MACHINE = Machine(name="A6000x2", accelerator=Accelerator.GPU, count=2, model="A6000", memory_gb=48)


def _non_default(record: Any, value: Any) -> list[str]:
    """Fields of ``value`` (a ``record``) still at their default."""
    same = []
    for field in dataclasses.fields(record):
        default = field.default
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        if getattr(value, field.name) == default:
            same.append(field.name)
    return same


def test_the_round_trip_values_leave_no_field_at_its_default() -> None:
    assert _non_default(NotebookEntry, NOTEBOOKS[0]) == []
    assert _non_default(Checks, CHECKS) == []


def test_every_field_arrives_from_make_job_to_the_harness_parser(tmp_path: Path) -> None:
    provider = LocalProvider(base_env={}, scratch_root=tmp_path)
    job = make_job(
        Cell(RUNTIME, MACHINE),
        provider=provider,
        run_id="run1",
        keep=Keep.FAILED,
        workspace=None,
        ref=None,
        project_id=None,
    )
    words = shlex.split(job.launch.command.split(" --spec ", 1)[1])
    parsed = parse_spec(decode_spec_arg(words[0]))

    expected: dict[str, Any] = {
        "bundle_id": job.bundle_id,
        "runtime": RUNTIME.name,
        "machine": protocol.Machine(
            name="A6000x2", accelerator=Accelerator.GPU, count=2, model="A6000", memory_gb=48
        ),
        "workspace": provider.workspace_dir(),
        "checks": CHECKS,
        "notebooks": NOTEBOOKS,
        "keep": Keep.FAILED,
        "caps": Caps(),
        "gpu_sample_interval_s": 1.0,
        "parallel": 3,
    }
    assert tuple(expected) == field_names(Spec)  # a new field needs its line here
    for name, value in expected.items():
        assert getattr(parsed, name) == value, name
    for name in field_names(protocol.Machine):
        assert getattr(parsed.machine, name) == getattr(MACHINE, name), name
    assert parsed.notebooks[0].parameters == NOTEBOOKS[0].parameters


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return schema


def _schema_notebook() -> dict[str, Any]:
    forms = _schema()["$defs"]["notebook"]["oneOf"]
    entry: dict[str, Any] = next(f for f in forms if f.get("type") == "object")
    return entry


def _defaults(record: Any) -> dict[str, Any]:
    out = {}
    for field in dataclasses.fields(record):
        if field.default is not dataclasses.MISSING:
            out[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            out[field.name] = field.default_factory()
    return out


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def test_the_json_schema_lists_the_protocols_notebook_fields_and_defaults() -> None:
    entry = _schema_notebook()
    assert tuple(entry["properties"]) == field_names(NotebookEntry)
    assert entry["required"] == [
        n for n in field_names(NotebookEntry) if n not in _defaults(NotebookEntry)
    ]
    schema_defaults = {k: v["default"] for k, v in entry["properties"].items() if "default" in v}
    assert schema_defaults == _jsonable(_defaults(NotebookEntry))


def test_the_json_schema_lists_the_protocols_check_fields_and_defaults() -> None:
    checks = _schema()["properties"]["checks"]["properties"]
    assert tuple(checks) == field_names(Checks)
    assert {k: v["default"] for k, v in checks.items()} == _jsonable(_defaults(Checks))


def test_the_json_schema_uses_the_protocols_patterns() -> None:
    schema = _schema()
    entry = _schema_notebook()["properties"]
    checks = schema["properties"]["checks"]["properties"]
    assert schema["$defs"]["module"]["pattern"] == protocol.MODULE.pattern
    assert checks["commands"]["items"]["pattern"] == protocol.COMMAND.pattern
    assert entry["parameters"]["propertyNames"]["pattern"] == protocol.IDENTIFIER.pattern
    assert entry["kernel"]["pattern"] == protocol.KERNEL.pattern
    parallel = schema["properties"]["parallel_notebooks"]
    assert parallel["maximum"] == protocol.MAX_PARALLEL
