"""``main()`` in-process with a stand-in runner: spec errors, crashes, the keep policy."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness import __main__ as harness_main
from gradient_runtime_test.harness.__main__ import Effects
from gradient_runtime_test.harness.bundle import BundleMissing, decode
from gradient_runtime_test.harness.model import Recorder
from gradient_runtime_test.harness.protocol import Keep, Result, Spec, Status
from gradient_runtime_test.harness.run import end_notebook, recorded_env, should_end
from tests.harness.helpers import BUNDLE_ID, NONCE, make_spec

# In process: neither lock down the test runner nor kill its children.
INERT = Effects(lock_down=dict, end_leftovers=int)


def main(argv: list[str], **kw: Any) -> int:
    return harness_main.main(argv, effects=INERT, **kw)


def passing(spec: Spec, env: Any, recorder: Recorder, engine_name: str) -> None:
    recorder.add(Result("checks/command.sh", Status.PASSED, "/bin/sh"))


def failing(spec: Spec, env: Any, recorder: Recorder, engine_name: str) -> None:
    recorder.add(Result("notebooks/a.ipynb", Status.FAILED, "cell 1: ValueError: x"))


def crashing(spec: Spec, env: Any, recorder: Recorder, engine_name: str) -> None:
    recorder.add(Result("checks/command.sh", Status.PASSED, "/bin/sh"))
    raise RuntimeError("harness bug")


def unencodable(spec: Spec, env: Any, recorder: Recorder, engine_name: str) -> None:
    recorder.environment["oops"] = object()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def spec_args(tmp_path: Path, **overrides: Any) -> list[str]:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(make_spec(tmp_path, **overrides)))
    return ["--spec-file", str(path)]


def bundle(capfd: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return decode(capfd.readouterr().out, BUNDLE_ID, NONCE)


def test_passing_run(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(spec_args(tmp_path), runner=passing) == 0
    payload = bundle(capfd)
    assert [t["name"] for t in payload["tests"]] == ["checks/command.sh"]
    assert payload["started_at"].endswith("Z")
    assert set(payload) >= {"schema", "harness_version", "environment", "metrics", "notebooks"}


def test_spec_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(make_spec(tmp_path)))
    assert main(["--spec-file", str(path)], runner=passing) == 0
    assert bundle(capfd)["tests"][0]["status"] == "passed"


def test_invalid_spec_still_reports_when_the_bundle_id_is_readable(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(spec_args(tmp_path, keep="sometimes"), runner=passing) == 2
    (test,) = bundle(capfd)["tests"]
    assert (test["name"], test["status"]) == ("harness/spec", "error")
    assert "spec.keep: invalid value 'sometimes'" in test["details"]


def test_invalid_spec_without_bundle_id(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(spec_args(tmp_path, bundle_id=None), runner=passing) == 2
    captured = capfd.readouterr()
    with pytest.raises(BundleMissing):
        decode(captured.out, BUNDLE_ID, NONCE)
    assert "no usable bundle_id" in captured.err


def test_crash_prints_harness_internal_and_keeps_earlier_results(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(spec_args(tmp_path), runner=crashing) == 3
    tests = bundle(capfd)["tests"]
    assert [t["name"] for t in tests] == ["checks/command.sh", "harness/internal"]
    assert tests[1]["status"] == "error"
    assert tests[1]["message"] == "RuntimeError: harness bug"
    assert "Traceback" in tests[1]["details"]


def test_unencodable_payload_still_gives_a_bundle(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(spec_args(tmp_path), runner=unencodable) == 0
    (test,) = bundle(capfd)["tests"]
    assert (test["name"], test["status"]) == ("harness/internal", "error")


KEEP_CASES = {
    "never-failed": ("never", failing, True),
    "always-passed": ("always", passing, False),
    "failed-passed": ("failed", passing, True),
    "failed-failed": ("failed", failing, False),
}


@pytest.mark.parametrize("case", KEEP_CASES.values(), ids=KEEP_CASES.keys())
def test_end_tree_follows_the_keep_policy(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    sleeper: subprocess.Popen[bytes],
    case: tuple[str, Any, bool],
) -> None:
    keep, runner, ended = case
    argv = [*spec_args(tmp_path, keep=keep), "--end-tree", str(sleeper.pid)]
    assert main(argv, runner=runner) == 0
    bundle(capfd)  # printed before anything is ended
    if ended:
        assert sleeper.wait(timeout=10) == -signal.SIGTERM
    else:
        assert sleeper.poll() is None


def test_should_end() -> None:
    assert should_end(Keep.NEVER, failed=True)
    assert not should_end(Keep.ALWAYS, failed=False)
    assert should_end(Keep.FAILED, failed=False)
    assert not should_end(Keep.FAILED, failed=True)


def test_end_notebook_survives_a_vanished_pid() -> None:
    logged: list[str] = []
    assert not end_notebook(2**22 + 7, Keep.NEVER, False, delay_s=0, log=logged.append)
    assert logged[-1] == f"could not end process {2**22 + 7}: no such process"


def test_recorded_env_leaves_secrets_out() -> None:
    env = {
        "PAPERSPACE_NOTEBOOK_ID": "nb1",
        "PAPERSPACE_API_KEY": "secret",
        "GRADIENT_TOKEN": "secret",
        "CUDA_VERSION": "12.2",
        "HOME": "/root",
    }
    assert recorded_env(env) == {"CUDA_VERSION": "12.2", "PAPERSPACE_NOTEBOOK_ID": "nb1"}
