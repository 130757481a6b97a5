"""The local provider: runs a cell's notebook command on this machine.

A scratch folder stands in for `/notebooks` (the workspace is copied or cloned into it), Jupyter is
replaced by a stand-in that blocks until the harness ends it, and the command's output is the
notebook's log. The embedded default: a user can reproduce a cell without any cloud.

Notebook code runs here, beside `grt` and whatever started it. So the command runs as PID 1 of a
PID and mount namespace of its own with a private `/proc` (`unshare`, as root; otherwise in an
unprivileged user namespace where the kernel allows one), as on the platform: no ancestor's
environment is visible from inside. Where neither is possible, a run is refused while a secret
(`SECRET_VARIABLES`) is in `grt`'s environment (docs/reliability.md, "Trust model").
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ProviderError, UsageError
from .base import Handle, Launch, NotebookState

# Blocks like Jupyter until SIGTERM ends it (the harness's, or stop()'s); as PID 1 of a namespace
# it must handle SIGTERM itself (the kernel ignores signals PID 1 has no handler for).
JUPYTER_STAND_IN = (
    'python3 -c "import signal,sys;signal.signal(signal.SIGTERM,lambda*a:sys.exit(0));'
    'signal.pause()"'
)
_PASS_ENV = ("LANG", "LC_ALL", "TERM", "TZ", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
# What notebook code must never be able to read: a run without a namespace refuses to start
# while one of them is set.
SECRET_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN", "PAPERSPACE_API_KEY")
# Variables that point git at a repository the caller is in (a hook's), not at the clone.
_GIT_REPO_VARIABLES = frozenset(
    ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")
)
UNSHARE = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")
USER_NAMESPACE = ("--user", "--map-root-user")
# PID 1 of the namespace takes the command from its environment, not its arguments (the unshare
# process outside keeps its arguments while the notebook runs), and drops it before `exec`.
_FROM_ENV = ("sh", "-c", 'c=$GRT_NOTEBOOK_COMMAND; unset GRT_NOTEBOOK_COMMAND; eval "$c"')


@functools.cache
def namespace_prefix(path: str | None = None) -> tuple[str, ...] | None:
    """How this machine can start a command in its own PID and mount namespace with a private
    /proc, with `unshare` found on `path` (default: this process's PATH): as root, or in a user
    namespace; None when neither works. Found out once per `path`."""
    is_root = os.geteuid() == 0
    candidates = (
        [UNSHARE, (*UNSHARE, *USER_NAMESPACE)] if is_root else [(*UNSHARE, *USER_NAMESPACE)]
    )
    for prefix in candidates:
        if _succeeds([*prefix, "true"], path):
            return prefix
    return None


def _succeeds(argv: Sequence[str], path: str | None) -> bool:
    env = {"PATH": path if path is not None else os.environ.get("PATH", os.defpath)}
    try:
        result = subprocess.run(list(argv), capture_output=True, timeout=10, check=False, env=env)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def refuse_secrets(env: Mapping[str, str]) -> None:
    """Without a namespace, notebook code could read `grt`'s environment: no secret may be in it."""
    present = [name for name in SECRET_VARIABLES if env.get(name)]
    if present:
        raise UsageError(
            f"--provider local: {', '.join(present)} is set, and this machine cannot run"
            " notebooks in a PID namespace of their own (unshare: needs root or unprivileged user"
            " namespaces), so notebook code could read it (valid: run `grt run --provider local`"
            " without these variables, then publish with `grt report --results DIR --comment`"
            " in a later step that has the token)"
        )


class LocalProvider:
    name = "local"
    default_max_parallel = 1
    end_delay_s = 0.0  # the log is a file: nothing to wait for

    def __init__(
        self,
        *,
        base_env: Mapping[str, str],
        scratch_root: Path | None = None,
        python_bin: Path | None = None,
        matrices_root: Path | None = None,
        namespace: tuple[str, ...] | bool | None = True,
    ) -> None:
        """`namespace`: True finds out (`namespace_prefix`); None or False runs without one."""
        # The orchestrator's own environment has nbclient and ipykernel: its bin folder comes first,
        # so the notebook's `python3` and `jupyter` are those (override with python_bin).
        bin_dir = (python_bin or Path(sys.executable)).parent
        path = f"{bin_dir}{os.pathsep}{base_env.get('PATH', os.defpath)}"
        self._namespace = namespace_prefix(path) if namespace is True else namespace or None
        if self._namespace is None:
            refuse_secrets(base_env)
        self._root = Path(tempfile.mkdtemp(prefix="grt-local-", dir=scratch_root))
        self._env = {"PATH": path, **{k: base_env[k] for k in _PASS_ENV if k in base_env}}
        self._matrices_root = matrices_root
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._dirs: dict[str, Path] = {}

    def jupyter_command(self, runtime_command: str) -> str:
        return JUPYTER_STAND_IN

    def workspace_dir(self) -> str:
        return "."

    def create(self, launch: Launch) -> Handle:
        home = self._root / launch.cell_id
        notebooks = home / "notebooks"
        tmp = home / "tmp"
        tmp.mkdir(parents=True)
        self._place_workspace(launch.workspace, launch.workspace_ref, notebooks)
        env = {**self._env, "HOME": str(home), "TMPDIR": str(tmp), **launch.environment}
        argv = ["sh", "-c", launch.command]
        if self._namespace is not None:
            argv = [*self._namespace, *_FROM_ENV]
            env["GRT_NOTEBOOK_COMMAND"] = launch.command
        log = (home / "notebook.log").open("wb")
        try:
            proc = subprocess.Popen(
                argv,
                cwd=notebooks,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends the whole tree
            )
        finally:
            log.close()
        notebook_id = f"local-{launch.cell_id}"
        self._procs[notebook_id] = proc
        self._dirs[notebook_id] = home
        return Handle(notebook_id=notebook_id, name=launch.name, url=notebooks.as_uri())

    def _place_workspace(self, workspace: str | None, ref: str | None, dest: Path) -> None:
        if workspace is None:
            dest.mkdir()
            return
        source = Path(workspace.removeprefix("file://"))
        if not source.is_absolute() and "://" not in workspace and self._matrices_root is not None:
            source = (self._matrices_root / source).resolve()
        is_url = "://" in workspace and not workspace.startswith("file://")
        if not is_url and not source.exists():
            raise UsageError(
                f"workspace {workspace!r}: no such folder (valid: a path or a git URL)"
            )
        if not is_url and not ref and not (source / ".git").exists():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".git", "__pycache__"))
            return
        origin = workspace if is_url else str(source)
        self._git(["clone", "--quiet", "--no-hardlinks", "--", origin, str(dest)])
        if ref:
            self._git(["-C", str(dest), "checkout", "--quiet", "--detach", ref])

    def _git(self, args: list[str]) -> None:
        # grt's side, not the notebook's: the user's git config and credentials apply (e.g. a
        # `url.<mirror>.insteadOf`, as with --check-sources), but not a repository the caller is in.
        env = {k: v for k, v in os.environ.items() if k not in _GIT_REPO_VARIABLES}
        env.update(PATH=self._env["PATH"], GIT_TERMINAL_PROMPT="0")
        try:
            subprocess.run(["git", *args], check=True, capture_output=True, timeout=300, env=env)
        except subprocess.CalledProcessError as exc:
            detail = exc.stderr.decode(errors="replace").strip().splitlines()
            raise ProviderError(f"git {args[0]} failed: {detail[-1] if detail else exc}") from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProviderError(f"git {args[0]} failed: {exc}") from None

    def states(self, handles: Sequence[Handle]) -> dict[str, NotebookState]:
        out = {}
        for handle in handles:
            proc = self._procs.get(handle.notebook_id)
            if proc is None:
                out[handle.notebook_id] = NotebookState.GONE
            elif not _exited(proc):
                out[handle.notebook_id] = NotebookState.RUNNING
            else:
                out[handle.notebook_id] = NotebookState.STOPPED
        return out

    def logs(self, handle: Handle) -> list[str]:
        home = self._dirs.get(handle.notebook_id)
        if home is None:
            return []
        with (home / "notebook.log").open("rb") as log:
            log.seek(handle.log_offset)
            data = log.read()
        end = data.rfind(b"\n") + 1  # whole lines only; the rest is read next time
        handle.log_offset += end
        return data[:end].decode("utf-8", errors="replace").splitlines()

    def stop(self, handle: Handle) -> None:
        """End the notebook's process group, then reap its leader. The leader is reaped only
        after the last signal: until then its pid, the group's id, cannot be given to another
        process (after a reap, a new session leader with that pid would get the signal)."""
        proc = self._procs.get(handle.notebook_id)
        if proc is None or proc.returncode is not None:
            return
        if not _exited(proc):
            _kill_group(proc, signal.SIGTERM)
            if not _exits_within(proc, 5.0):
                _kill_group(proc, signal.SIGKILL)
                _exits_within(proc, 5.0)
        _kill_group(proc, signal.SIGKILL)  # whatever is left of the group
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def delete(self, handle: Handle) -> None:
        self.stop(handle)
        self._procs.pop(handle.notebook_id, None)
        home = self._dirs.pop(handle.notebook_id, None)
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)

    def metrics(self, handle: Handle) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        """Stop every process; remove the scratch root unless kept notebooks live there."""
        for notebook_id in list(self._procs):
            self.stop(Handle(notebook_id=notebook_id, name=""))
        if not self._dirs:
            shutil.rmtree(self._root, ignore_errors=True)


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the process has ended, without reaping it (WNOWAIT)."""
    if proc.returncode is not None:
        return True
    try:
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        return os.waitid(os.P_PID, proc.pid, flags) is not None
    except ChildProcessError:  # reaped elsewhere
        return True


def _exits_within(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _exited(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the notebook's whole process group (the harness and its kernels included); only
    while its leader is not reaped (see `LocalProvider.stop`)."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
