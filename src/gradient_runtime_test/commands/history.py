"""`grt history pull|push`: the run history kept on a git branch (the Action's `history-branch`).

    grt history pull --dir DIR [--branch grt-history] [--remote URL]   # then: grt run --history DIR
    grt history push --dir DIR [--message TEXT]                         # commit, push, merge-and-retry

`--remote` defaults, in GitHub Actions, to the repository running the workflow (GITHUB_TOKEN, when
set, authenticates git through its environment only).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ..errors import UsageError
from ..github.actions import Actions
from ..history.branch import BRANCH, Branch, with_token
from ..settings import retry_backoff
from ..sources.errors import SourceError
from ..sources.git import Git, redact

HELP = "keep the run history on a git branch (pull before, push after)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    pull = sub.add_parser("pull", help="fetch the history branch into a new folder")
    pull.add_argument("--dir", type=Path, required=True, metavar="DIR")
    pull.add_argument("--branch", default="grt-history", metavar="BRANCH")
    pull.add_argument(
        "--remote",
        metavar="URL",
        help="git remote (default in GitHub Actions: the repository running the workflow)",
    )
    push = sub.add_parser("push", help="commit the history folder and push it (retries on races)")
    push.add_argument("--dir", type=Path, required=True, metavar="DIR")
    push.add_argument("--message", default="Record test runs", metavar="TEXT")


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    actions = Actions(sys.stderr, env)
    if args.action == "pull":
        return _pull(args, env, out, actions)
    return _push(args, env, out, actions)


def _pull(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, actions: Actions) -> int:
    if not BRANCH.match(args.branch):
        raise UsageError(
            f"--branch: {args.branch!r} is not valid (valid: a branch name like grt-history)"
        )
    folder: Path = args.dir
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"--dir: {str(folder)!r} is not empty (valid: a new or empty folder)")
    remote = args.remote or _workflow_repository(env)
    if not remote or remote.startswith("-") or any(c in remote for c in "\n\r\0"):
        raise UsageError(
            "--remote: not given, and not running in GitHub Actions (valid: a git URL or path)"
        )
    branch = Branch(Git(env=with_token(env, remote)), folder, name=args.branch)
    try:
        existed = branch.pull(remote)
    except SourceError as exc:
        actions.warning(f"history: could not read {args.branch} of {redact(remote)}: {exc.message}")
        return 1
    where = f"{args.branch} of {redact(remote)}"
    print(f"History: {where} in {folder}" if existed else f"History: {where} is new", file=out)
    return 0


def _push(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, actions: Actions) -> int:
    folder: Path = args.dir
    if not (folder / ".git").is_dir():
        raise UsageError(
            f"--dir: {str(folder)!r} is not a history checkout (valid: a folder made by `grt history pull`)"
        )
    git = Git(env=env)
    try:
        remote = git.run(["remote", "get-url", "origin"], timeout=60, cwd=str(folder)).strip()
        name = git.run(["symbolic-ref", "--short", "HEAD"], timeout=60, cwd=str(folder)).strip()
        branch = Branch(
            Git(env=with_token(env, remote)),
            folder,
            name=name,
            backoff_s=retry_backoff(env),
        )
        pushed = branch.push(args.message)
    except SourceError as exc:
        actions.warning(
            f"history: not saved: {exc.message} (in GitHub Actions the job needs"
            " `permissions: contents: write`)"
        )
        return 1
    if not pushed.changed:
        print("History: nothing new to record", file=out)
    else:
        tries = f" (after {pushed.attempts} tries)" if pushed.attempts > 1 else ""
        print(f"History: pushed {name} to {redact(remote)}{tries}", file=out)
    return 0


def _workflow_repository(env: Mapping[str, str]) -> str:
    if env.get("GITHUB_ACTIONS") != "true" or not env.get("GITHUB_REPOSITORY"):
        return ""
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    return f"{server}/{env['GITHUB_REPOSITORY']}.git"
