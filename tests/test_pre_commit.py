"""The `grt-validate` pre-commit hook, run by pre-commit itself (`pre-commit try-repo`) on a
temporary repository holding matrices: a broken matrix fails the commit, a good one passes, a
commit that touches no matrix skips it. The hook repository is a copy of this working tree
(committed there, as pre-commit only reads commits), so the test sees uncommitted changes too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.sources.gitrepos import git, user_env

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def test_the_hook_is_declared_as_documented() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "grt-validate"
    assert hook["files"] == "^matrices/" and hook["pass_filenames"] is False
    script = ROOT / hook["entry"]
    assert script.is_file() and os.access(script, os.X_OK)
    readme = (ROOT / "README.md").read_text()
    assert (
        "id: grt-validate" in readme
        and "repo: https://github.com/gradient-ai/gradient-runtime-test" in readme
    )


def _hook_repo(tmp_path: Path, env: dict[str, str]) -> Path:
    """This working tree (tracked and untracked files, no ignored ones), committed."""
    repo = tmp_path / "hook-repo"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(env, "init", "--quiet", cwd=repo)
    git(env, "add", "--all", cwd=repo)
    git(env, "commit", "--quiet", "-m", "hook", cwd=repo)
    return repo


@pytest.mark.slow
def test_pre_commit_try_repo_fails_a_broken_matrix_and_passes_a_good_one(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", PRE_COMMIT_HOME=str(tmp_path / "pre-commit"))
    for name in ("UV_CACHE_DIR", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "SSL_CERT_FILE"):
        if name in os.environ:
            env[name] = os.environ[name]  # the user's uv settings (its cache, its index)
    hook_repo = _hook_repo(tmp_path, env)
    user = tmp_path / "user"
    shutil.copytree(ROOT / "examples" / "matrices", user / "matrices")
    shutil.copytree(ROOT / "examples" / "workspace", user / "workspace")  # its local workspace
    (user / "README.md").write_text("runtimes\n")
    git(env, "init", "--quiet", cwd=user)
    git(env, "add", "--all", cwd=user)

    def try_repo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PRE_COMMIT), "try-repo", str(hook_repo), "grt-validate", *args],
            cwd=user,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    good = try_repo("--all-files")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "grt validate" in good.stdout and "Passed" in good.stdout

    runtime = user / "matrices" / "runtimes" / "example.yaml"
    runtime.write_text(runtime.read_text().replace("machines: [C5]", "machines: [C55]"))
    git(env, "add", "--all", cwd=user)
    broken = try_repo()  # the staged files, as `git commit` would run it
    assert broken.returncode == 1
    assert (
        "matrices/runtimes/example.yaml:8: machines[0]: unknown machine 'C55'; did you mean 'C5'?"
        in broken.stdout
    )

    git(env, "commit", "--quiet", "--no-verify", "-m", "broken", cwd=user)
    (user / "README.md").write_text("runtimes, edited\n")
    git(env, "add", "--all", cwd=user)
    unrelated = try_repo()  # no file under matrices/ staged: the hook does not run
    assert unrelated.returncode == 0, unrelated.stdout
    assert "(no files to check)Skipped" in unrelated.stdout
