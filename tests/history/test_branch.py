"""The history branch flow against a local git remote (a bare repository): pull, append, push; a
push that races another one is merged record by record and pushed again; nothing is lost."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from gradient_runtime_test.cli import main
from gradient_runtime_test.history import store
from gradient_runtime_test.history.branch import Branch, with_token
from gradient_runtime_test.sources.errors import SourceError
from gradient_runtime_test.sources.git import Git
from tests.history.samples import record
from tests.sources.gitrepos import git, user_env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return user_env(tmp_path / "home")


@pytest.fixture
def remote(tmp_path: Path, env: dict[str, str]) -> Path:
    bare = tmp_path / "remote.git"
    git(env, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    return bare


def branch(env: dict[str, str], folder: Path, **kw: object) -> Branch:
    return Branch(Git(env=env), folder, backoff_s=0.0, **kw)  # type: ignore[arg-type]


def on_remote(env: dict[str, str], remote: Path, name: str = "pytorch-1-12.jsonl") -> list[str]:
    text = git(env, "--git-dir", str(remote), "show", f"grt-history:{name}")
    return [json.loads(line)["run_id"] for line in text.splitlines()]


def test_a_missing_branch_starts_empty_and_the_first_push_creates_it(
    tmp_path: Path, env: dict[str, str], remote: Path
) -> None:
    b = branch(env, tmp_path / "h")
    assert b.pull(str(remote)) is False
    assert store.load(tmp_path / "h").records == ()
    assert b.push("nothing yet").changed is False  # no history file: nothing pushed
    store.append(tmp_path / "h", [record("r1"), record("r1", "A6000")])
    pushed = b.push("record r1")
    assert (pushed.changed, pushed.attempts) == (True, 1)
    assert on_remote(env, remote) == ["r1", "r1"]
    files = git(env, "--git-dir", str(remote), "ls-tree", "--name-only", "grt-history").split()
    assert files == ["README.md", "pytorch-1-12.jsonl"]  # no lock file
    # the next job reads it back
    again = tmp_path / "h2"
    assert branch(env, again).pull(str(remote)) is True
    assert [r.machine for r in store.load(again).records] == ["A4000", "A6000"]
    assert branch(env, again).push("unchanged").changed is False


def test_a_push_that_lost_a_race_merges_and_keeps_both_runs(
    tmp_path: Path, env: dict[str, str], remote: Path
) -> None:
    seed = branch(env, tmp_path / "seed")
    seed.pull(str(remote))
    store.append(tmp_path / "seed", [record("r0", finished_at="2026-11-28T03:00:00Z")])
    seed.push("r0")
    a, b = branch(env, tmp_path / "a"), branch(env, tmp_path / "b")
    a.pull(str(remote))
    b.pull(str(remote))  # both start from r0
    store.append(tmp_path / "a", [record("ra", finished_at="2026-11-29T03:00:00Z")])
    other = record("rb", runtime="NVIDIA RAPIDS", finished_at="2026-11-29T04:00:00Z")
    store.append(tmp_path / "b", [record("rb", finished_at="2026-11-29T04:00:00Z"), other])
    assert a.push("ra").attempts == 1
    pushed = b.push("rb")  # refused first: a pushed meanwhile
    assert (pushed.changed, pushed.attempts) == (True, 2)
    assert on_remote(env, remote) == ["r0", "ra", "rb"]
    assert on_remote(env, remote, "nvidia-rapids.jsonl") == ["rb"]
    log = git(env, "--git-dir", str(remote), "log", "--format=%s", "grt-history").split("\n")
    assert log == ["rb", "ra", "r0"]  # a line of commits, nothing rewritten


def test_two_first_pushes_at_once_both_land(
    tmp_path: Path, env: dict[str, str], remote: Path
) -> None:
    """Two reports pushing at the same moment, onto a branch that does not exist yet."""
    workers = [branch(env, tmp_path / f"w{i}") for i in range(2)]
    for i, w in enumerate(workers):
        w.pull(str(remote))
        store.append(w.folder, [record(f"r{i}", finished_at=f"2026-11-29T0{i}:00:00Z")])
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def push(w: Branch) -> None:
        start.wait()
        try:
            w.push(f"push {w.folder.name}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert on_remote(env, remote) == ["r0", "r1"]


def test_merging_keeps_the_bound(tmp_path: Path, env: dict[str, str], remote: Path) -> None:
    a = branch(env, tmp_path / "a", keep_runs=2)
    b = branch(env, tmp_path / "b", keep_runs=2)
    a.pull(str(remote))
    b.pull(str(remote))
    store.append(a.folder, [record("r1", finished_at="2026-11-01T00:00:00Z")], keep_runs=2)
    store.append(
        b.folder,
        [record(f"r{i}", finished_at=f"2026-11-0{i}T00:00:00Z") for i in (2, 3)],
        keep_runs=2,
    )
    a.push("a")
    b.push("b")
    assert on_remote(env, remote) == ["r2", "r3"]


def test_a_push_refused_for_another_reason_says_so(
    tmp_path: Path, env: dict[str, str], remote: Path
) -> None:
    a = branch(env, tmp_path / "a")
    a.pull(str(remote))
    store.append(a.folder, [record("r1")])
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'denied by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(SourceError, match="could not push grt-history after 1 attempt: "):
        a.push("r1")


def test_the_token_travels_in_gits_environment_only() -> None:
    env = {"GITHUB_TOKEN": "ghs_canary", "GITHUB_SERVER_URL": "https://github.com"}
    out = with_token(env, "https://github.com/acme/runtimes.git")
    assert out["GIT_CONFIG_COUNT"] == "1"
    assert out["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    assert out["GIT_CONFIG_VALUE_0"].startswith("AUTHORIZATION: basic ")
    assert "ghs_canary" not in json.dumps(out).replace(env["GITHUB_TOKEN"], "", 1)
    assert "GIT_CONFIG_COUNT" not in with_token(env, "https://elsewhere.example/x.git")
    assert "GIT_CONFIG_COUNT" not in with_token({}, "https://github.com/acme/runtimes.git")


def test_cli_pull_and_push_round_trip(
    tmp_path: Path, env: dict[str, str], remote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "h"
    grt_env = {**env, "GRT_RETRY_BACKOFF": "0"}
    assert main(["history", "pull", "--dir", str(folder), "--remote", str(remote)], grt_env) == 0
    assert "is new" in capsys.readouterr().out
    store.append(folder, [record("r1")])
    assert main(["history", "push", "--dir", str(folder)], grt_env) == 0
    assert "pushed grt-history" in capsys.readouterr().out
    assert on_remote(env, remote) == ["r1"]
    # a second pull into the same folder is refused: it is not empty
    assert main(["history", "pull", "--dir", str(folder), "--remote", str(remote)], grt_env) == 2
    assert "--dir:" in capsys.readouterr().err
    # outside Actions a remote must be named
    assert main(["history", "pull", "--dir", str(tmp_path / "x")], grt_env) == 2
    bad_branch = ["--remote", str(remote), "--branch=bad..name"]
    assert main(["history", "pull", "--dir", str(tmp_path / "y"), *bad_branch], grt_env) == 2
    assert "--branch: 'bad..name' is not valid" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_cli_push_failure_is_a_warning_with_what_to_do(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "h"
    gone = tmp_path / "gone.git"
    git(env, "init", "--quiet", "--bare", str(gone))
    assert main(["history", "pull", "--dir", str(folder), "--remote", str(gone)], env) == 0
    store.append(folder, [record("r1")])
    hook = gone / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    actions_env = {**env, "GITHUB_ACTIONS": "true", "GRT_RETRY_BACKOFF": "0"}
    assert main(["history", "push", "--dir", str(folder)], actions_env) == 1
    err = capsys.readouterr().err
    assert "::warning" in err and "contents: write" in err and "::error" not in err
