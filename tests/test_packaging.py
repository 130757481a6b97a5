"""Installable as a tool: `overrides.txt` (for `uv tool install --overrides`) says what
`[tool.uv] override-dependencies` says, ships in the sdist, and a wheel built with `uv build`
installs into a fresh uv tool environment with it (and cannot without it) and runs."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _requirements(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_overrides_txt_is_the_uv_override_dependencies() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    expected = pyproject["tool"]["uv"]["override-dependencies"]
    assert _requirements((ROOT / "overrides.txt").read_text()) == expected
    assert len(expected) >= 4


@contextlib.contextmanager
def _serving(folder: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _uv(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    return subprocess.run(
        [uv, *args], env=env, capture_output=True, text=True, timeout=600, check=check
    )


@pytest.mark.slow
def test_the_wheel_installs_as_a_uv_tool_with_the_overrides(tmp_path: Path) -> None:
    mine = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "UV_TOOL_DIR", "UV_TOOL_BIN_DIR", "UV_PYTHON")
    env = {k: v for k, v in os.environ.items() if k not in mine}  # the user's index settings stay
    env |= {"UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin")}
    dist = tmp_path / "dist"
    _uv("build", "--quiet", "--out-dir", str(dist), str(ROOT), env=env)  # sdist, then its wheel
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"overrides.txt", "pyproject.toml", "uv.lock"} <= names
    (wheel,) = dist.glob("*.whl")
    python = ["--python", sys.executable]

    refused = _uv("tool", "install", *python, str(wheel), env=env, check=False)
    assert refused.returncode != 0 and "pyyaml==5.3.1" in refused.stderr  # why overrides exist
    _uv(
        "tool", "install", *python, str(wheel), "--overrides", str(ROOT / "overrides.txt"), env=env
    )  # fmt: skip

    # the README's form: the overrides file read from a URL (here a local server)
    url_env = env | {"UV_TOOL_DIR": str(tmp_path / "t2"), "UV_TOOL_BIN_DIR": str(tmp_path / "b2")}
    with _serving(ROOT) as base:
        _uv(
            "tool",
            "install",
            *python,
            str(wheel),
            "--overrides",
            f"{base}/overrides.txt",
            env=url_env,
        )
    assert (tmp_path / "b2" / "grt").is_file()

    grt = tmp_path / "bin" / "grt"
    tool_python = tmp_path / "tools" / "gradient-runtime-test" / "bin" / "python"

    def run(*argv: str | Path) -> str:
        proc = subprocess.run(
            [*map(str, argv)], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    assert run(grt, "--version").startswith("grt ")
    assert run(grt, "validate", "--matrices", ROOT / "matrices").startswith("OK: 12 runtimes")
    assert run(tool_python, "-m", "gradient_runtime_test", "--version").startswith("grt ")
    # the SDK itself imports with the lifted pins
    versions = run(
        tool_python,
        "-c",
        "import importlib.metadata as m, gradient; print(m.version('pyyaml'), m.version('gradient'))",
    ).split()
    assert int(versions[0].split(".")[0]) >= 6 and versions[1].startswith("2.99")
