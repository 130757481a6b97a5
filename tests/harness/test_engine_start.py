"""How the nbclient engine starts kernels: a kernel that dies while starting (as one that lost
a race for its ports does) is started once more; one that keeps dying fails its notebook."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from gradient_runtime_test.harness.engine import Job
from gradient_runtime_test.harness.engine_nbclient import KERNEL_START_ATTEMPTS, NbclientEngine
from gradient_runtime_test.harness.model import Status

pytestmark = pytest.mark.kernel


def _kernelspec(root: Path, name: str, dies: int) -> Path:
    """A kernelspec whose first `dies` starts exit at once; each start adds a line to `starts`."""
    starts = root / f"{name}.starts"
    folder = root / "kernels" / name
    folder.mkdir(parents=True)
    script = folder / "start.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"echo start >> '{starts}'\n"
        f"if [ \"$(wc -l < '{starts}')\" -le {dies} ]; then exit 1; fi\n"
        f"exec '{sys.executable}' -m ipykernel_launcher -f \"$1\"\n"
    )
    spec = {
        "argv": ["/bin/sh", str(script), "{connection_file}"],
        "display_name": name,
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return starts


def _job(tmp_path: Path, kernel: str) -> Job:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    return Job(json.loads(json.dumps(nb)), kernel, str(tmp_path), dict(os.environ))


def test_a_kernel_that_dies_while_starting_is_started_once_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = _kernelspec(tmp_path, "dies-once", dies=1)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    (outcome,) = NbclientEngine().execute(_job(tmp_path, "dies-once"))
    assert outcome.failure is None, outcome.failure
    assert starts.read_text().count("start") == 2
    assert outcome.nb["cells"][0]["outputs"][0]["text"] == "42\n"


def test_a_kernel_that_keeps_dying_fails_its_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = _kernelspec(tmp_path, "always-dies", dies=99)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    (outcome,) = NbclientEngine().execute(_job(tmp_path, "always-dies"))
    assert outcome.failure is not None
    assert outcome.failure.status is Status.FAILED
    assert outcome.failure.ename == "KernelStartError"
    assert "died before replying" in outcome.failure.evalue
    assert starts.read_text().count("start") == KERNEL_START_ATTEMPTS
