"""The harness on the oldest Pythons it supports, its fallback engine, and its size.

The 3.8 and 3.9 runs use pyenv interpreters in venvs with their own nbclient/ipykernel (see
conftest.py); they run the zipapp exactly as a runtime would, with a minimal environment.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gradient_runtime_test.command import notebook_command, notebook_spec
from gradient_runtime_test.harness.bundle import decode
from gradient_runtime_test.harness.pack import build_pyz
from gradient_runtime_test.harness.protocol import Accelerator, Checks, Keep
from gradient_runtime_test.matrix.model import Machine, Runtime
from tests.harness.conftest import Runs, ensure_pyenv_venv
from tests.harness.helpers import REPO, HarnessRun

HARNESS_SRC = REPO / "src" / "gradient_runtime_test" / "harness"

# the harness runs are shared: with pytest-xdist, ``--dist loadgroup`` keeps them on one worker
pytestmark = pytest.mark.xdist_group("grt-harness-runs")


@pytest.mark.kernel
@pytest.mark.parametrize("minor", ["3.8", "3.9"])
def test_key_behaviours_on_old_pythons(run_named: Callable[[str], HarnessRun], minor: str) -> None:
    run = run_named(minor)
    assert run.returncode == 0, run.stderr
    env = run.payload["environment"]
    assert env["python"].startswith(minor + ".")
    kernel = run.test("checks/python.kernel")
    assert kernel["status"] == "passed", kernel["message"]
    assert env["kernel_python"].startswith(minor + ".")
    expected = {
        "checks/command.sh": "passed",
        "checks/python.python3": "passed",
        "checks/python.kernel": "passed",
        "checks/import.json": "passed",
        "checks/import.another_missing_module": "skipped",
        "checks/disk.free": "passed",
        "notebooks/nested/pass.ipynb": "passed",
        "notebooks/nested/pass.ipynb[rerun]": "passed",
        "notebooks/error.ipynb": "failed",
        "notebooks/bang_false.ipynb": "failed",
        "notebooks/cell_timeout.ipynb": "failed",
        "notebooks/hook_error.ipynb": "failed",
        "notebooks/missing_magic.ipynb": "failed",
        "notebooks/sysexit0.ipynb": "passed",
        "notebooks/sysexit0.ipynb[rerun]": "passed",
    }
    got = {name: run.test(name)["status"] for name in expected}
    assert got == expected, {n: run.test(n)["message"] for n in expected if got[n] != expected[n]}
    assert run.test("notebooks/hook_error.ipynb")["message"] == (
        "cell 2 (In [1]): ValueError: shown by a post-execute hook"
    )
    assert run.test("notebooks/missing_magic.ipynb")["message"] == (
        "cell 1 (In [1]): UsageError: Line magic function `%undefined-line-magic` not found."
    )
    assert run.test("notebooks/sysexit0.ipynb")["message"] == (
        "ended early: cell 2 (In [2]) raised SystemExit with a success code"
    )
    assert run.test("notebooks/sysexit0.ipynb[rerun]")["message"].startswith(
        "ended early: cell 2 (In [4])"
    )
    assert run.test("notebooks/error.ipynb")["message"] == "cell 3 (In [3]): ValueError: boom 10"
    assert run.test("notebooks/bang_false.ipynb")["message"] == (
        "cell 2 (In [2]): ExitCodeError: !false exited with code 1"
    )
    assert run.test("notebooks/cell_timeout.ipynb")["message"].startswith(
        "cell 2 (In [2]): CellTimeoutError"
    )


@pytest.mark.kernel
def test_cpu_machine_without_nvidia_smi_passes(run_named: Callable[[str], HarnessRun]) -> None:
    run = run_named("3.8")  # its PATH has no nvidia-smi
    test = run.test("checks/gpu.count")
    assert (test["status"], test["message"]) == (
        "passed",
        "CPU machine: no GPU expected, none visible",
    )
    assert run.test("checks/cuda.sanity")["status"] == "skipped"
    assert "gpus" not in run.payload["environment"]


@pytest.mark.kernel
def test_gpu_checks_and_cuda_probe_on_3_9(run_named: Callable[[str], HarnessRun]) -> None:
    run = run_named("3.9")  # fake nvidia-smi on PATH; no torch/tensorflow/jax in the venv
    assert run.test("checks/gpu.model")["status"] == "passed"
    kernel = run.test("checks/python.kernel")
    assert kernel["status"] == "passed", kernel["message"]
    assert run.test("checks/cuda.sanity")["status"] == "skipped"
    assert run.payload["metrics"]["notebooks/nested/pass.ipynb"]["gpu_samples"] >= 1


@pytest.mark.kernel
def test_end_tree_kept_when_keep_is_always(harness_runs: Runs) -> None:
    harness_runs.get("3.8")
    assert harness_runs.sleepers["3.8"].poll() is None
    assert "keeping the notebook running" in harness_runs.get("3.8").stderr


@pytest.mark.kernel
def test_end_tree_kept_when_keep_is_failed_and_a_test_failed(harness_runs: Runs) -> None:
    harness_runs.get("3.9")
    assert harness_runs.sleepers["3.9"].poll() is None


@pytest.mark.kernel
def test_nbconvert_fallback_engine(run_named: Callable[[str], HarnessRun]) -> None:
    run = run_named("3.9-nbconvert")
    assert run.returncode == 0, run.stderr
    assert run.payload["environment"]["engine"].startswith("nbconvert ")
    # the hidden first cell takes In [1]: prompt numbers run one higher than in Jupyter
    expected = {
        "checks/python.kernel": ("passed", "kernel runs "),
        "checks/import.json": ("passed", "json"),
        "notebooks/nested/pass.ipynb": ("passed", ""),
        "notebooks/nested/pass.ipynb[rerun]": ("passed", ""),
        "notebooks/error.ipynb": ("failed", "cell 3 (In [4]): ValueError: boom 10"),
        "notebooks/bang_false.ipynb": (
            "failed",
            "cell 2 (In [4]): ExitCodeError: !false exited with code 1",
        ),
        "notebooks/kernel_death.ipynb": ("failed", "cell 2: DeadKernelError: "),
        "notebooks/cell_timeout.ipynb": ("failed", "cell 2: CellTimeoutError: "),
        "notebooks/stdin.ipynb": ("failed", "cell 1 (In [2]): StdinNotImplementedError: "),
        "notebooks/hook_error.ipynb": (
            "failed",
            "cell 2 (In [2]): ValueError: shown by a post-execute hook",
        ),
        "notebooks/missing_magic.ipynb": (
            "failed",
            "cell 1 (In [2]): UsageError: Line magic function `%undefined-line-magic` not found.",
        ),
        "notebooks/sysexit0.ipynb": ("passed", "ended early: cell 2 (In [3]) raised SystemExit"),
        "notebooks/sysexit0.ipynb[rerun]": ("passed", "ended early: cell 2 (In [7])"),
        "notebooks/sysexit1.ipynb": (
            "failed",
            "cell 2 (In [3]): SystemExit: 1 (a non-zero exit code fails the notebook)",
        ),
        "notebooks/allow_errors_meta.ipynb": ("passed", ""),
    }
    got = {
        name: (run.test(name)["status"], run.test(name)["message"][: len(message)])
        for name, (_, message) in expected.items()
    }
    assert got == expected
    # hidden cells are gone from what is kept; the injected parameters stay
    cells = run.payload["notebooks"]["nested/pass.ipynb"]["cells"]
    assert [c["source"] for c in cells[:2]] == [
        "# Everything here passes",
        'epochs = 10\nname = "default"',
    ]
    assert cells[2]["metadata"]["tags"] == ["injected-parameters"]
    assert len(cells) == 9
    assert not any("_grt_" in c["source"] for c in cells)
    # cells after a failing one, or after a clean SystemExit, do not run (as with nbclient)
    for path, after in (("error.ipynb", 4), ("sysexit0.ipynb", 2), ("missing_magic.ipynb", 1)):
        later = run.payload["notebooks"][path]["cells"][after:]
        assert [(c["outputs"], c["execution_count"]) for c in later] == [([], None)] * len(later)
    # timing comes from the cells' timestamps and the subprocess's clock
    timing = run.test("notebooks/error.ipynb")["timing"]
    assert {"kernel_start_s", "cells_s", "hidden_s", "shutdown_s", "total_s"} <= set(timing)
    assert 0 < timing["cells_s"] < timing["total_s"]


def test_vermin_says_python_3_8() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            "--target=3.8-",
            "--no-tips",
            "--violations",
            str(HARNESS_SRC),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zipapp_is_small_and_reproducible() -> None:
    data = build_pyz()
    assert data == build_pyz()
    # with docstrings; what travels inside the notebook command is minified and compressed as
    # one stream (tests/test_command.py holds that size). 82,304 with the handover and tree
    # ending (lockdown.py, tree.py) and issue 14's verdict policies.
    assert len(base64.b64encode(data)) < 86_000


def test_harness_imports_nothing_from_the_rest_of_the_package() -> None:
    for path in HARNESS_SRC.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "gradient_runtime_test" not in text, path.name


@pytest.mark.kernel
def test_the_whole_notebook_command_on_python_3_8(tmp_path: Path) -> None:
    """The command as Gradient gets it, run by `/bin/sh -c` with Python 3.8 first on PATH: the
    one-line bootstrap, the spec through the pipe, the `exec` of the Jupyter command, the harness
    ending that process when done (no namespace here: it ends only its own tree)."""
    venv = ensure_pyenv_venv("3.8")
    runtime = Runtime(
        name="Py38",
        slug="py38",
        container="img",
        workspace=None,
        workspace_ref=None,
        machines=("C5",),
        notebooks=(),
        checks=Checks(commands=("sh",), min_free_disk_gb=0),
    )
    machine = Machine(name="C5", accelerator=Accelerator.CPU)
    spec = notebook_spec(
        runtime,
        machine,
        bundle_id="py38cmd",
        keep=Keep.NEVER,
        nonce="n38",
        end_delay_s=0,
        workspace=str(tmp_path),
    )
    stand_in = 'python3 -c "import signal,sys;signal.signal(signal.SIGTERM,lambda*a:sys.exit(0));signal.pause()"'
    command = notebook_command(spec, f"A=1 {stand_in}")
    env = {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        ["/bin/sh", "-c", command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]  # the stand-in ended by the harness's SIGTERM
    payload = decode(proc.stdout, "py38cmd", "n38")
    assert payload["environment"]["python"].startswith("3.8.")
    tests = {t["name"]: t["status"] for t in payload["tests"]}
    assert tests["checks/command.sh"] == "passed" and tests["checks/python.kernel"] == "passed"
    assert payload["environment"]["lockdown"]["non_dumpable"] is True
    assert "ending the notebook: process" in proc.stderr
