"""The notebook's sandbox: the ``jupyter`` stub, command rewriting, the workspace."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

JUPYTER_STUB = r"""#!/usr/bin/env bash
# Stand-in for Jupyter, first on PATH in notebooks run by the fake Paperspace API.
# `jupyter lab|notebook|server [options]` behaves like a Jupyter server: it says it is running and
# waits until SIGTERM/SIGINT (then exits 0) or `jupyter lab|notebook|server stop`. Any other
# subcommand runs the real `jupyter` further down PATH, if there is one.
pidfile="${GRT_FAKE_JUPYTER_PIDFILE:-${HOME:-/tmp}/.grt-fake-jupyter.pid}"
stamp() { date -u '+%Y-%m-%d %H:%M:%S.000'; }
case "${1:-}" in
  lab|notebook|server)
    case "${2:-}" in
      stop)
        if [ -f "$pidfile" ]; then kill -TERM "$(cat "$pidfile")" 2>/dev/null; fi
        exit 0 ;;
      list)
        if [ -f "$pidfile" ]; then echo "http://localhost:8888/ :: ${GRT_FAKE_NOTEBOOKS_DIR:-$PWD}"; fi
        exit 0 ;;
    esac
    echo $$ > "$pidfile"
    sleeper=
    on_signal() {
      echo "[C $(stamp) ServerApp] received signal, shutting down" >&2
      if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi
      rm -f "$pidfile"
      exit 0
    }
    trap on_signal TERM INT
    echo "[I $(stamp) ServerApp] Serving notebooks from local directory: $PWD" >&2
    echo "[I $(stamp) ServerApp] Jupyter Server 2.14.2 is running at:" >&2
    echo "[I $(stamp) ServerApp] http://localhost:8888/lab" >&2
    while :; do sleep 3600 & sleeper=$!; wait "$sleeper"; done ;;
esac
self_dir=$(cd "$(dirname "$0")" && pwd)
IFS=:
for dir in $PATH; do
  [ "$dir" = "$self_dir" ] && continue
  if [ -x "$dir/jupyter" ]; then exec "$dir/jupyter" "$@"; fi
done
echo "jupyter: command not found (the fake Paperspace stub only stands in for the server)" >&2
exit 127
"""


# Some images start Jupyter with their own script (the fast.ai image: /run.sh).
RUN_SH_STUB = """#!/usr/bin/env bash
# Stand-in for an image's own start script (/run.sh), installed by the fake Paperspace API.
exec jupyter lab --allow-root --ip=0.0.0.0 --no-browser
"""


def install_fake_bin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (("jupyter", JUPYTER_STUB), ("run.sh", RUN_SH_STUB)):
        stub = directory / name
        stub.write_text(text)
        stub.chmod(0o755)
    return directory


def _replace_path(command: str, path: str, replacement: str) -> str:
    """Replace ``path`` where it stands alone (not inside ``/x/notebooks`` or ``/notebooks2``)."""
    pattern = r"(?<![\w./-])" + re.escape(path) + r"(?![\w.-])"
    return re.sub(pattern, lambda _: replacement, command)


def rewrite_command(command: str, *, placeholder: str | None, scratch: Path, fake_bin: Path) -> str:
    """The command as the fake runs it: the ``/notebooks`` placeholder becomes the scratch folder
    and ``/run.sh`` the fake's stand-in (which starts the ``jupyter`` stub)."""
    if placeholder:
        command = _replace_path(command, placeholder, str(scratch))
    return _replace_path(command, "/run.sh", str(fake_bin / "run.sh"))


def fetch_workspace(
    workspace: str | None, ref: str | None, scratch: Path, env: dict[str, str]
) -> str | None:
    """Copy or clone ``workspace`` at ``ref`` into ``scratch``; returns the ``jobError`` text on
    failure. Only local folders, local git repositories and ``file://`` URLs are fetched."""
    if not workspace or workspace == "none":
        return None
    source = _local_source(workspace)
    if source is None:
        return (
            f"Error cloning workspace {workspace}: the fake Paperspace API only fetches "
            "local paths and file:// URLs"
        )
    if _is_git_repository(source):
        git_env = {**env, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
        steps = [["git", "clone", "--quiet", "--no-hardlinks", str(source), str(scratch)]]
        if ref:
            checkout = ["checkout", "--quiet", ref]
            steps.append(["git", "-c", "advice.detachedHead=false", "-C", str(scratch), *checkout])
        for step in steps:
            done = subprocess.run(step, env=git_env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                return f"Error cloning workspace {workspace} at {ref}: {done.stderr.strip()}"
        return None
    if ref:
        return f"Error cloning workspace {workspace}: workspaceRef {ref!r} needs a git repository"
    shutil.copytree(source, scratch, symlinks=True, dirs_exist_ok=True)
    return None


def _local_source(workspace: str) -> Path | None:
    if workspace.startswith("file://"):
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(workspace).path))
    elif "://" in workspace or workspace.startswith("git@"):
        return None
    else:
        path = Path(workspace).expanduser()
    return path if path.is_dir() else None


def _is_git_repository(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the command's process group; only while its leader is unreaped (a reaped
    leader's pid, the group's id, can go to another process group of this machine)."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the command's leader has ended, without reaping it (WNOWAIT)."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def exits_within(process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not exited(process):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def namespace_init(unshare_pid: int) -> list[int]:
    """The pid (as this machine sees it) of PID 1 of the namespace `unshare --fork` made: the
    unshare process's child."""
    try:
        text = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]
