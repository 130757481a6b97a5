"""A workspace repository through `git`: a ref resolved to a commit, the files at a commit.

`git` on PATH runs with the caller's environment, so the user's git config applies (a
`url.<base>.insteadOf` rewrite, credential helpers, proxies) and any git host works. Nothing is
checked out: `ls-remote` resolves the ref, and the tree comes from a blobless, depth-1 fetch of that
one commit into a temporary bare repository (trees only, no file contents).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

from .errors import SourceError

FULL_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")  # SHA-1, or SHA-256 repositories
SHORT_SHA = re.compile(r"^[0-9a-f]{4,39}$")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str) -> str:
    """`https://user:token@host/...` -> `https://***@host/...`."""
    return _CREDENTIALS.sub("***@", text)


@dataclasses.dataclass(frozen=True)
class Git:
    """How to run git: the environment (the user's: config, credentials, PATH) and time limits."""

    env: Mapping[str, str] = dataclasses.field(repr=False)
    ls_remote_timeout_s: float = 60
    fetch_timeout_s: float = 300

    def run(self, args: Sequence[str], *, timeout: float, cwd: str | None = None) -> str:
        """git's stdout; SourceError with git's last stderr line when it fails."""
        exe = shutil.which("git", path=self.env.get("PATH"))
        if exe is None:
            raise SourceError("git is not on PATH (valid: install git)")
        # Never wait for a password prompt: credential helpers still answer, a person cannot.
        env = {**self.env, "GIT_TERMINAL_PROMPT": "0"}
        try:
            proc = subprocess.run(
                [exe, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SourceError(f"git {args[0]} took longer than {timeout:g} s") from None
        except OSError as exc:
            raise SourceError(f"git {args[0]} could not start: {exc.strerror}") from None
        if proc.returncode != 0:
            raise SourceError(f"git {args[0]} failed: {_last_line(proc.stderr)}")
        return proc.stdout.decode("utf-8", errors="replace")


def _last_line(stderr: bytes) -> str:
    lines = [
        line.strip()
        for line in stderr.decode("utf-8", errors="replace").splitlines()
        if line.strip() and not line.startswith("warning:")
    ]
    # git ends with generic advice ("Please make sure you have the correct access rights");
    # the line that says what happened starts with "fatal:".
    fatal = [line for line in lines if line.startswith("fatal:")]
    text = (fatal or lines or ["(no message)"])[0].removeprefix("fatal: ")
    return redact(text)[:300]


def ls_remote(git: Git, url: str, patterns: Sequence[str] = ()) -> dict[str, str]:
    """{ref name: object id} for the refs of `url` matching `patterns` (all refs when none)."""
    out = git.run(["ls-remote", "--", url, *patterns], timeout=git.ls_remote_timeout_s)
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if FULL_SHA.match(sha) and name:
            refs[name] = sha
    return refs


def resolve_commit(git: Git, url: str, ref: str | None) -> str:
    """The commit `ref` names in `url` now (None: the default branch, HEAD).

    A full commit id is returned as it is (`list_files` proves it exists). Branches, tags (peeled
    to their commit) and other refs (`pull/7/head`) resolve in git's own order: the exact name,
    `refs/<ref>`, `refs/tags/<ref>`, `refs/heads/<ref>`.
    """
    if ref is not None and FULL_SHA.match(ref.lower()):
        return ref.lower()
    wanted = ref or "HEAD"
    refs = ls_remote(git, url, [wanted, f"{wanted}^{{}}"] if ref else ["HEAD"])
    for name in (wanted, f"refs/{wanted}", f"refs/tags/{wanted}", f"refs/heads/{wanted}"):
        if name in refs:
            return refs.get(f"{name}^{{}}", refs[name])
    if ref is None:
        raise SourceError(f"{redact(url)} has no default branch (HEAD)", missing=True)
    if SHORT_SHA.match(ref.lower()):
        raise SourceError(
            f"'{ref}' is not a branch or tag of {redact(url)}, and an abbreviated commit cannot be"
            " resolved without cloning (valid: a branch, a tag or a full 40-character commit)",
            missing=True,
        )
    names = _branches_and_tags(git, url)
    raise SourceError(f"'{ref}' is not a branch or tag of {redact(url)}{names}", missing=True)


def _branches_and_tags(git: Git, url: str) -> str:
    """' (valid: main, v1.0, ...)' for a message, or '' when git cannot list them."""
    try:
        refs = ls_remote(git, url, [])
    except SourceError:
        return ""
    names = sorted(
        {
            name.removeprefix("refs/heads/").removeprefix("refs/tags/").removesuffix("^{}")
            for name in refs
            if name.startswith(("refs/heads/", "refs/tags/"))
        }
    )
    if not names:
        return ""
    shown = ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
    return f" (valid: {shown})"


def list_files(git: Git, url: str, commit: str) -> frozenset[str]:
    """Every file path (POSIX, relative to the repository root) in `url` at `commit`.

    Fetches that one commit's trees without blobs or history into a temporary bare repository;
    submodules are not entered (their folders are not in the tree).
    """
    with tempfile.TemporaryDirectory(prefix="grt-tree-") as tmp:
        git.run(["init", "--quiet", "--bare", tmp], timeout=git.ls_remote_timeout_s)
        # A named remote: git keeps the partial-clone settings under its name, not the URL's.
        git.run(["remote", "add", "origin", "--", url], timeout=git.ls_remote_timeout_s, cwd=tmp)
        try:
            git.run(
                [
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--no-write-fetch-head",
                    "--filter=blob:none",
                    "--depth=1",
                    "origin",
                    commit,
                ],
                timeout=git.fetch_timeout_s,
                cwd=tmp,
            )
        except SourceError as exc:
            if "not our ref" in exc.message or "no such remote ref" in exc.message:
                raise SourceError(
                    f"commit {commit} is not in {redact(url)}", missing=True
                ) from None
            raise
        listing = git.run(
            ["ls-tree", "-r", "-z", "--full-tree", commit], timeout=git.ls_remote_timeout_s, cwd=tmp
        )
    files = set()
    for entry in listing.split("\0"):
        meta, _, path = entry.partition("\t")
        if path and meta.split(" ")[1:2] == ["blob"]:
            files.add(path)
    return frozenset(files)
