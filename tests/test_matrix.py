"""Matrix loading and validation: the shipped matrices, and a corpus of broken files."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gradient_runtime_test.cli import main
from gradient_runtime_test.errors import MatrixError
from gradient_runtime_test.harness.protocol import Accelerator
from gradient_runtime_test.matrix.load import load_catalogue
from gradient_runtime_test.matrix.model import ENV_REFUSED, env_refusal

ROOT = Path(__file__).resolve().parents[1]
MATRICES = ROOT / "matrices"
CORPUS = Path(__file__).parent / "matrix_corpus"
SMALL_MACHINES = """\
machines:
  C5: {accelerator: cpu}
  A4000: {accelerator: gpu, count: 1, model: A4000, memory_gb: 16}
  A6000x2: {accelerator: gpu, count: 2, model: A6000, memory_gb: 48}
  Free-IPU-POD16: {accelerator: ipu, count: 16}
"""
CASES = sorted(CORPUS.glob("*.yaml"))


def _matrices(tmp_path: Path, machines: str = SMALL_MACHINES) -> Path:
    root = tmp_path / "m"
    (root / "runtimes").mkdir(parents=True)
    (root / "machines.yaml").write_text(machines)
    return root


def _problems(root: Path) -> list[str]:
    with pytest.raises(MatrixError) as info:
        load_catalogue(root, display_base=root)
    return info.value.problems


def test_shipped_matrices_load() -> None:
    catalogue = load_catalogue(MATRICES)
    names = {r.name for r in catalogue.runtimes}
    assert len(names) == 12
    assert {"PyTorch 1.12", "TensorFlow 2.9.1", "Paperspace + Fast.AI", "Stable Diffusion"} <= names
    seed = yaml.safe_load((ROOT / "tests" / "data" / "seed_machines.yaml").read_text())
    every_seed_machine = {m for family in seed["machine_families"].values() for m in family}
    assert every_seed_machine | {"M4000", "H100"} <= set(catalogue.machines)
    assert catalogue.machines["A6000x4"].count == 4
    assert catalogue.machines["C5"].accelerator == Accelerator.CPU
    ipu = catalogue.runtime("PyTorch on IPU")
    assert ipu.cluster_required and ipu.machines == ("Free-IPU-POD16",)
    assert "gradient" in catalogue.runtime("NVIDIA RAPIDS").checks.optional_imports


@pytest.mark.parametrize("schema_name", ["runtime", "machines"])
def test_shipped_files_reference_and_satisfy_the_json_schema(schema_name: str) -> None:
    schema = json.loads((MATRICES / "schema" / f"{schema_name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    files = (
        [MATRICES / "machines.yaml"]
        if schema_name == "machines"
        else sorted((MATRICES / "runtimes").glob("*.yaml"))
    )
    for file in files:
        text = file.read_text()
        assert text.startswith("# yaml-language-server: $schema="), file
        ref = text.splitlines()[0].split("$schema=")[1]
        assert (file.parent / ref).resolve() == (
            MATRICES / "schema" / f"{schema_name}.schema.json"
        ).resolve()
        jsonschema.validate(yaml.safe_load(text), schema)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_file_gives_its_exact_messages(case: Path, tmp_path: Path) -> None:
    root = _matrices(tmp_path)
    shutil.copy(case, root / "runtimes" / case.name)
    expected = [
        line.removeprefix("# expect: ").replace("{file}", f"runtimes/{case.name}")
        for line in case.read_text().splitlines()
        if line.startswith("# expect: ")
    ]
    assert expected, f"{case} declares no expected message"
    assert _problems(root) == expected


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.stem
        not in {
            "duplicate-key",
            "billion-laughs",
            "cell-longer",
            "expected-failure-machine",
            "misspelt-machine",
            "several-problems",
        }
    ],
    ids=lambda c: c.stem,
)
def test_schema_rejects_what_validate_rejects(case: Path) -> None:
    """Editors validating with the JSON Schema agree with `grt validate` on shape errors."""
    schema = json.loads((MATRICES / "schema" / "runtime.schema.json").read_text())
    try:
        data = yaml.safe_load(case.read_bytes())
    except yaml.YAMLError:
        return  # not YAML at all: no schema check applies
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_all_problems_across_files_are_reported_at_once(tmp_path: Path) -> None:
    root = _matrices(tmp_path)
    (root / "runtimes" / "one.yaml").write_text("name: A\ncontainer: x/y\nmachines: [C6]\n")
    (root / "runtimes" / "two.yaml").write_text(
        "name: A\ncontainer: x/y\nmachines: [C5]\nnotebooks: [../x.ipynb]\n"
    )
    (root / "runtimes" / "three.yaml").write_text("name: A\ncontainer: x/y\nmachines: [C5]\n")
    (root / "runtimes" / "Bad Name.yaml").write_text("name: B\ncontainer: x/y\nmachines: [C5]\n")
    assert _problems(root) == [
        "runtimes/Bad Name.yaml:1: (file): file name 'Bad Name.yaml' is not valid (valid: lower-case letters, digits and '-', ending in .yaml)",
        "runtimes/one.yaml:3: machines[0]: unknown machine 'C6'; did you mean 'C5'? (valid: C5, A4000, A6000x2, Free-IPU-POD16)",
        "runtimes/two.yaml:4: notebooks[0]: '../x.ipynb' escapes the workspace (valid: a path inside it, without '..')",
    ]


def test_duplicate_runtime_names(tmp_path: Path) -> None:
    root = _matrices(tmp_path)
    (root / "runtimes" / "a.yaml").write_text("name: Same\ncontainer: x/y\nmachines: [C5]\n")
    (root / "runtimes" / "b.yaml").write_text("name: Same\ncontainer: x/y\nmachines: [C5]\n")
    assert _problems(root) == [
        "runtimes/b.yaml:1: name: duplicate runtime name 'Same' (also in runtimes/a.yaml)"
    ]


@pytest.mark.parametrize(
    ("machines", "message"),
    [
        (
            "machines:\n  A4000: {accelerator: gpu, count: 1, modle: A4000}\n",
            "machines.yaml:2: machines.A4000.modle: unknown key 'modle'; did you mean 'model'? (valid: accelerator, count, model, memory_gb, price_per_hour, free, description)",
        ),
        (
            "machines:\n  A4000: {accelerator: tpu}\n",
            "machines.yaml:2: machines.A4000.accelerator: unknown accelerator 'tpu'; did you mean 'ipu'? (valid: cpu, gpu, ipu)",
        ),
        (
            "machines:\n  C5: {accelerator: cpu, count: 2}\n",
            "machines.yaml:2: machines.C5.count: a CPU machine has no accelerators (valid: 0 or absent)",
        ),
        (
            "machines:\n  A4000: {accelerator: gpu, price_per_hour: -1}\n",
            "machines.yaml:2: machines.A4000.price_per_hour: -1 is out of range (valid: 0 to 1000)",
        ),
    ],
)
def test_broken_machine_catalogue(tmp_path: Path, machines: str, message: str) -> None:
    root = _matrices(tmp_path, machines)
    (root / "runtimes" / "ok.yaml").write_text("name: A\ncontainer: x/y\nmachines: [A4000]\n")
    assert _problems(root)[0] == message


def test_missing_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(MatrixError) as info:
        load_catalogue(tmp_path / "nope")
    assert "matrices folder not found" in info.value.problems[0]
    (tmp_path / "m").mkdir()
    problems = _problems(tmp_path / "m")
    assert problems == [
        "machines.yaml:1: (file): not found (valid: a machine catalogue)",
        "runtimes:1: (folder): no runtime files (valid: runtimes/<slug>.yaml)",
    ]


def test_notebook_entries_accept_every_option(tmp_path: Path) -> None:
    root = _matrices(tmp_path)
    (root / "runtimes" / "ok.yaml").write_text(
        "name: A\ncontainer: x/y\nmachines: [C5, A4000]\nnotebooks:\n"
        "  - plain.ipynb\n"
        "  - {path: ./sub/b.ipynb, timeout: 120, cell_timeout: 30, rerun: true, parameters: {epochs: 1, lr: 0.1},"
        " check_exit_codes: false, kernel: python3, allow_errors: true}\n"
        "  - {path: c.ipynb, skip: needs a mounted dataset, cell_timeout: null, allow_errors: null}\n"
        "expected_failures:\n  - {machine: A4000, test: notebooks/plain.ipynb, reason: known bug}\n"
    )
    runtime = load_catalogue(root).runtime("A")
    plain, b, c = runtime.notebooks
    # absent (or null) cell_timeout and allow_errors: the notebook's own metadata decides
    assert plain.path == "plain.ipynb" and plain.timeout == 3600 and plain.cell_timeout is None
    assert plain.allow_errors is None
    assert b.path == "sub/b.ipynb" and b.rerun and b.parameters == {"epochs": 1, "lr": 0.1}
    assert (b.timeout, b.cell_timeout, b.check_exit_codes, b.kernel) == (120, 30, False, "python3")
    assert b.allow_errors is True
    assert c.skip == "needs a mounted dataset"
    assert (c.cell_timeout, c.allow_errors) == (None, None)
    assert runtime.expected_failures[0].reason == "known bug"


# --- the environment blocklist: code, README and JSON Schema agree -------------------------------


def _case_insensitive(pattern: str) -> str:
    """A blocklist entry as an ECMA regex without flags (`*` is any text)."""
    return "".join(
        f"[{c.upper()}{c.lower()}]" if c.isalpha() else ".*" if c == "*" else c for c in pattern
    )


def test_the_schema_refuses_the_same_environment_names_as_validate() -> None:
    schema = json.loads((MATRICES / "schema" / "runtime.schema.json").read_text())
    names = schema["properties"]["environment"]["propertyNames"]
    entries = [p for patterns in ENV_REFUSED.values() for p in patterns]
    assert names["not"]["pattern"] == "^(" + "|".join(map(_case_insensitive, entries)) + ")$"
    samples = [
        *(e.replace("*", "X") for e in entries),
        *(e.replace("*", "").lower() or "x" for e in entries),
        "CACHE_DIR",
        "DATASET_DIR",
        "PYTHONUNBUFFERED",
        "MONKEY",
        "KEYBOARD",
        "ENVIRONMENT",
        "TOKENIZERS_PARALLELISM",
    ]
    for name in samples:
        refused_by_schema = not jsonschema.Draft202012Validator(names).is_valid(name)
        assert refused_by_schema == (env_refusal(name) is not None), name
    assert env_refusal("CACHE_DIR") is None and env_refusal("LD_AUDIT") is not None


def test_the_readme_lists_every_refused_environment_name() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("`environment` may not set these names", 1)[1].split("\n\n", 2)[1]
    listed = re.findall(r"`([^`]+)`", section.replace("\n  ", " "))
    entries = [p for patterns in ENV_REFUSED.values() for p in patterns]
    assert [n for n in listed if n in entries] == entries
    for issue_name in (
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "BASH_ENV",
        "ENV",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "NODE_OPTIONS",
        "GIT_SSH_COMMAND",
        "HF_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "OPENAI_API_KEY",
        "DB_PASSWORD",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "PAPERSPACE_API_KEY",
    ):
        assert env_refusal(issue_name) is not None, issue_name


@pytest.mark.parametrize(
    ("workspace", "valid"),
    [
        ("https://github.com/o/r", True),
        ("../workspace", True),
        ("workspace/sub", True),
        ("file:///etc", False),
        ("http://github.com/o/r", False),
        ("/etc", False),
        ("-u", False),
        ("git@github.com:o/r.git", False),
        ("ssh://git@github.com/o/r", False),
    ],
)
def test_workspaces_are_https_urls_or_relative_paths(
    tmp_path: Path, workspace: str, valid: bool
) -> None:
    root = _matrices(tmp_path)
    (root / "runtimes" / "a.yaml").write_text(
        f"name: A\ncontainer: x/y\nmachines: [C5]\nworkspace: {json.dumps(workspace)}\n"
    )
    if valid:
        assert load_catalogue(root).runtimes[0].workspace == workspace
    else:
        assert _problems(root) == [
            f"runtimes/a.yaml:4: workspace: {workspace!r} is not valid (valid: an https:// git URL,"
            " or a path relative to the matrices folder)"
        ]


# --- broken catalogues of every shape: one line per problem, never a traceback --------------------

FUZZ_MACHINES: dict[str, Any] = {
    "machines": {
        "C5": {"accelerator": "cpu"},
        "A4000": {
            "accelerator": "gpu",
            "count": 1,
            "model": "A4000",
            "memory_gb": 16,
            "price_per_hour": 0.76,
            "free": False,
            "description": "d",
        },
    },
    "prices_as_of": "2024-01-01",
}
FUZZ_RUNTIME: dict[str, Any] = {
    "name": "R",
    "description": "d",
    "container": "x/y:1",
    "workspace": "https://github.com/a/b",
    "workspace_ref": "main",
    "machines": ["C5", "A4000"],
    "notebooks": [
        "a.ipynb",
        {
            "path": "b.ipynb",
            "timeout": 100,
            "cell_timeout": 10,
            "rerun": True,
            "skip": "why",
            "parameters": {"x": 1},
            "check_exit_codes": True,
            "kernel": "python3",
        },
    ],
    "command": "jupyter lab",
    "environment": {"A": "b"},
    "cluster_id": "c1",
    "cluster_required": False,
    "shutdown_timeout": 6,
    "checks": {
        "commands": ["git"],
        "imports": ["json"],
        "optional_imports": ["numpy"],
        "gradient_cli": False,
        "min_free_disk_gb": 1,
    },
    "expected_failures": [{"machine": "C5", "test": "notebooks/a.ipynb", "reason": "r"}],
    "partner": False,
    "parallel_notebooks": 2,
}
# Values of every YAML kind, put in place of each value of the files above in turn.
ODD_VALUES = (
    "{}",
    "[]",
    "null",
    "-1",
    "1.5",
    ".nan",
    "true",
    "''",
    "2001-12-14",
    "!!binary aGk=",
    "{a: {b: 1}}",
    "[[1]]",
    "[{}]",
)
PROBLEM_LINE = re.compile(r"^[^\n:]+:\d+: [^\n]*: [^\n]+$")


def _positions(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield from _positions(item, (*path, key))


def _with(value: Any, path: tuple[Any, ...], odd: str) -> str:
    """`value` as YAML, with the value at `path` replaced by the YAML text `odd`."""
    marker = "__ODD__"
    value = copy.deepcopy(value)
    if not path:
        return odd + "\n"
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    return yaml.safe_dump(value, sort_keys=False).replace(marker, odd)


@pytest.mark.parametrize("which", ["machines", "runtime"])
def test_a_catalogue_broken_anywhere_gives_problem_lines_never_a_traceback(
    tmp_path: Path, which: str
) -> None:
    base = FUZZ_MACHINES if which == "machines" else FUZZ_RUNTIME
    root = _matrices(tmp_path, yaml.safe_dump(FUZZ_MACHINES))
    runtime = root / "runtimes" / "r.yaml"
    runtime.write_text(yaml.safe_dump(FUZZ_RUNTIME))
    assert load_catalogue(root).runtimes[0].name == "R"  # the unbroken files are valid
    tried = 0
    for path in _positions(base):
        for odd in ODD_VALUES:
            text = _with(base, path, odd)
            (root / "machines.yaml" if which == "machines" else runtime).write_text(text)
            try:
                load_catalogue(root, display_base=root)
            except MatrixError as exc:
                assert exc.problems and all(PROBLEM_LINE.match(p) for p in exc.problems), (
                    exc.problems
                )
            tried += 1
    assert tried >= 13 * len(ODD_VALUES)


def test_grt_validate_on_an_accelerator_given_as_a_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _matrices(tmp_path, "machines:\n  A4000: {accelerator: {kind: gpu}}\n")
    (root / "runtimes" / "ok.yaml").write_text("name: A\ncontainer: x/y\nmachines: [C5]\n")
    assert main(["validate", "--matrices", str(root)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[0].endswith(
        "machines.yaml:2: machines.A4000.accelerator: must be a string, not a mapping"
        " (valid: cpu, gpu, ipu)"
    )
