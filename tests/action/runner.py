"""Runs a composite action's `run:` steps the way the Actions runner does, without a runner.

Each step gets `env:` evaluated from the contexts (`inputs` with action.yml's defaults, `github`
with the event payload, `runner`, `steps`), its own GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files,
and runs as `bash --noprofile --norc -eo pipefail SCRIPT` (the runner's `shell: bash`) in the
workspace. `if:` conditions are evaluated with the job status so far. Steps that `uses:` another
action and steps named in `skip` are recorded as skipped: the caller provides what they would have
(the installed environment at RUNNER_TEMP/grt-venv).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from tests.action.expressions import condition, render, to_string

REPO = Path(__file__).resolve().parents[2]
ACTION_YML = REPO / "action.yml"
INSTALL_STEPS = frozenset({"cache-key", "install"})  # what `uv sync` would provide


@dataclasses.dataclass
class StepRun:
    id: str
    name: str
    ran: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    summary: str = ""
    env: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    status: str  # success | failure

    def step(self, step_id: str) -> StepRun:
        return next(s for s in self.steps if s.id == step_id)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    @property
    def log(self) -> str:
        return "".join(s.stdout + s.stderr for s in self.steps)


@dataclasses.dataclass
class Job:
    """Where the action runs: the workspace, the event and the runner's environment."""

    tmp: Path
    event_name: str
    event: Mapping[str, Any]
    repository: str = "octo/runtimes"
    sha: str = "f" * 40
    token: str = "ghs_test_token"
    api_url: str = "http://127.0.0.1:9"  # nothing listens: a test that needs GitHub sets a fake
    workspace: Path = REPO
    venv: Path | None = None  # installed environment with grt (default: the test's own)
    extra_env: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.runner_temp = self.tmp / "runner-temp"
        self.runner_temp.mkdir(parents=True, exist_ok=True)
        venv = self.venv or Path(sys.prefix)
        link = self.runner_temp / "grt-venv"
        if not link.exists():
            link.symlink_to(venv, target_is_directory=True)
        self.event_path = self.tmp / "event.json"
        self.event_path.write_text(json.dumps(self.event), encoding="utf-8")

    def base_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": os.environ.get("HOME", str(self.tmp)),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(REPO),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_SHA": self.sha,
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_RUN_ID": "42",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": self.api_url,
            "RUNNER_TEMP": str(self.runner_temp),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "GRT_POLL_INTERVAL": "0.1",
            **self.extra_env,
        }

    def github_context(self) -> dict[str, Any]:
        return {
            "event_name": self.event_name,
            "event": dict(self.event),
            "repository": self.repository,
            "sha": self.sha,
            "token": self.token,
            "action_path": str(REPO),
            "workspace": str(self.workspace),
            "api_url": self.api_url,
            "server_url": "https://github.com",
            "run_id": "42",
            "base_ref": (self.event.get("pull_request") or {}).get("base", {}).get("ref", ""),
        }


def load_action() -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(ACTION_YML.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def run_action(
    job: Job,
    inputs: Mapping[str, str],
    *,
    skip: Collection[str] = INSTALL_STEPS,
    stop_after: str | None = None,
    timeout: float = 300,
) -> ActionRun:
    action = load_action()
    declared = action["inputs"]
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs not declared in action.yml: {sorted(unknown)}"
    github = job.github_context()
    base = {"github": github, "runner": {"temp": str(job.runner_temp), "os": "Linux"}, "env": {}}
    resolved = {
        name: inputs[name] if name in inputs else render(to_string(spec.get("default", "")), base)
        for name, spec in declared.items()
    }
    steps_ctx: dict[str, Any] = {}
    context: dict[str, Any] = {**base, "inputs": resolved, "steps": steps_ctx}
    status = "success"
    runs: list[StepRun] = []
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id") or f"__{index}"
        name = step.get("name") or step.get("uses") or step_id
        if (
            not condition(step.get("if"), context, status=status)
            or "uses" in step
            or (step_id in skip)
        ):
            runs.append(StepRun(step_id, name, ran=False))
            steps_ctx[step_id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
        else:
            run = _run_step(job, step, step_id=step_id, name=name, context=context, timeout=timeout)
            runs.append(run)
            outcome = "success" if run.returncode == 0 else "failure"
            steps_ctx[step_id] = {"outputs": run.outputs, "outcome": outcome, "conclusion": outcome}
            if outcome == "failure" and not step.get("continue-on-error"):
                status = "failure"
        if step_id == stop_after:
            break
    outputs = {
        name: render(to_string(spec.get("value", "")), context, status=status)
        for name, spec in action.get("outputs", {}).items()
    }
    return ActionRun(runs, outputs, status)


def _run_step(
    job: Job,
    step: Mapping[str, Any],
    *,
    step_id: str,
    name: str,
    context: Mapping[str, Any],
    timeout: float,
) -> StepRun:
    assert step.get("shell") == "bash", f"step {name!r}: shell must be bash"
    files = job.tmp / "steps" / step_id
    files.mkdir(parents=True, exist_ok=True)
    output_file, summary_file, script = (files / n for n in ("output", "summary", "script.sh"))
    output_file.write_text("")
    summary_file.write_text("")
    script.write_text(step["run"], encoding="utf-8")
    step_env = {k: render(to_string(v), context) for k, v in (step.get("env") or {}).items()}
    env = {
        **job.base_env(),
        **step_env,
        "GITHUB_OUTPUT": str(output_file),
        "GITHUB_STEP_SUMMARY": str(summary_file),
    }
    workdir = render(str(step.get("working-directory", "")), context) or str(job.workspace)
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return StepRun(
        step_id,
        name,
        ran=True,
        returncode=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        outputs=parse_outputs(output_file),
        summary=summary_file.read_text(encoding="utf-8"),
        env=step_env,
    )


def parse_outputs(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks, last one wins."""
    found: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, _, delimiter = line.partition("<<")
            end = lines.index(delimiter, i + 1)  # ValueError: an unterminated block
            found[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if line:
            name, sep, value = line.partition("=")
            assert sep, f"not an output line: {line!r}"
            found[name] = value
        i += 1
    return found
