"""The JSON Schemas for editors: stable `$id` URLs (this repository's raw files at the `v1` tag),
referenced from every shipped matrix file, and every shipped matrix file valid both for
`check-jsonschema` (a maintained validator, run as users run it) and for `grt validate`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradient_runtime_test.cli import main
from gradient_runtime_test.commands.init import RUNTIME_SCHEMA_URL

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "matrices" / "schema"
RAW = "https://raw.githubusercontent.com/gradient-ai/gradient-runtime-test/v1/"
FOLDERS = [ROOT / "matrices", ROOT / "examples" / "matrices"]
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def _files(kind: str) -> list[Path]:
    if kind == "machines":
        return [folder / "machines.yaml" for folder in FOLDERS]
    return sorted(f for folder in FOLDERS for f in (folder / "runtimes").glob("*.yaml"))


def _check_jsonschema(schema: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(schema), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("kind", ["runtime", "machines"])
def test_schema_ids_are_this_repositorys_raw_files_at_v1(kind: str) -> None:
    schema = SCHEMAS / f"{kind}.schema.json"
    assert json.loads(schema.read_text())["$id"] == RAW + schema.relative_to(ROOT).as_posix()
    assert "uses: gradient-ai/gradient-runtime-test@v1" in (ROOT / "README.md").read_text()


def test_grt_init_references_the_runtime_schema_by_its_id() -> None:
    assert json.loads((SCHEMAS / "runtime.schema.json").read_text())["$id"] == RUNTIME_SCHEMA_URL


@pytest.mark.parametrize("kind", ["runtime", "machines"])
def test_every_shipped_file_references_its_schema(kind: str) -> None:
    for file in _files(kind):
        first = file.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), file
        ref = first.split("$schema=", 1)[1]
        assert (file.parent / ref).resolve() == SCHEMAS / f"{kind}.schema.json", file


@pytest.mark.parametrize("kind", ["runtime", "machines"])
def test_check_jsonschema_accepts_every_shipped_file(kind: str) -> None:
    files = _files(kind)
    assert len(files) >= (13 if kind == "runtime" else 2)
    proc = _check_jsonschema(SCHEMAS / f"{kind}.schema.json", files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok -- validation done" in proc.stdout


def test_check_jsonschema_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    shutil.copy(ROOT / "examples" / "matrices" / "runtimes" / "example.yaml", broken)
    broken.write_text(broken.read_text().replace("machines: [C5]", "machine: [C5]"))
    proc = _check_jsonschema(SCHEMAS / "runtime.schema.json", [broken])
    assert proc.returncode == 1
    assert "'machines' is a required property" in proc.stdout


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.relative_to(ROOT).as_posix())
def test_grt_validate_accepts_every_shipped_folder(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--matrices", str(folder)], env={}) == 0
    assert capsys.readouterr().out.startswith("OK: ")
