"""Running the runtime's own commands: always with a timeout, never raising."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
from typing import List, Mapping, Optional


@dataclasses.dataclass(frozen=True)
class CommandResult:
    argv: List[str]
    returncode: Optional[int]  # None when it did not run or did not finish
    stdout: str
    stderr: str
    problem: str  # "", or why it did not run / finish

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe_failure(self) -> str:
        """One line on why this command did not succeed."""
        if self.problem:
            return self.problem
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        last = text[-1] if text else ""
        return "`%s` exited with %s%s" % (
            " ".join(self.argv),
            self.returncode,
            ": " + last[:300] if last else "",
        )


def which(name: str, env: Mapping[str, str]) -> Optional[str]:
    """``name`` looked up on the PATH of ``env`` (not the harness's own)."""
    return shutil.which(name, path=env.get("PATH", os.defpath))


def run_command(
    argv: List[str],
    env: Mapping[str, str],
    timeout: float,
    cwd: Optional[str] = None,
) -> CommandResult:
    """Run ``argv`` found on ``env``'s PATH; on timeout its whole process group is killed."""
    exe = which(argv[0], env)
    if exe is None:
        return CommandResult(argv, None, "", "", "%s: not found on PATH" % argv[0])
    try:
        proc = subprocess.Popen(
            [exe, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(argv, None, "", "", "%s: could not start: %s" % (argv[0], exc))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        return CommandResult(
            argv,
            None,
            _text(out),
            _text(err),
            "`%s` did not finish within %g s" % (" ".join(argv), timeout),
        )
    return CommandResult(argv, proc.returncode, _text(out), _text(err), "")


def kill_group(proc: "subprocess.Popen[bytes]") -> None:
    """Kill a process started with ``start_new_session=True`` and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


def _text(data: Optional[bytes]) -> str:
    return (data or b"").decode("utf-8", "replace")
