"""Local git repositories standing in for workspace repositories, and a git environment of the
user's own (a global config file in a temporary HOME) where `url.<local>.insteadOf` maps a
remote URL onto them, as a user's git config would."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with a fresh HOME and global git config (nothing from this machine's)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.touch()
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
        **IDENTITY,
        **extra,
    }


def git(env: Mapping[str, str], *args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=True
    ).stdout.strip()


def make_repo(path: Path, env: Mapping[str, str], files: Mapping[str, str]) -> str:
    """A repository at `path` whose main branch has `files`; the commit id."""
    path.mkdir(parents=True)
    git(env, "init", "--quiet", "--initial-branch=main", cwd=path)
    return commit(path, env, files, "first")


def commit(path: Path, env: Mapping[str, str], files: Mapping[str, str], message: str) -> str:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(env, "add", "--all", cwd=path)
    git(env, "commit", "--quiet", "--allow-empty", "-m", message, cwd=path)
    return git(env, "rev-parse", "HEAD", cwd=path)


def remove(path: Path, env: Mapping[str, str], name: str) -> str:
    git(env, "rm", "--quiet", name, cwd=path)
    git(env, "commit", "--quiet", "-m", f"remove {name}", cwd=path)
    return git(env, "rev-parse", "HEAD", cwd=path)


def instead_of(env: Mapping[str, str], url: str, local: Path) -> None:
    """Make `url` reach `local` through the user's git config."""
    git(env, "config", "--global", f"url.{local}.insteadOf", url)
