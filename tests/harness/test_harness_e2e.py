"""The harness end to end: the zipapp run in a subprocess on the fixture notebooks.

One run (started once per session, see conftest.py) covers every notebook behaviour; each test
below reads its part of the bundle.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.harness.conftest import Runs
from tests.harness.helpers import REPO, HarnessRun

# the harness runs are shared: with pytest-xdist, ``--dist loadgroup`` keeps them on one worker
pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("grt-harness-runs")]


def test_prints_a_bundle_and_exits_zero_despite_failures(main_run: HarnessRun) -> None:
    assert main_run.returncode == 0, main_run.stderr
    assert main_run.payload["bundle_id"] == "c0ffee12"
    assert main_run.payload["schema"] == 1
    statuses = {t["status"] for t in main_run.payload["tests"]}
    assert statuses == {"passed", "failed", "error", "skipped"}


def test_bundle_lines_are_short(main_run: HarnessRun) -> None:
    lines = [line for line in main_run.stdout.splitlines() if "GRT-BUNDLE" in line]
    assert lines[0].startswith("GRT-BUNDLE-BEGIN v1 c0ffee12 ")
    assert lines[-1] == "GRT-BUNDLE-END c0ffee12"
    assert max(len(line) for line in lines) <= 1000
    # the 22 MB printout was capped long before the bundle
    assert len(main_run.stdout) < 300_000


def test_progress_goes_to_stderr(main_run: HarnessRun) -> None:
    assert "grt-harness: notebooks/error.ipynb: failed cell 3 (In [3])" in main_run.stderr
    assert "GRT-BUNDLE" not in main_run.stderr


# ---- checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "fragment"),
    [
        ("checks/command.sh", "passed", "/sh"),
        ("checks/command.no-such-command", "failed", "not found on PATH"),
        ("checks/python.python3", "passed", "Python 3."),
        ("checks/python.python", "passed", "Python 3."),
        ("checks/python.kernel", "passed", "as in the terminal"),
        ("checks/import.json", "passed", "json"),
        ("checks/import.no_such_module_xyz", "failed", "ModuleNotFoundError"),
        ("checks/import.another_missing_module", "skipped", "not installed"),
        ("checks/import.broken_optional", "failed", "installed but fails: RuntimeError"),
        ("checks/gradient.cli", "passed", "2.99.4"),
        ("checks/gpu.visible", "passed", "NVIDIA RTX A4000"),
        ("checks/gpu.count", "passed", "1 GPU"),
        ("checks/gpu.model", "passed", "A4000"),
        ("checks/gpu.memory", "passed", "16376 MiB"),
        ("checks/cuda.sanity", "skipped", "none of torch, tensorflow, jax"),
        ("checks/disk.free", "passed", "GB free"),
    ],
)
def test_checks(main_run: HarnessRun, name: str, status: str, fragment: str) -> None:
    test = main_run.test(name)
    assert (test["status"], fragment in test["message"]) == (status, True), test


def test_environment_facts(main_run: HarnessRun) -> None:
    env = main_run.payload["environment"]
    assert env["gpus"] == ["NVIDIA RTX A4000"]
    assert (env["driver"], env["cuda"]) == ("535.104.05", "12.2")
    assert env["kernel_python"] == env["python"]
    assert env["kernel_python_executable"]
    assert env["engine"].startswith("nbclient ")
    assert env["harness_version"] == "0.1.0"
    assert {"hostname", "platform", "python_executable", "disk_free_gb"} <= set(env)


def test_gpu_metrics_sampled_per_notebook(main_run: HarnessRun) -> None:
    metrics = main_run.payload["metrics"]["notebooks/nested/pass.ipynb"]
    assert metrics["gpu_util_peak_pct"] == 37
    assert metrics["gpu_mem_peak_mib"] == 1200
    assert metrics["gpu_samples"] >= 1
    assert "notebooks/missing_kernel.ipynb" not in main_run.payload["metrics"]


# ---- notebooks ------------------------------------------------------------------------------


def executed(run: HarnessRun, path: str) -> dict[str, Any]:
    return dict(run.payload["notebooks"][path])


def outputs_text(nb: dict[str, Any]) -> str:
    return json.dumps([c.get("outputs", []) for c in nb["cells"]])


def test_passing_notebook_with_magics_shell_data_file_and_raises_tag(main_run: HarnessRun) -> None:
    assert main_run.test("notebooks/nested/pass.ipynb")["status"] == "passed"
    text = outputs_text(executed(main_run, "nested/pass.ipynb"))
    assert "shell-ok" in text  # !echo
    assert "Wall time" in text  # %time
    assert "hidden" not in text  # %%capture
    assert "expected by the raises-exception tag" in text


def test_parameters_injected_after_the_parameters_cell(main_run: HarnessRun) -> None:
    cells = executed(main_run, "nested/pass.ipynb")["cells"]
    assert "parameters" in cells[1]["metadata"]["tags"]
    assert cells[2]["metadata"]["tags"] == ["injected-parameters"]
    assert cells[2]["source"] == "# Parameters\nepochs = 2\nname = 'from-spec'\n"
    assert "epochs 2 from-spec" in outputs_text({"cells": cells})


def test_exception_names_cell_and_exception(main_run: HarnessRun) -> None:
    # parameters went on top (no tagged cell): the number is still the cell's place in the file
    test = main_run.test("notebooks/error.ipynb")
    assert test["status"] == "failed"
    assert test["message"] == "cell 3 (In [3]): ValueError: boom 10"
    assert test["cell"] == 3
    assert "ValueError" in test["details"]
    assert "\x1b" not in test["details"]
    cells = executed(main_run, "error.ipynb")["cells"]
    assert cells[0]["metadata"]["tags"] == ["injected-parameters"]
    assert cells[-1]["outputs"] == []  # never ran


def test_failing_shell_command_fails_the_notebook(main_run: HarnessRun) -> None:
    test = main_run.test("notebooks/bang_false.ipynb")
    assert test["status"] == "failed"
    assert test["message"] == "cell 2 (In [2]): ExitCodeError: !false exited with code 1"
    # a JUnit body: the cell's source and output, though there is no traceback
    assert test["details"].startswith("source:\n!false\n\noutput:\n")


def test_exit_code_check_can_be_turned_off(main_run: HarnessRun) -> None:
    assert main_run.test("notebooks/bang_false_allowed.ipynb")["status"] == "passed"


def test_cell_timeout(main_run: HarnessRun) -> None:
    test = main_run.test("notebooks/cell_timeout.ipynb")
    assert test["status"] == "failed"
    assert test["message"].startswith("cell 2 (In [2]): CellTimeoutError: ")
    assert "1 s" in test["message"]
    assert test["details"] == "source:\ntime.sleep(60)\n\noutput:\n(none)"
    assert test["duration_s"] < 30


def test_whole_notebook_timeout(main_run: HarnessRun) -> None:
    test = main_run.test("notebooks/notebook_timeout.ipynb")
    assert test["status"] == "failed"
    assert "NotebookTimeout: notebook did not finish within its 1.2 s limit" in test["message"]
    # where it strikes depends on the machine's load: a cell that was running has its prompt
    assert re.match(r"cell ([3-6])( \(In \[\1\]\))?: NotebookTimeout", test["message"]), test
    assert test["details"].startswith("source:\ntime.sleep(0.5)")
    assert test["duration_s"] < 30


def test_kernel_death(main_run: HarnessRun) -> None:
    test = main_run.test("notebooks/kernel_death.ipynb")
    assert test["status"] == "failed"
    assert test["message"] == "cell 2: DeadKernelError: the kernel died while running this cell"


def test_stdin_is_reported_clearly(main_run: HarnessRun) -> None:
    test = main_run.test("notebooks/stdin.ipynb")
    assert test["status"] == "failed"
    assert test["message"].startswith("cell 1 (In [1]): StdinNotImplementedError: ")
    assert "input()" in test["message"]


@pytest.mark.parametrize("path", ["missing_kernel.ipynb", "kernel_override.ipynb"])
def test_missing_kernelspec_fails(main_run: HarnessRun, path: str) -> None:
    # the runtime lacks the kernel the notebook (or the matrix) names: the runtime is broken
    test = main_run.test("notebooks/" + path)
    assert test["status"] == "failed"
    assert test["message"].startswith("NoSuchKernel: no kernelspec named 'no-such-kernel'")
    assert "available: python3" in test["message"]


def test_broken_json_fails(main_run: HarnessRun) -> None:
    test = main_run.test("notebooks/broken.ipynb")
    assert test["status"] == "failed"
    assert test["message"].startswith("invalid notebook JSON in ")


def test_missing_notebook_is_an_error(main_run: HarnessRun) -> None:
    test = main_run.test("notebooks/does_not_exist.ipynb")
    assert (test["status"], test["message"].startswith("notebook not found")) == ("error", True)


def test_skip_entries(main_run: HarnessRun) -> None:
    for name in ("notebooks/skipped.ipynb", "notebooks/skipped.ipynb[rerun]"):
        test = main_run.test(name)
        assert (test["status"], test["message"]) == ("skipped", "needs a TPU")


def test_huge_output_is_capped(main_run: HarnessRun) -> None:
    assert main_run.test("notebooks/huge.ipynb")["status"] == "passed"
    nb = executed(main_run, "huge.ipynb")
    text = nb["cells"][0]["outputs"][0]["text"]
    assert len(text) <= 2000
    assert "characters cut by gradient-runtime-test" in text
    image_output = nb["cells"][1]["outputs"][0]
    assert "image/png" not in image_output["data"]
    assert image_output["data"]["text/plain"] == "<fake image>"
    assert "small output survives" in outputs_text(nb)
    # marked in the copy, listed on the test (and in the payload's notes)
    assert image_output == nb["cells"][1]["outputs"][0]
    assert nb["cells"][1]["outputs"][1]["text"] == (
        "[cut by gradient-runtime-test: image/png (300,000 characters) dropped:"
        " notebook_chars=100000 used up]\n"
    )
    cut = [
        "cell 1: 1 output(s) truncated to output_chars=2000",
        "cell 2: image/png (300,000 characters) dropped: notebook_chars=100000 used up",
    ]
    assert main_run.test("notebooks/huge.ipynb")["cut"] == cut
    assert main_run.payload["notes"] == ["notebooks[huge.ipynb]: " + c for c in cut]


def test_rerun_in_the_same_kernel(main_run: HarnessRun) -> None:
    assert main_run.test("notebooks/nested/pass.ipynb[rerun]")["status"] == "passed"
    assert main_run.test("notebooks/rerun.ipynb")["status"] == "passed"
    test = main_run.test("notebooks/rerun.ipynb[rerun]")
    assert test["status"] == "failed"
    assert test["message"] == (
        "cell 2 (In [4]): AssertionError: state leaked into the rerun: counter=2"
    )
    assert "rerun.ipynb[rerun]" in main_run.payload["notebooks"]


def test_end_pid_ended_when_keep_is_never(harness_runs: Runs, main_run: HarnessRun) -> None:
    assert harness_runs.sleepers["main"].wait(timeout=10) == -15


def test_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test.harness", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0
    assert "--end-pid" in result.stdout
