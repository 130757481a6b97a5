"""Fixtures for the harness tests.

The end-to-end harness runs (this Python, and the pyenv Pythons 3.8 and 3.9 with their own
nbclient) are started together, in the background, the first time any of them is needed: each
spends most of its time starting kernels, so running them side by side keeps the module fast.

The pyenv environments live outside uv, under ``$GRT_HARNESS_VENVS`` (default
``<tmp>/grt-pyenv-venvs``); ``ensure_pyenv_venv`` creates them once (``python -m venv`` +
``pip install``) and reuses them while their package list is unchanged. pip runs without the
machine's pip configuration (extra local indexes there can make its resolver backtrack for many
minutes); ``GRT_HARNESS_PIP_CONFIG=/path/pip.conf`` uses one. Without pyenv those tests are
skipped, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness.pack import build_pyz
from tests.harness.harness_notebooks import write_workspace
from tests.harness.helpers import HarnessRun, fake_nvidia_smi, make_spec, path_with, write_script

PYENV_PYTHONS = {"3.8": "3.8.18", "3.9": "3.9.18"}
VENV_PACKAGES = {
    "3.8": ["nbclient", "ipykernel"],
    "3.9": ["nbclient", "ipykernel", "nbconvert"],  # nbconvert: the fallback engine's test
}


def venv_root() -> Path:
    return Path(
        os.environ.get("GRT_HARNESS_VENVS") or Path(tempfile.gettempdir()) / "grt-pyenv-venvs"
    )


def _pyenv_prefix(version: str) -> Path | None:
    pyenv = shutil.which("pyenv") or str(Path.home() / ".pyenv" / "bin" / "pyenv")
    if not Path(pyenv).exists():
        return None
    for candidate in (version, version.rsplit(".", 1)[0]):
        result = subprocess.run(
            [pyenv, "prefix", candidate], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip():
            return Path(result.stdout.strip().splitlines()[0])
    return None


def ensure_pyenv_venv(minor: str) -> Path:
    """The venv for Python ``minor`` with ``VENV_PACKAGES[minor]``; created once, then reused."""
    venv = venv_root() / minor
    wanted = " ".join(VENV_PACKAGES[minor]) + "\n"
    ready = venv / ".grt-ready"
    python = venv / "bin" / "python"
    if python.exists() and ready.exists() and ready.read_text() == wanted:
        return venv
    prefix = _pyenv_prefix(PYENV_PYTHONS[minor])
    if prefix is None:
        reason = f"pyenv Python {PYENV_PYTHONS[minor]} not found (`pyenv prefix` failed)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must test the harness on Python " + minor)
        pytest.skip(reason)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".lock-{minor}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest worker may be building it
        if python.exists() and ready.exists() and ready.read_text() == wanted:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([str(prefix / "bin" / "python"), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *VENV_PACKAGES[minor],
            ],
            check=True,
            env=dict(
                os.environ, PIP_CONFIG_FILE=os.environ.get("GRT_HARNESS_PIP_CONFIG", os.devnull)
            ),
            timeout=900,
        )
        ready.write_text(wanted)
    return venv


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_workspace(tmp_path_factory.mktemp("workspace"))


@pytest.fixture(scope="session")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pyz") / "grt-harness.pyz"
    path.write_bytes(build_pyz())
    return path


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bin folder with a fake ``nvidia-smi`` (one RTX A4000) and a fake ``gradient`` CLI."""
    bin_dir = tmp_path_factory.mktemp("tools")
    fake_nvidia_smi(bin_dir)
    write_script(bin_dir / "gradient", 'echo "2.99.4"\n')
    return bin_dir


A4000 = {"name": "A4000", "accelerator": "gpu", "count": 1, "model": "A4000", "memory_gb": 16}

MAIN_NOTEBOOKS: list[Any] = [
    {"path": "nested/pass.ipynb", "parameters": {"epochs": 2, "name": "from-spec"}, "rerun": True},
    {"path": "error.ipynb", "parameters": {"x": 5}},
    "bang_false.ipynb",
    {"path": "bang_false_allowed.ipynb", "check_exit_codes": False},
    {"path": "cell_timeout.ipynb", "cell_timeout": 1},
    {"path": "notebook_timeout.ipynb", "timeout": 1.2},
    "kernel_death.ipynb",
    "stdin.ipynb",
    "missing_kernel.ipynb",
    {"path": "kernel_override.ipynb", "kernel": "no-such-kernel"},
    "broken.ipynb",
    "does_not_exist.ipynb",
    {"path": "skipped.ipynb", "skip": "needs a TPU", "rerun": True},
    "huge.ipynb",
    {"path": "rerun.ipynb", "rerun": True},
]

# what the other Pythons run: the behaviours most likely to differ between versions
KEY_NOTEBOOKS: list[Any] = [
    {"path": "nested/pass.ipynb", "parameters": {"epochs": 2, "name": "from-spec"}, "rerun": True},
    {"path": "error.ipynb", "parameters": {"x": 5}},
    "bang_false.ipynb",
    {"path": "cell_timeout.ipynb", "cell_timeout": 1},
    # verdict policies that lean on IPython's behaviour, which varies between versions
    "hook_error.ipynb",
    "missing_magic.ipynb",
    {"path": "sysexit0.ipynb", "rerun": True},
]
# the engine's own ways: a hidden cell tracks errors and which cells may raise
FALLBACK_NOTEBOOKS: list[Any] = [
    *KEY_NOTEBOOKS,
    "kernel_death.ipynb",
    "stdin.ipynb",
    "sysexit1.ipynb",
    "allow_errors_meta.ipynb",
]
KEY_CHECKS = {
    "commands": ["sh"],
    "imports": ["json"],
    "optional_imports": ["another_missing_module"],
    "gradient_cli": False,
    "min_free_disk_gb": 0,
}


class Runs:
    """The end-to-end harness runs, started together on first use."""

    def __init__(self, tmp: Path, workspace: Path, pyz: Path, tools: Path) -> None:
        self.tmp = tmp
        self.workspace = workspace
        self.pyz = pyz
        self.tools = tools
        self.runs: dict[str, HarnessRun | str] = {}  # a str is why it was not started
        self.sleepers: dict[str, subprocess.Popen[bytes]] = {}

    def _sleeper(self, name: str) -> int:
        self.sleepers[name] = subprocess.Popen(["sleep", "120"])
        return self.sleepers[name].pid

    def _venv(self, minor: str) -> Path | str:
        try:
            return ensure_pyenv_venv(minor)
        except pytest.skip.Exception as exc:
            return str(exc)

    def start(self) -> None:
        if self.runs:
            return
        base_env = dict(os.environ)
        venv_bin = Path(sys.executable).parent
        self.runs["main"] = HarnessRun(
            [
                sys.executable,
                str(self.pyz),
                "--end-pid",
                str(self._sleeper("main")),
                "--end-delay",
                "0",
            ],
            make_spec(
                self.workspace,
                machine=A4000,
                checks={
                    "commands": ["sh", "no-such-command"],
                    "imports": ["json", "no_such_module_xyz"],
                    "optional_imports": ["another_missing_module", "broken_optional"],
                    "gradient_cli": True,
                    "min_free_disk_gb": 0.001,
                },
                notebooks=MAIN_NOTEBOOKS,
            ),
            self.tmp / "main.json",
            dict(base_env, PATH=path_with(self.tools, venv_bin)),
        )
        system_path = "/usr/local/bin:/usr/bin:/bin"
        for minor in ("3.8", "3.9"):
            venv = self._venv(minor)
            if isinstance(venv, str):
                self.runs[minor] = self.runs[minor + "-nbconvert"] = venv
                continue
            python = str(venv / "bin" / "python")
            env = {"HOME": str(self.tmp), "LANG": "C.UTF-8"}
            cpu = minor == "3.8"  # 3.8: a CPU machine without nvidia-smi; 3.9: a GPU machine
            path = (
                path_with(venv / "bin", base=system_path)
                if cpu
                else path_with(venv / "bin", self.tools, base=system_path)
            )
            self.runs[minor] = HarnessRun(
                [python, str(self.pyz), "--end-pid", str(self._sleeper(minor)), "--end-delay", "0"],
                make_spec(
                    self.workspace,
                    machine=make_spec(self.workspace)["machine"] if cpu else A4000,
                    checks=KEY_CHECKS,
                    notebooks=KEY_NOTEBOOKS,
                    keep="always" if cpu else "failed",
                ),
                self.tmp / f"py{minor}.json",
                dict(env, PATH=path),
            )
            if minor == "3.9":
                self.runs["3.9-nbconvert"] = HarnessRun(
                    [python, str(self.pyz), "--engine", "nbconvert"],
                    make_spec(self.workspace, checks=KEY_CHECKS, notebooks=FALLBACK_NOTEBOOKS),
                    self.tmp / "py3.9-nbconvert.json",
                    dict(env, PATH=path_with(venv / "bin", base=system_path)),
                )
            else:
                self.runs["3.8-nbconvert"] = "the nbconvert fallback is tested on Python 3.9"

    def get(self, name: str) -> HarnessRun:
        self.start()
        run = self.runs[name]
        if isinstance(run, str):
            if os.environ.get("CI"):
                pytest.fail(run)
            pytest.skip(run)
        return run.wait()

    def close(self) -> None:
        for run in self.runs.values():
            if isinstance(run, HarnessRun) and run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
        for sleeper in self.sleepers.values():
            if sleeper.poll() is None:
                sleeper.kill()
            sleeper.wait()


@pytest.fixture(scope="session")
def harness_runs(
    tmp_path_factory: pytest.TempPathFactory, workspace: Path, pyz: Path, tools: Path
) -> Iterator[Runs]:
    runs = Runs(tmp_path_factory.mktemp("runs"), workspace, pyz, tools)
    yield runs
    runs.close()


@pytest.fixture(scope="session")
def main_run(harness_runs: Runs) -> HarnessRun:
    return harness_runs.get("main")


@pytest.fixture
def run_named(harness_runs: Runs) -> Callable[[str], HarnessRun]:
    return harness_runs.get
