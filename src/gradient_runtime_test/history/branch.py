"""History kept on a git branch (the Action's `history-branch`, default `grt-history`).

`pull` makes a folder holding the branch's files (a depth-1 fetch; a branch that does not exist
yet starts empty, as an orphan); `grt run/report --history FOLDER` append to its files; `push`
commits them and pushes. When the push is refused because someone pushed first (a concurrent
report), the branch is fetched again, each history file is merged record by record with theirs
(every record of both, bounded as usual) on top of their commit, and the push is tried again, a
bounded number of times with a growing pause.

git runs with the caller's environment (their config and credentials), never prompting; a token
for an https remote travels in the environment of git alone (`http.extraheader`), never in a URL
or a command line.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ..sources.errors import SourceError
from ..sources.git import Git
from .store import KEEP_RUNS, SUFFIX, merge_texts

BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*\.lock$)(?!refs/)[A-Za-z0-9._/-]{1,100}$")
README = """\
# gradient-runtime-test history

Each `<runtime>.jsonl` file holds one JSON record per cell per run, oldest run first, for the last
runs of that runtime. Written by gradient-runtime-test (`grt history push`); the format is
docs/history.md in gradient-runtime-test.
"""
_IDENTITY = (
    "-c",
    "user.name=gradient-runtime-test",
    "-c",
    "user.email=gradient-runtime-test@users.noreply.github.com",
    "-c",
    "commit.gpgsign=false",
)


def with_token(env: Mapping[str, str], remote: str) -> dict[str, str]:
    """`env` plus, for a remote on the GitHub server with GITHUB_TOKEN set, the token as an
    `http.extraheader` in git's environment configuration (GIT_CONFIG_COUNT/KEY/VALUE)."""
    out = dict(env)
    token = env.get("GITHUB_TOKEN", "")
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    if not token or not server.startswith("https://") or not remote.startswith(server + "/"):
        return out
    count = int(env["GIT_CONFIG_COUNT"]) if env.get("GIT_CONFIG_COUNT", "").isdigit() else 0
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    out["GIT_CONFIG_COUNT"] = str(count + 1)
    out[f"GIT_CONFIG_KEY_{count}"] = f"http.{server}/.extraheader"
    out[f"GIT_CONFIG_VALUE_{count}"] = f"AUTHORIZATION: basic {basic}"
    return out


@dataclasses.dataclass(frozen=True)
class Pushed:
    changed: bool  # False: nothing new to record (nothing was pushed)
    attempts: int  # pushes tried


@dataclasses.dataclass(frozen=True)
class Branch:
    """The history branch `name` of `remote`, checked out in `folder`."""

    git: Git
    folder: Path
    name: str = "grt-history"
    attempts: int = 5
    backoff_s: float = 1.0
    keep_runs: int = KEEP_RUNS
    sleep: Callable[[float], None] = time.sleep

    def _run(self, *args: str, timeout: float | None = None) -> str:
        return self.git.run(
            list(args), timeout=timeout or self.git.fetch_timeout_s, cwd=str(self.folder)
        )

    @property
    def _tracking(self) -> str:
        return f"refs/remotes/origin/{self.name}"

    def pull(self, remote: str) -> bool:
        """Fetch the branch into the (new or empty) folder; True when it existed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._run("init", "--quiet")
        self._run("remote", "add", "origin", "--", remote)
        if self._fetch():
            self._run("checkout", "--quiet", "-B", self.name, self._tracking)
            return True
        self._run("checkout", "--quiet", "--orphan", self.name)
        (self.folder / "README.md").write_text(README, encoding="utf-8")
        return False

    def _fetch(self) -> bool:
        """Fetch the branch's head (depth 1); False when the remote has no such branch."""
        heads = self._run("ls-remote", "--heads", "origin", f"refs/heads/{self.name}")
        if not heads.strip():
            return False
        refspec = f"+refs/heads/{self.name}:{self._tracking}"
        self._run("fetch", "--quiet", "--no-tags", "--depth=1", "origin", refspec)
        return True

    def push(self, message: str) -> Pushed:
        """Commit the history files and push; on a refused push, merge with what was pushed
        meanwhile and try again. SourceError when it cannot."""
        if not self._commit(message):
            return Pushed(changed=False, attempts=0)
        for attempt in range(1, self.attempts + 1):
            try:
                self._run("push", "--quiet", "origin", f"HEAD:refs/heads/{self.name}")
                return Pushed(changed=True, attempts=attempt)
            except SourceError as refused:
                base = self._head(self._tracking)
                if (
                    attempt == self.attempts
                    or not self._fetch()
                    or self._head(self._tracking) == base
                ):
                    raise SourceError(
                        f"could not push {self.name} after {attempt} attempt"
                        f"{'s' if attempt != 1 else ''}: {refused.message}"
                    ) from None
                self._merge(message)
                self.sleep(self.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _head(self, ref: str) -> str | None:
        try:
            return self._run("rev-parse", "--verify", "--quiet", ref).strip() or None
        except SourceError:
            return None

    def _commit(self, message: str) -> bool:
        """Commit the history files; False when there is nothing new."""
        files = sorted(p.name for p in self.folder.glob(f"*{SUFFIX}"))
        if not files:
            return False
        self._run("add", "--", *files, *self._readme())
        if not self._run("status", "--porcelain", "--untracked-files=no").strip():
            return False
        self._run(*_IDENTITY, "commit", "--quiet", "--no-verify", "-m", message)
        return True

    def _readme(self) -> list[str]:
        return ["README.md"] if (self.folder / "README.md").exists() else []

    def _merge(self, message: str) -> None:
        """Our history files merged with theirs, committed on top of their head."""
        theirs = {
            name
            for name in self._run("ls-tree", "--name-only", self._tracking).split("\n")
            if name.endswith(SUFFIX)
        }
        ours = {path.name for path in self.folder.glob(f"*{SUFFIX}")}
        merged = {}
        for name in sorted(theirs | ours):
            their_text = self._run("show", f"{self._tracking}:{name}") if name in theirs else ""
            path = self.folder / name
            our_text = path.read_text(encoding="utf-8") if path.exists() else ""
            merged[name] = merge_texts(our_text, their_text, keep_runs=self.keep_runs)
        self._run("reset", "--quiet", "--mixed", self._tracking)  # their tree, our files
        for name, text in merged.items():
            (self.folder / name).write_text(text, encoding="utf-8")
        self._run("add", "--", *merged)
        self._run(*_IDENTITY, "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message)
