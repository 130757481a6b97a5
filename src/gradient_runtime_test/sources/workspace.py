"""A runtime's workspace as a run would see it: the files at the ref that would be cloned or copied.

A git URL is read with `git` (ls-remote, then a blobless fetch of that commit). A local folder
(the local provider; relative paths are relative to the matrices folder) is read the way the local
provider places it: cloned with git when a ref is given or the folder is a repository, otherwise
copied, so its files on disk are what counts.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path, PurePosixPath

from .errors import SourceError
from .git import Git, list_files, resolve_commit

MAX_FOLDER_FILES = 200_000
_COPY_IGNORED = frozenset({".git", "__pycache__"})  # what the local provider leaves out


@dataclasses.dataclass(frozen=True)
class WorkspaceSnapshot:
    """The files of a workspace at the commit its ref resolved to (no commit for a plain folder)."""

    source: str  # as the matrix (or --workspace) wrote it
    location: str  # the URL, or the absolute folder
    ref: str | None  # as asked; None: the default branch
    commit: str | None
    files: frozenset[str]  # POSIX paths relative to the workspace root

    @property
    def at(self) -> str:
        """'URL@main (1a2b3c4d5e6f)', 'folder' or 'folder@HEAD (...)', for messages."""
        where = f"{self.location}@{self.ref}" if self.ref else self.location
        return f"{where} ({self.commit[:12]})" if self.commit else where

    @property
    def notebooks(self) -> tuple[str, ...]:
        """The .ipynb files, without Jupyter's checkpoint copies."""
        return tuple(
            sorted(
                f
                for f in self.files
                if f.endswith(".ipynb") and ".ipynb_checkpoints" not in PurePosixPath(f).parts
            )
        )


def is_url(workspace: str) -> bool:
    """A remote git URL (file:// counts as a local folder, as the local provider treats it)."""
    return "://" in workspace and not workspace.startswith("file://")


def local_folder(workspace: str, matrices_root: Path | None) -> Path:
    """The folder a local workspace names: relative paths are relative to the matrices folder."""
    path = Path(workspace.removeprefix("file://"))
    if not path.is_absolute() and matrices_root is not None:
        path = matrices_root / path
    return path.resolve()


def snapshot(
    workspace: str, ref: str | None, *, git: Git, matrices_root: Path | None = None
) -> WorkspaceSnapshot:
    """The files of `workspace` at `ref`, as a run would get them. SourceError when it cannot tell."""
    if is_url(workspace):
        commit = resolve_commit(git, workspace, ref)
        return WorkspaceSnapshot(
            workspace, workspace, ref, commit, list_files(git, workspace, commit)
        )
    folder = local_folder(workspace, matrices_root)
    if not folder.is_dir():
        raise SourceError(f"{workspace!r}: no such folder ({folder})", missing=True)
    if ref or (folder / ".git").exists():
        location = str(folder)
        commit = resolve_commit(git, location, ref)
        return WorkspaceSnapshot(
            workspace, location, ref, commit, list_files(git, location, commit)
        )
    return WorkspaceSnapshot(workspace, str(folder), None, None, folder_files(folder))


def folder_files(folder: Path) -> frozenset[str]:
    """Files under `folder` as the local provider would copy them (no .git, no __pycache__)."""
    files: set[str] = set()
    for top, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in _COPY_IGNORED]
        rel = PurePosixPath(Path(top).relative_to(folder).as_posix())
        for name in names:
            files.add(str(rel / name) if str(rel) != "." else name)
            if len(files) > MAX_FOLDER_FILES:
                raise SourceError(f"{folder} holds more than {MAX_FOLDER_FILES} files")
    return frozenset(files)
