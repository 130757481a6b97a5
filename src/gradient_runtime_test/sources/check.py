"""`grt plan --check-sources`: what a run would clone and pull, checked before any notebook exists.

For each runtime: its workspace ref resolved to a commit and the files listed there (every listed
notebook, skipped or not, and every notebook an `expected_failures` entry names must be there),
and its container image asked of its registry. A missing thing is an error (exit 1); a registry
that cannot be asked is a warning. `check_runtimes` does the I/O (in parallel, each workspace and
image once); `findings` is pure.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..matrix.model import Runtime
from .errors import SourceError
from .git import Git
from .registry import (
    DOCKER_HUB_URL,
    ImageCheck,
    ImageStatus,
    Transport,
    UrllibTransport,
    check_image,
)
from .workspace import WorkspaceSnapshot, snapshot

_SUFFIX = re.compile(r"\[[^\]]*\]$")  # "notebooks/a.ipynb[rerun]" names a.ipynb
_URL = re.compile(r"^https?://[^\s'\"`$;|&<>\\]+$")


class Level(enum.StrEnum):
    ERROR = "error"  # something listed is not there: a run would pay for a failure
    WARNING = "warning"  # could not be checked


@dataclasses.dataclass(frozen=True)
class Finding:
    level: Level
    field: str  # the matrix field it is about
    message: str

    def to_json(self) -> dict[str, str]:
        return {"level": self.level.value, "field": self.field, "message": self.message}


@dataclasses.dataclass(frozen=True)
class SourceReport:
    runtime: Runtime
    workspace: WorkspaceSnapshot | None  # None: no workspace, or it could not be read
    image: ImageCheck
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.level == Level.ERROR for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        ws = self.workspace
        return {
            "runtime": self.runtime.name,
            "source": self.runtime.source,
            "workspace": None
            if ws is None
            else {
                "url": ws.location,
                "ref": ws.ref,
                "commit": ws.commit,
                "notebooks": len(ws.notebooks),
            },
            "container": {
                "image": self.image.image,
                "registry": self.image.registry,
                "status": self.image.status.value,
                "digest": self.image.digest,
            },
            "findings": [f.to_json() for f in self.findings],
        }


@dataclasses.dataclass(frozen=True)
class SourceSettings:
    """How sources are reached: git's environment, the HTTP transport and Docker Hub's address."""

    git: Git
    transport: Transport = dataclasses.field(repr=False)
    docker_hub_url: str = DOCKER_HUB_URL
    registry_timeout_s: float = 15
    workers: int = 8

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SourceSettings:
        """git runs with the user's environment (their config and credentials apply); the registry
        is reached through their proxy variables. `GRT_DOCKER_HUB_URL` replaces Docker Hub's
        registry (a mirror, or a local fake in tests)."""
        hub = env.get("GRT_DOCKER_HUB_URL") or DOCKER_HUB_URL
        if not _URL.match(hub):
            raise UsageError(
                f"GRT_DOCKER_HUB_URL: {hub!r} is not valid (valid: an http(s):// registry URL)"
            )
        return cls(git=Git(env=env), transport=UrllibTransport(env), docker_hub_url=hub)


def check_runtimes(
    runtimes: Sequence[Runtime],
    settings: SourceSettings,
    *,
    matrices_root: Path | None = None,
    workspace_ref: str | None = None,
) -> tuple[SourceReport, ...]:
    """Check every runtime's workspace and container; `workspace_ref` replaces each runtime's own."""

    def ref_of(r: Runtime) -> str | None:
        return workspace_ref or r.workspace_ref

    workspaces = {(r.workspace, ref_of(r)) for r in runtimes if r.workspace}
    images = {r.container for r in runtimes}
    with ThreadPoolExecutor(max_workers=max(1, min(settings.workers, len(runtimes) * 2))) as pool:
        ws_jobs: dict[tuple[str, str | None], Future[WorkspaceSnapshot | SourceError]] = {
            (url, ref): pool.submit(_snapshot, url, ref, settings.git, matrices_root)
            for url, ref in sorted(workspaces, key=str)
        }
        image_jobs = {
            image: pool.submit(
                check_image,
                image,
                transport=settings.transport,
                docker_hub_url=settings.docker_hub_url,
                timeout_s=settings.registry_timeout_s,
            )
            for image in sorted(images)
        }
        reports = []
        for r in runtimes:
            ws = ws_jobs[(r.workspace, ref_of(r))].result() if r.workspace else None
            image = image_jobs[r.container].result()
            reports.append(
                SourceReport(
                    runtime=r,
                    workspace=ws if isinstance(ws, WorkspaceSnapshot) else None,
                    image=image,
                    findings=findings(r, ws, image, ref=ref_of(r)),
                )
            )
    return tuple(reports)


def _snapshot(
    url: str, ref: str | None, git: Git, root: Path | None
) -> WorkspaceSnapshot | SourceError:
    try:
        return snapshot(url, ref, git=git, matrices_root=root)
    except SourceError as exc:
        return exc


def findings(
    runtime: Runtime,
    workspace: WorkspaceSnapshot | SourceError | None,
    image: ImageCheck,
    *,
    ref: str | None = None,
) -> tuple[Finding, ...]:
    """What is missing or unchecked for one runtime, given what its sources answered."""
    out: list[Finding] = []
    if isinstance(workspace, SourceError):
        field = "workspace_ref" if workspace.missing and ref else "workspace"
        listed = bool(runtime.notebooks) or any(
            f.test.startswith("notebooks/") for f in runtime.expected_failures
        )
        note = " (its notebooks were not checked)" if listed else ""
        out.append(Finding(Level.ERROR, field, workspace.message + note))
    elif workspace is not None:
        out.extend(_notebook_findings(runtime, workspace))
    out.extend(_image_findings(image))
    return tuple(out)


def _notebook_findings(runtime: Runtime, ws: WorkspaceSnapshot) -> list[Finding]:
    out = []
    for spec in runtime.notebooks:
        if spec.path in ws.files:
            continue
        skipped = f" (listed as skipped: {spec.skip})" if spec.skip else ""
        out.append(
            Finding(
                Level.ERROR,
                "notebooks",
                f"{spec.path!r}{skipped} is not in {ws.at}{_did_you_mean(spec.path, ws)}",
            )
        )
    for expected in runtime.expected_failures:
        if not expected.test.startswith("notebooks/"):
            continue
        path = _SUFFIX.sub("", expected.test.removeprefix("notebooks/"))
        if path not in ws.files:
            out.append(
                Finding(
                    Level.ERROR,
                    "expected_failures",
                    f"{expected.test!r} (machine {expected.machine}) names a notebook that is not"
                    f" in {ws.at}{_did_you_mean(path, ws)}",
                )
            )
    return out


def _did_you_mean(path: str, ws: WorkspaceSnapshot) -> str:
    stems = {n.removesuffix(".ipynb"): n for n in ws.notebooks}
    close = difflib.get_close_matches(path.removesuffix(".ipynb"), stems, n=1, cutoff=0.6)
    found = [stems[c] for c in close]
    if not found:  # moved to another folder under the same name
        name = path.rsplit("/", 1)[-1]
        found = [n for n in ws.notebooks if n.rsplit("/", 1)[-1] == name][:1]
    return f"; did you mean {found[0]!r}?" if found else ""


def _image_findings(image: ImageCheck) -> list[Finding]:
    if image.status == ImageStatus.MISSING:
        return [
            Finding(
                Level.ERROR,
                "container",
                f"{image.image!r} is not in {image.registry}: {image.detail}",
            )
        ]
    if image.status == ImageStatus.UNKNOWN:
        return [
            Finding(
                Level.WARNING,
                "container",
                f"{image.image!r} could not be checked: {image.detail} (not counted as missing)",
            )
        ]
    return []
