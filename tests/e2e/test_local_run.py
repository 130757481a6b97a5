"""`grt run --provider local`: the README's main command, and what becomes of broken results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradient_runtime_test.harness.bundle import encode_lines
from gradient_runtime_test.harness.protocol import ExpectedTests
from gradient_runtime_test.orchestrate import Job, Options, Orchestrator
from gradient_runtime_test.providers.base import Launch, NotebookState
from gradient_runtime_test.providers.local import LocalProvider
from gradient_runtime_test.results import CellStatus
from tests.e2e.workspace import REPO, WORKSPACE_URL, make_matrices, make_workspace
from tests.procs import ends_within, with_argv
from tests.sources.gitrepos import instead_of, user_env

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def test_readme_main_command_runs_the_example(tmp_path: Path) -> None:
    out = tmp_path / "grt-results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradient_runtime_test",
            "run",
            "--matrices",
            "examples/matrices",
            "--runtime",
            "Example",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GRT_POLL_INTERVAL": "0.1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "C5       passed" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    (cell,) = results["cells"]
    names = {t["name"]: t["status"] for t in cell["tests"]}
    assert names["notebooks/magics.ipynb"] == names["notebooks/magics.ipynb[rerun]"] == "passed"
    assert names["notebooks/analysis/summary.ipynb"] == "passed"  # cwd-relative data, parameters
    assert names["checks/import.numpy"] in ("passed", "skipped")  # optional
    for name in ("junit.xml", "summary.md", "logs/C5.log", "notebooks/C5/analysis/summary.ipynb"):
        assert (out / name).is_file(), name
    executed = json.loads((out / "notebooks/C5/magics.ipynb").read_text())
    assert any("shell says hi" in json.dumps(c.get("outputs", [])) for c in executed["cells"])
    assert "| C5 | ✅ passed |" in (out / "summary.md").read_text()


def test_failing_notebook_exits_1_and_names_the_cell(tmp_path: Path) -> None:
    matrices = tmp_path / "matrices"
    shutil.copytree(REPO / "examples" / "matrices", matrices)
    workspace = tmp_path / "workspace"
    shutil.copytree(REPO / "examples" / "workspace", workspace)
    nb = json.loads((workspace / "hello.ipynb").read_text())
    nb["cells"][2]["source"] = "total = sum(range(10))\nassert total == 46, 'off by one'"
    (workspace / "hello.ipynb").write_text(json.dumps(nb))
    # examples/matrices/runtimes/example.yaml's `workspace: ../workspace` is this copy
    out = tmp_path / "out"
    env = {**os.environ, "GRT_POLL_INTERVAL": "0.1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradient_runtime_test",
            "run",
            "--matrices",
            str(matrices),
            "--runtime",
            "Example",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (cell,) = json.loads((out / "results.json").read_text())["cells"]
    hello = next(t for t in cell["tests"] if t["name"] == "notebooks/hello.ipynb")
    assert hello["status"] == "failed"
    assert hello["message"] == "cell 3 (In [2]): AssertionError: off by one"
    assert hello["cell"] == 3
    assert "\x1b[" not in hello["details"]
    assert "AssertionError" in (out / "summary.md").read_text()


def _launch(cell_id: str, command: str) -> Launch:
    return Launch(
        cell_id=cell_id,
        name=cell_id,
        machine="C5",
        container="c",
        command=command,
        environment={},
        workspace=None,
        workspace_ref=None,
        shutdown_timeout_h=1,
        tags=(),
    )


@pytest.mark.parametrize("kind", ["missing", "corrupt", "truncated"])
def test_missing_or_broken_bundle_is_an_error(tmp_path: Path, kind: str) -> None:
    lines = encode_lines(
        {"schema": 1, "tests": [{"name": "checks/x", "status": "passed"}]}, "b1", "nonce1"
    )
    if kind == "corrupt":
        lines[1] = lines[1][:-4] + ("AAAA" if not lines[1].endswith("AAAA") else "BBBB")
    elif kind == "truncated":
        lines = lines[:1] + lines[2:]
    printed = "" if kind == "missing" else "\n".join(lines)
    script = tmp_path / "out.txt"
    script.write_text(printed + "\n")
    provider = LocalProvider(base_env=dict(os.environ), scratch_root=tmp_path)
    job = Job(
        machine="C5",
        launch=_launch("c1", f"echo starting; cat {script}; echo done"),
        bundle_id="b1",
        run_timeout_s=60,
        expected_tests=ExpectedTests(required=("checks/x",)),
        nonce="nonce1",
    )
    try:
        (outcome,) = Orchestrator(provider, Options(poll_interval_s=0.05, log_interval_s=0.0)).run(
            [job]
        )
    finally:
        provider.close()
    assert outcome.result.status == CellStatus.ERROR
    assert "done" in outcome.result.log_tail


@pytest.mark.parametrize("namespace", [True, None], ids=["namespace", "plain"])
def test_local_stop_ends_the_whole_process_tree(tmp_path: Path, namespace: bool | None) -> None:
    import time
    import uuid

    provider = LocalProvider(base_env=dict(os.environ), scratch_root=tmp_path, namespace=namespace)
    token = f"{uuid.uuid4().int % 10**6}.{os.getpid()}"  # `sleep <token>`: found by its argv
    handle = provider.create(_launch("c2", f"sleep 300 & sleep {token} & exec sleep 300"))
    try:
        deadline = time.monotonic() + 10
        while not with_argv(f"sleep\0{token}") and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = with_argv(f"sleep\0{token}")
        provider.stop(handle)
    finally:
        provider.close()
    assert ends_within(child, 10.0), f"process {child} outlived stop()"


def test_without_a_namespace_secrets_in_the_environment_refuse_the_run(tmp_path: Path) -> None:
    from gradient_runtime_test.errors import UsageError
    from gradient_runtime_test.providers.local import namespace_prefix

    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "unshare").write_text("#!/bin/sh\nexit 1\n")
    (stubs / "unshare").chmod(0o755)
    path = f"{stubs}{os.pathsep}{os.environ['PATH']}"
    assert namespace_prefix(path) is None
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "PAPERSPACE_API_KEY"):
        with pytest.raises(UsageError, match=f"{name} is set") as info:
            LocalProvider(base_env={"PATH": path, name: "s3cret"}, scratch_root=tmp_path)
        assert "s3cret" not in info.value.message
    assert list(tmp_path.iterdir()) == [stubs]  # refused before anything was made
    provider = LocalProvider(base_env={"PATH": path, "GH_TOKEN": ""}, scratch_root=tmp_path)
    provider.close()  # no secret (an empty one is none): it runs, without a namespace


def test_a_git_workspace_is_cloned_through_the_users_git_config(tmp_path: Path) -> None:
    """The workspace URL reaches a local repository only through `url.<local>.insteadOf` in the
    user's global git config, as a mirror or a credential helper would: grt's clone must use it."""
    repo = make_workspace(tmp_path)
    matrices = make_matrices(tmp_path, machines="[C5]", notebooks="[hello.ipynb]")
    home = tmp_path / "home"
    user = user_env(home)
    instead_of(user, WORKSPACE_URL, repo)
    out = tmp_path / "out"
    args = ["run", "--matrices", str(matrices), "--runtime", "E2E Runtime"]
    args += ["--provider", "local", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "GRT_POLL_INTERVAL": "0.1",
            "HOME": user["HOME"],
            "GIT_CONFIG_GLOBAL": user["GIT_CONFIG_GLOBAL"],
            "GIT_CONFIG_NOSYSTEM": "1",
        },
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (cell,) = json.loads((out / "results.json").read_text())["cells"]
    assert cell["status"] == "passed", cell
    assert {t["name"]: t["status"] for t in cell["tests"]}["notebooks/hello.ipynb"] == "passed"


@pytest.mark.parametrize("ends", ["by itself", "on stop"])
def test_the_process_group_is_signalled_only_while_its_leader_is_unreaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ends: str
) -> None:
    """After a reap, the leader's pid (the group's id) can go to another process, which a late
    killpg would hit: every group signal must come while the leader is still ours (a zombie)."""
    import time

    signalled: list[tuple[int, str]] = []
    real_killpg = os.killpg

    def killpg(pgid: int, sig: int) -> None:
        try:
            state = Path(f"/proc/{pgid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "gone"
        signalled.append((sig, state))
        real_killpg(pgid, sig)

    monkeypatch.setattr(os, "killpg", killpg)
    provider = LocalProvider(base_env=dict(os.environ), scratch_root=tmp_path, namespace=None)
    command = "exit 0" if ends == "by itself" else "exec sleep 300"
    handle = provider.create(_launch("c3", command))
    try:
        deadline = time.monotonic() + 10
        if ends == "by itself":
            while provider.states([handle])[handle.notebook_id] is not NotebookState.STOPPED:
                assert time.monotonic() < deadline, "the notebook did not end"
                time.sleep(0.05)
            time.sleep(0.2)
            # still STOPPED when asked again, and not reaped by the asking
            assert provider.states([handle])[handle.notebook_id] is NotebookState.STOPPED
        provider.stop(handle)
        provider.delete(handle)  # stops again: nothing left to signal
    finally:
        provider.close()
    assert signalled, "stop() signalled nothing"
    assert all(state != "gone" for _, state in signalled), signalled
