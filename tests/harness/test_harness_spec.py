"""Parsing the spec the orchestrator hands the harness."""

from __future__ import annotations

from typing import Any

import pytest

from gradient_runtime_test.harness import protocol
from gradient_runtime_test.harness import spec as spec_module
from gradient_runtime_test.harness.protocol import Accelerator, Keep, encode_spec_arg
from gradient_runtime_test.harness.spec import SpecError, decode_spec_arg, parse_spec

PROTOCOL_EXAMPLE: dict[str, Any] = {
    "schema": 1,
    "bundle_id": "c0ffee12",
    "runtime": "PyTorch 1.12",
    "machine": {
        "name": "A4000",
        "accelerator": "gpu",
        "count": 1,
        "model": "A4000",
        "memory_gb": 16,
    },
    "workspace": "/notebooks",
    "checks": {
        "commands": ["git", "curl"],
        "imports": ["numpy"],
        "optional_imports": ["gradient"],
        "gradient_cli": False,
        "min_free_disk_gb": 1,
    },
    "notebooks": [
        {
            "path": "quick_start.ipynb",
            "timeout": 3600,
            "cell_timeout": 600,
            "rerun": False,
            "skip": None,
            "parameters": {"epochs": 1},
            "check_exit_codes": True,
            "kernel": None,
            "allow_errors": None,
        }
    ],
    "keep": "never",
    "caps": {"output_chars": 20000, "notebook_chars": 500000, "bundle_chars": 4000000},
    "gpu_sample_interval_s": 1.0,
}


def test_protocol_example_parses() -> None:
    spec = parse_spec(PROTOCOL_EXAMPLE)
    assert spec.bundle_id == "c0ffee12"
    assert spec.machine.accelerator is Accelerator.GPU
    assert spec.machine.describe() == "1 x A4000 (16 GB)"
    assert spec.checks.commands == ("git", "curl")
    entry = spec.notebooks[0]
    assert (entry.test_name, entry.timeout, entry.parameters) == (
        "notebooks/quick_start.ipynb",
        3600,
        {"epochs": 1},
    )
    assert spec.keep is Keep.NEVER
    assert spec.caps.bundle_chars == 4000000


def test_base64_round_trip() -> None:
    assert decode_spec_arg(encode_spec_arg(PROTOCOL_EXAMPLE)) == PROTOCOL_EXAMPLE


def test_not_base64() -> None:
    with pytest.raises(SpecError, match="not base64"):
        decode_spec_arg("!!!")


def test_minimal_spec_gets_defaults() -> None:
    spec = parse_spec({"schema": 1, "bundle_id": "abc", "notebooks": ["a.ipynb"]})
    assert spec.machine.accelerator is Accelerator.CPU
    assert spec.workspace == "/notebooks"
    entry = spec.notebooks[0]
    assert (
        entry.timeout,
        entry.cell_timeout,
        entry.check_exit_codes,
        entry.kernel,
        entry.allow_errors,
    ) == (3600, None, True, None, None)
    assert spec.caps.output_chars == 20000


def test_skip_true_gets_a_reason() -> None:
    spec = parse_spec({"schema": 1, "bundle_id": "abc", "notebooks": [{"path": "a", "skip": True}]})
    assert spec.notebooks[0].skip == "skipped by the matrix"


def test_all_problems_reported_at_once() -> None:
    bad = dict(
        PROTOCOL_EXAMPLE,
        keep="sometimes",
        extra=1,
        machine={"accelerator": "tpu", "count": -1},
        notebooks=[{"path": "a", "timeout": "long", "parameters": {"not valid": 1}}, {"x": 1}],
    )
    with pytest.raises(SpecError) as info:
        parse_spec(bad)
    problems = "\n".join(info.value.problems)
    for fragment in (
        "spec.keep: invalid value 'sometimes' (valid: never, failed, always)",
        "spec: unknown key 'extra'",
        "spec.machine.accelerator: invalid value 'tpu'",
        "spec.machine.count",
        "spec.notebooks[0].timeout: expected a number",
        "'not valid' is not a Python identifier",
        "spec.notebooks[1]: unknown key 'x'",
        "spec.notebooks[1].path: missing",
    ):
        assert fragment in problems
    assert info.value.bundle_id == "c0ffee12"  # still usable to frame an error bundle


def test_bad_bundle_id_is_not_kept() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(dict(PROTOCOL_EXAMPLE, bundle_id="has space"))
    assert info.value.bundle_id is None


def test_duplicate_notebooks() -> None:
    with pytest.raises(SpecError, match="listed twice"):
        parse_spec(dict(PROTOCOL_EXAMPLE, notebooks=["a.ipynb", {"path": "a.ipynb"}]))


def test_wrong_schema() -> None:
    with pytest.raises(SpecError, match=r"spec.schema: expected 1, got 2"):
        parse_spec(dict(PROTOCOL_EXAMPLE, schema=2))


def test_every_record_field_has_a_rule() -> None:
    for record in (protocol.Spec, protocol.Machine, protocol.Checks, protocol.NotebookEntry):
        assert tuple(spec_module._RULES[record]) == protocol.field_names(record), record
    assert tuple(spec_module._RULES[protocol.Caps]) == protocol.field_names(protocol.Caps)


def test_null_only_where_the_default_is_null() -> None:
    nullable = dict(
        PROTOCOL_EXAMPLE,
        machine=dict(PROTOCOL_EXAMPLE["machine"], model=None, memory_gb=None),
        notebooks=[{"path": "a.ipynb", "skip": None, "kernel": None}],
    )
    parsed = parse_spec(nullable)
    assert (parsed.machine.model, parsed.notebooks[0].kernel) == (None, None)
    with pytest.raises(SpecError) as info:
        parse_spec(dict(PROTOCOL_EXAMPLE, notebooks=[{"path": "a.ipynb", "timeout": None}]))
    assert info.value.problems == ["spec.notebooks[0].timeout: expected a number, got None"]


def test_a_gpu_machine_without_a_count_expects_one() -> None:
    parsed = parse_spec(dict(PROTOCOL_EXAMPLE, machine={"name": "A4000", "accelerator": "gpu"}))
    assert parsed.machine.count == 1
    assert parse_spec(dict(PROTOCOL_EXAMPLE, machine={"name": "C5"})).machine.count == 0


def test_an_empty_notebook_path_is_a_problem() -> None:
    with pytest.raises(SpecError, match=r"spec.notebooks\[0\].path: invalid value ''"):
        parse_spec(dict(PROTOCOL_EXAMPLE, notebooks=[""]))


def test_written_spec_reads_back_the_same() -> None:
    parsed = parse_spec(PROTOCOL_EXAMPLE)
    assert parse_spec(protocol.to_json(parsed)) == parsed
