"""Shared pieces of the hardening campaign: running `grt` in-process, matrices and workspaces to
run, and result bundles for the fake Paperspace API to replay instead of running the harness."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gradient_runtime_test.cli import main
from gradient_runtime_test.harness.bundle import encode_lines
from gradient_runtime_test.harness.protocol import ANY, RERUN, expected_tests
from gradient_runtime_test.harness.spec import parse_spec
from tests.carried import carried_spec
from tests.conftest_paperspace import grt_environment
from tests.fakes.github import FakeGitHub
from tests.fakes.paperspace import FakeNotebook, FakePaperspace, Faults
from tests.fakes.paperspace.faults import Rule

REPO = Path(__file__).resolve().parents[2]
WORKSPACE_URL = "https://github.com/hardening/workspace"
PROJECT = "prj0hard"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
# `grt: <runtime> on <machine> [<bundle id>]`: how providers/naming.py names every notebook.
NOTEBOOK_NAME = re.compile(r"^grt: (?P<runtime>.*) on (?P<machine>\S+) \[(?P<bundle>[0-9a-f]+)\]$")

MACHINES = """\
machines:
  C5: {accelerator: cpu}
  C7: {accelerator: cpu}
  A4000: {accelerator: gpu, count: 1, model: A4000, memory_gb: 16, price_per_hour: 0.76}
"""
RUNTIME = """\
name: Hardened
container: paperspace/gradient-base:pt112
workspace: https://github.com/hardening/workspace
machines: [C5, C7]
notebooks: [hello.ipynb]
"""


@dataclasses.dataclass(frozen=True)
class Result:
    """What one in-process `grt` call did."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def grt(argv: Sequence[str], env: Mapping[str, str]) -> Result:
    """`grt ARGV` in this process (no interpreter start-up, no SDK import per call). An uncaught
    exception propagates: that is the traceback a user would have seen."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv), env=dict(env))
        except SystemExit as exc:  # argparse: usage error
            code = exc.code if isinstance(exc.code, int) else 2
    return Result(code, out.getvalue(), err.getvalue())


def start_grt_process(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """`grt ARGV` in its own process: for SIGKILL, which no in-process test can survive."""
    return subprocess.Popen(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def gradient_env(fake: FakePaperspace, api_key: str, **extra: str) -> dict[str, str]:
    """The environment of a `grt` pointed at the fake, tuned for tests (short polls, fast
    retries)."""
    tuning = {
        "GRT_POLL_INTERVAL": "0.05",
        "GRT_UNAVAILABLE_DELAY": "0.1",
        "GRT_RETRY_BACKOFF": "0.02",
        "GRT_STARTUP_TIMEOUT": "30",
    }
    return grt_environment(fake, api_key=api_key, project=PROJECT, **{**tuning, **extra})


def write_matrices(
    root: Path, runtime: str | bytes = RUNTIME, *, machines: str = MACHINES, name: str = "hardened"
) -> Path:
    """`root/matrices` with machines.yaml and one runtime file (text or raw bytes)."""
    matrices = root / "matrices"
    (matrices / "runtimes").mkdir(parents=True, exist_ok=True)
    (matrices / "machines.yaml").write_text(machines)
    file = matrices / "runtimes" / f"{name}.yaml"
    if isinstance(runtime, bytes):
        file.write_bytes(runtime)
    else:
        file.write_text(runtime, encoding="utf-8")
    return matrices


def notebook(*sources: str, parameters: str | None = None) -> str:
    """A Python notebook with these code cells (and a cell tagged `parameters` first, if given)."""
    cells = []
    if parameters is not None:
        cells.append((parameters, ["parameters"]))
    cells.extend((source, []) for source in sources)
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"c{i}",
                    "metadata": {"tags": tags},
                    "outputs": [],
                    "source": source,
                }
                for i, (source, tags) in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def make_workspace(root: Path, files: Mapping[str, str]) -> Path:
    """A git repository holding `files` (relative path -> text): what a runtime's workspace is."""
    repo = root / "workspace-repo"
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "."], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "workspace"], cwd=repo, check=True)
    return repo


# --- replayed bundles ---------------------------------------------------------------------------


def spec_of(notebook: FakeNotebook) -> dict[str, Any]:
    """The harness spec carried by a notebook's command (tests/carried.py)."""
    return carried_spec(notebook.spec.command or "")


def bundle_id_of(notebook: FakeNotebook) -> str:
    match = NOTEBOOK_NAME.match(notebook.name)
    assert match, notebook.name
    return match.group("bundle")


def answering(spec: Mapping[str, Any], *, failing: str | None = None) -> list[dict[str, Any]]:
    """The tests a healthy harness reports for `spec`: every name it asks for
    (`protocol.expected_tests`), passed, skipped notebooks skipped; `failing` names a notebook
    that fails."""
    parsed = parse_spec(spec)
    skipped = {e.test_name for e in parsed.notebooks if e.skip}
    skipped |= {name + RERUN for name in skipped}
    tests: list[dict[str, Any]] = []
    for wanted in expected_tests(parsed).required:
        name = wanted.replace(ANY, "sanity")  # checks/cuda.* on a GPU machine
        failed = name == f"notebooks/{failing}"
        tests.append(
            {
                "name": name,
                "status": "failed" if failed else "skipped" if name in skipped else "passed",
                "duration_s": 1.5 if name.startswith("notebooks/") else 0.01,
                "message": "cell 2: ZeroDivisionError: division by zero" if failed else "",
                "details": "Traceback (most recent call last):\n  ...\nZeroDivisionError"
                if failed
                else "",
            }
        )
    return tests


def payload(
    bundle_id: str, spec: Mapping[str, Any], *, failing: str | None = None
) -> dict[str, Any]:
    """A harness result as the harness would report it for `spec` (see `answering`)."""
    return {
        "schema": 1,
        "harness_version": "replayed",
        "bundle_id": bundle_id,
        "started_at": "2024-05-01T10:00:00Z",
        "finished_at": "2024-05-01T10:00:07Z",
        "environment": {"python": "3.11.9", "machine": spec["machine"]["name"], "gpus": []},
        "metrics": {"gpu_util_max_pct": 0},
        "tests": answering(spec, failing=failing),
        "notebooks": {},
    }


# Log lines of a busy notebook: replayed before the bundle, they keep it running a while.
CHATTER = tuple(f"[I ServerApp] line {i} of a busy notebook" for i in range(15))


def replay(
    *,
    before: Sequence[str] = ("[I ServerApp] Jupyter Server 2.14.2 is running at:",),
    after: Sequence[str] = (),
    failing: str | None = None,
    mangle: Callable[[list[str]], list[str]] | None = None,
) -> Callable[[FakeNotebook], str]:
    """A `Faults.replay_log`: the log a healthy harness prints for the notebook's own spec and
    bundle id (`mangle` edits the bundle lines: truncate, corrupt, drop)."""

    def log(nb: FakeNotebook) -> str:
        spec = spec_of(nb)
        bundle_id = bundle_id_of(nb)
        assert spec["bundle_id"] == bundle_id
        lines = encode_lines(payload(bundle_id, spec, failing=failing), bundle_id, spec["nonce"])
        if mangle is not None:
            lines = mangle(lines)
        return "\n".join([*before, *lines, *after]) + "\n"

    return log


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"not reached within {timeout} s: {what}")


def results(out: Path) -> dict[str, dict[str, Any]]:
    """results.json's cells by machine."""
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {cell["machine"]: cell for cell in data["cells"]}


def live_notebooks(fake: FakePaperspace) -> list[FakeNotebook]:
    """Notebooks that still cost money: not ended and not deleted."""
    return [nb for nb in fake.notebooks.values() if nb.active]


def asked(*fakes: FakePaperspace | FakeGitHub) -> list[str]:
    """Every request the fakes received (empty when nothing was asked of them)."""
    seen: list[str] = []
    for fake in fakes:
        if isinstance(fake, FakePaperspace):
            seen += [f"paperspace {r.method} {r.path}" for r in fake.requests]
        else:
            seen += [f"github {r.method} {r.path}" for r in fake.requests()]
    return seen


# --- scripted faults ----------------------------------------------------------------------------

CREATE = "/notebooks/v2/createNotebook"
TAG = "/entityTags/updateTags"
LIST = "/notebooks/getNotebooks"
GET = "/notebooks/getNotebook"
LOGS = "/jobs/logs"
STOP = "/notebooks/v2/stopNotebook"
DELETE = "/notebooks/v2/deleteNotebook"
METRICS = "/metrics/api/v1/range"


@dataclasses.dataclass
class Script:
    """One scripted fault: on requests to exactly `path`, while `when()` holds (default: always),
    at most `times` times and for at most `seconds` after it first fired.

    `kind`: "status" (answer `status`/`body` without processing), "drop" (close the connection
    without processing), "lost" (process, then close the connection: the answer is lost),
    "delay" (hold the request `delay_s` seconds, then process it normally). With `latch`, once
    `when()` has held it is not asked again (the fault lasts from that phase on)."""

    path: str
    kind: str
    times: int | None = None
    seconds: float | None = None
    when: Callable[[], bool] | None = None
    status: int = 503
    body: bytes = b""
    delay_s: float = 0.0
    latch: bool = False
    fired: int = 0
    first_at: float | None = None

    def applies(self, path: str, now: float) -> bool:
        if path != self.path or (self.times is not None and self.fired >= self.times):
            return False
        started = self.first_at
        if self.seconds is not None and started is not None and now - started >= self.seconds:
            return False
        if self.when is None or (self.latch and started is not None):
            return True
        return self.when()


@dataclasses.dataclass
class ScriptedFaults(Faults):
    """The fake's fault knobs plus scripted request faults (`script`), counted in `injected`.
    Assign it to a running fake: `fake.faults = ScriptedFaults()` (read at every request)."""

    scripts: list[Script] = dataclasses.field(default_factory=list)
    injected: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    def script(self, path: str, kind: str, **options: Any) -> Script:
        entry = Script(path, kind, **options)
        with self._lock:
            self.scripts.append(entry)
        return entry

    def take_rule(self, path: str) -> Rule | None:
        now = time.monotonic()
        delay = 0.0
        rule = None
        with self._lock:
            for entry in self.scripts:
                if not entry.applies(path, now):
                    continue
                entry.fired += 1
                entry.first_at = now if entry.first_at is None else entry.first_at
                if entry.kind == "delay":
                    delay = max(delay, entry.delay_s)
                    continue
                self.injected[f"{entry.kind} {path}"] += 1
                rule = _rule(path, entry.kind, entry.status, entry.body)
                break
        if delay:
            time.sleep(delay)  # in the request's own thread: the request is held, not the fake
        return rule or super().take_rule(path)


def _rule(path: str, kind: str, status: int = 503, body: bytes = b"") -> Rule:
    if kind == "status":
        return Rule(path, 0, "status", status=status, body=body)
    return Rule(path, 0, "drop", after_processing=kind == "lost")


def any_notebook(fake: FakePaperspace, *states: str) -> Callable[[], bool]:
    """A `when` for scripts: some notebook is in one of `states` now."""

    def check() -> bool:
        return any(nb.state in states and not nb.deleted for nb in fake.notebooks.values())

    return check
