"""What decides a cell's verdict, pinned down and hashed: the input hash of history records.

A cell's hash covers the runtime's matrix entry (what the notebook runs and how it is judged), the
machine's catalogue entry (what the notebook must see), the container and its digest when its
registry gives one, the workspace and the commit its ref resolved to (`git ls-remote`), the
provider, the cluster, and the harness version (its release plus a digest of its sources, so any
change to the harness counts). Two cells with the same hash were run on the same inputs.

When the workspace's commit cannot be resolved (an unreachable repository, a plain folder), the
inputs are not pinned: the cell's hash is "" and nothing is reused for it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..harness import HARNESS_VERSION, pack
from ..matrix.model import Machine, Runtime
from ..sources.check import SourceSettings
from ..sources.errors import SourceError
from ..sources.git import resolve_commit
from ..sources.registry import check_image
from ..sources.workspace import is_url, local_folder

# Fields that do not change what a cell runs or how it is judged: where the matrix file lives, its
# prose, which other machines the runtime lists; the workspace (and its ref, the cluster) are
# covered by what they resolved to. A machine's price changes the bill, not the verdict.
_RUNTIME_LEFT_OUT = frozenset(
    {"source", "description", "machines", "workspace", "workspace_ref", "cluster_id", "partner"}
)
_MACHINE_LEFT_OUT = frozenset({"description", "price_per_hour"})


@functools.cache
def harness_version() -> str:
    """'<release>+<12 hex digits of the harness sources>': changes with any harness change."""
    digest = hashlib.sha256()
    for name, data in sorted(pack.harness_sources().items()):
        digest.update(name.encode() + b"\0" + data + b"\0")
    return f"{HARNESS_VERSION}+{digest.hexdigest()[:12]}"


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What a run's cells run on, as far as it could be pinned down."""

    provider: str
    workspace: str | None  # the URL or folder the run uses; None: a bare container
    commit: str | None  # the commit the workspace ref resolved to
    image_digest: str | None  # None: the registry gave none (or the provider uses no image)
    cluster_id: str | None = None
    harness_version: str = dataclasses.field(default_factory=harness_version)
    problem: str | None = None  # why the workspace commit could not be resolved

    @property
    def pinned(self) -> bool:
        """Whether every input is known (a workspace without a commit is not)."""
        return self.problem is None and (self.workspace is None or self.commit is not None)

    def cell_hash(self, runtime: Runtime, machine: Machine) -> str:
        """The hash of everything that decides this cell's verdict; "" when not pinned."""
        if not self.pinned:
            return ""
        document = {
            "grt": __version__,
            "harness": self.harness_version,
            "provider": self.provider,
            "workspace": self.workspace,
            "commit": self.commit,
            "image_digest": self.image_digest,
            "cluster_id": self.cluster_id or runtime.cluster_id,
            "runtime": _fields(runtime, _RUNTIME_LEFT_OUT),
            "machine": _fields(machine, _MACHINE_LEFT_OUT),
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=_plain)
        return hashlib.sha256(text.encode()).hexdigest()


def _fields(record: Any, left_out: frozenset[str]) -> dict[str, Any]:
    return {
        f.name: getattr(record, f.name)
        for f in dataclasses.fields(record)
        if f.name not in left_out
    }


def _plain(value: Any) -> Any:
    """JSON for what json cannot write itself: nested records, mappings, paths."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"cannot hash a {type(value).__name__}")


def pin(
    workspace: str | None,
    ref: str | None,
    *,
    provider: str,
    container: str,
    cluster_id: str | None,
    sources: SourceSettings,
    matrices_root: Path | None = None,
) -> Inputs:
    """Resolve the workspace ref to a commit and ask the registry for the image's digest (only
    where the image is used: the local provider runs no container)."""
    commit, problem = None, None
    if workspace is not None:
        try:
            commit = _commit(workspace, ref, sources, matrices_root)
        except SourceError as exc:
            problem = exc.message
    digest = None
    if provider == "gradient":
        digest = check_image(
            container,
            transport=sources.transport,
            docker_hub_url=sources.docker_hub_url,
            timeout_s=sources.registry_timeout_s,
        ).digest
    return Inputs(provider, workspace, commit, digest, cluster_id, problem=problem)


def _commit(workspace: str, ref: str | None, sources: SourceSettings, root: Path | None) -> str:
    if is_url(workspace):
        return resolve_commit(sources.git, workspace, ref)
    folder = local_folder(workspace, root)
    if not ref and not (folder / ".git").exists():
        raise SourceError(f"{folder} is not a git repository, so it has no commit to pin")
    return resolve_commit(sources.git, str(folder), ref)
