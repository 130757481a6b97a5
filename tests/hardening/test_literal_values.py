"""Valid values full of shell metacharacters reach the notebook literally, end to end, through the
local provider and through the fake Paperspace API (the real harness and a real kernel run):
a runtime name, an environment value, a notebook parameter and a notebook path. No injected
command runs (the canary files are never created)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.paperspace import FakePaperspace
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import (
    PROJECT,
    WORKSPACE_URL,
    gradient_env,
    notebook,
    results,
    write_matrices,
)

pytestmark = [pytest.mark.server, pytest.mark.kernel, pytest.mark.slow]

ODD_PATH = "dir with space/$HOME & co`s.ipynb"
LITERAL = notebook(
    "import json, os\n"
    "print('ENV=' + json.dumps(os.environ['HOSTILE']))\n"
    "print('MSG=' + json.dumps(msg))",
    parameters="msg = 'default'",
)


@pytest.fixture
def canary() -> Iterator[Path]:
    """An absolute path that only an injected `touch` would create."""
    path = Path(f"/tmp/grt-pwned-{uuid.uuid4().hex[:8]}")
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def workspace_files() -> dict[str, str]:
    return {"literal.ipynb": LITERAL, ODD_PATH: notebook("print('odd path ran')")}


def hostile_values(canary: Path) -> dict[str, str]:
    return {
        "name": f"Evil $(touch {canary}) `touch pwned`; \"q\" 'x' | & < > \\ * ~ ${{HOME}}",
        "env": f"a$(touch {canary})b`touch pwned`;'\"|&<>*?~ ${{HOME}} \\ %s A=B=",
        "param": f'it\'s "quoted" $(touch {canary}) `id` \\n %(x)s {{0}} \'\'\' """',
    }


def runtime_yaml(values: dict[str, str], workspace: str) -> str:
    return (
        f"name: {json.dumps(values['name'])}\n"
        "container: paperspace/gradient-base:pt112\n"
        f"workspace: {workspace}\n"
        "machines: [C5]\n"
        "notebooks:\n"
        f"  - {{path: literal.ipynb, parameters: {{msg: {json.dumps(values['param'])}}}}}\n"
        f"  - {json.dumps(ODD_PATH)}\n"
        f"environment:\n  HOSTILE: {json.dumps(values['env'])}\n"
    )


def printed(executed: dict[str, Any]) -> str:
    return "".join(
        "".join(output.get("text", ""))
        for cell in executed["cells"]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )


def check_literal(out: Path, values: dict[str, str], canary: Path, tmp_path: Path) -> None:
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["runtime"] == values["name"]
    (cell,) = data["cells"]
    statuses = {t["name"]: t["status"] for t in cell["tests"]}
    assert cell["status"] == "passed", cell
    assert statuses["notebooks/literal.ipynb"] == "passed"
    assert statuses[f"notebooks/{ODD_PATH}"] == "passed"
    executed = json.loads((out / "notebooks" / "C5" / "literal.ipynb").read_text())
    text = printed(executed)
    assert f"ENV={json.dumps(values['env'])}" in text
    assert f"MSG={json.dumps(values['param'])}" in text
    odd = json.loads((out / "notebooks" / "C5" / ODD_PATH).read_text())
    assert "odd path ran" in printed(odd)
    assert not canary.exists(), "an injected command ran"
    assert not list(tmp_path.rglob("pwned")), "an injected command ran"


def test_through_the_local_provider(
    canaries: Canaries,
    canary: Path,
    tmp_path: Path,
    workspace_files: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.hardening.helpers import make_workspace

    monkeypatch.chdir(tmp_path)
    repo = make_workspace(tmp_path, workspace_files)
    values = hostile_values(canary)
    write_matrices(tmp_path, runtime_yaml(values, WORKSPACE_URL))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    env |= {"PAPERSPACE_API_KEY": canaries.api_key, "GRT_POLL_INTERVAL": "0.05"}
    argv = ["run", "--matrices", "matrices", "--runtime", values["name"], "--out", "out"]
    result = canaries.grt([*argv, "--workspace", str(repo)], env)
    assert result.code == 0, result.text
    check_literal(tmp_path / "out", values, canary, tmp_path)


def test_through_the_fake_paperspace_api(
    ps: FakePaperspace,
    canaries: Canaries,
    canary: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    values = hostile_values(canary)
    write_matrices(tmp_path, runtime_yaml(values, WORKSPACE_URL))
    argv = ["run", "--matrices", "matrices", "--runtime", values["name"], "--provider", "gradient"]
    result = canaries.grt([*argv, "--out", "out"], gradient_env(ps, canaries.api_key))
    assert result.code == 0, result.text
    check_literal(tmp_path / "out", values, canary, tmp_path)
    (create,) = ps.requests_to("createNotebook")
    body = create.body_json
    assert body["name"].startswith(f"grt: {values['name']} on C5 [")
    assert body["environment"] == {"HOSTILE": values["env"]}
    assert body["projectId"] == PROJECT
    assert results(tmp_path / "out")["C5"]["status"] == "passed"
    assert all(nb.deleted for nb in ps.notebooks.values())
