"""The notebook command: quoting, size, and the minified harness it carries."""

from __future__ import annotations

import base64
import dataclasses
import json
import shlex
import subprocess
import sys
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

import pytest

from gradient_runtime_test.command import (
    MAX_COMMAND_CHARS,
    harness_archive,
    harness_payload,
    minify,
    notebook_command,
    notebook_spec,
)
from gradient_runtime_test.harness import pack
from gradient_runtime_test.harness.bundle import decode
from gradient_runtime_test.harness.protocol import Accelerator, Checks, Keep, NotebookEntry, to_json
from gradient_runtime_test.matrix.model import Machine, Runtime

EVIL = "Evil $(touch /tmp/grt-canary) `id`; \"q\" 'x'"


def runtime(**kw: object) -> Runtime:
    base = dict(
        name=EVIL,
        slug="evil",
        container="img/x:1",
        workspace=None,
        workspace_ref=None,
        machines=("C5",),
        notebooks=(NotebookEntry(path="a b/$x.ipynb", parameters={"s": 'it\'s "quoted" $(x)'}),),
    )
    base.update(kw)
    return Runtime(**base)  # type: ignore[arg-type]


MACHINE = Machine(name="C5", accelerator=Accelerator.CPU)


def test_metacharacters_travel_literally_inside_the_spec() -> None:
    spec = notebook_spec(runtime(), MACHINE, bundle_id="abc123", keep=Keep.NEVER)
    command = notebook_command(spec, "jupyter lab --ServerApp.allow_origin='*'")
    words = shlex.split(command.split("--spec ", 1)[1])
    decoded = json.loads(base64.b64decode(words[0]))
    assert decoded["runtime"] == EVIL
    assert decoded["notebooks"][0]["parameters"] == {"s": 'it\'s "quoted" $(x)'}
    assert EVIL not in command  # only inside the base64 spec
    assert command.endswith("exec sh -c 'jupyter lab --ServerApp.allow_origin='\"'\"'*'\"'\"''")


def test_bad_bundle_id_is_refused() -> None:
    spec = notebook_spec(runtime(), MACHINE, bundle_id="x; rm -rf /", keep=Keep.NEVER)
    with pytest.raises(ValueError, match="bundle id"):
        notebook_command(spec, "jupyter lab")


def test_command_stays_small() -> None:
    spec = notebook_spec(runtime(), MACHINE, bundle_id="abc123", keep=Keep.NEVER)
    command = notebook_command(spec, "jupyter lab")
    assert len(command) < 48_000 < MAX_COMMAND_CHARS  # well under one argument's 128 KiB limit
    raw = sum(len(v) for v in pack.harness_sources().values())
    assert len(base64.b64decode(harness_payload())) < raw / 4
    assert zlib.decompress(base64.b64decode(harness_payload())) == harness_archive()


def test_archive_is_reproducible_and_minified() -> None:
    assert harness_archive() == pack.build_pyz(minify, compress=False)
    names = zipfile.ZipFile(BytesIO(harness_archive())).namelist()
    assert (
        "__main__.py" in names
        and "grt_harness/bundle.py" in names
        and "grt_harness/pack.py" not in names
    )
    source = zipfile.ZipFile(BytesIO(harness_archive())).read("grt_harness/bundle.py").decode()
    assert '"""' not in source and "#" not in source.split("\n", 1)[0]


def test_minified_harness_needs_nothing_newer_than_python_38(tmp_path: Path) -> None:
    out = tmp_path / "src"
    with zipfile.ZipFile(BytesIO(harness_archive())) as archive:
        archive.extractall(out)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            "--target=3.8-",
            "--no-tips",
            "--violations",
            "--eval-annotations",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def pyenv_python(version: str) -> str | None:
    try:
        prefix = subprocess.run(
            ["pyenv", "prefix", version], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{prefix}/bin/python3"


def test_minified_zipapp_runs_on_python_38(tmp_path: Path) -> None:
    python = pyenv_python("3.8.18")
    if python is None or not Path(python).exists():
        pytest.skip("pyenv Python 3.8.18 is not installed")
    pyz = tmp_path / "h.pyz"
    pyz.write_bytes(harness_archive())
    spec = notebook_spec(
        runtime(notebooks=()), MACHINE, bundle_id="py38", keep=Keep.NEVER, workspace=str(tmp_path)
    )
    spec = dataclasses.replace(spec, checks=Checks(commands=("sh",), min_free_disk_gb=0))
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(to_json(spec)))
    proc = subprocess.run(
        [python, str(pyz), "--spec-file", str(spec_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    payload = decode(proc.stdout, "py38")
    tests = {t["name"]: t["status"] for t in payload["tests"]}
    assert tests["checks/command.sh"] == "passed", proc.stderr[-2000:]
    assert payload["environment"]["python"].startswith("3.8")


@pytest.mark.parametrize(
    ("parallel", "machine", "expected"),
    [
        (None, MACHINE, 0),
        (None, Machine(name="A4000", accelerator=Accelerator.GPU, count=1), 1),
        (3, MACHINE, 3),
    ],
)
def test_parallel_notebooks_reaches_the_spec(
    parallel: int | None, machine: Machine, expected: int
) -> None:
    spec = notebook_spec(
        runtime(parallel_notebooks=parallel), machine, bundle_id="p1", keep=Keep.NEVER
    )
    assert spec.parallel == expected
