"""Secret canaries end to end: a unique API key and GitHub token per test (the `canaries` fixture
fails the test if either shows up anywhere but the `X-API-Key` / `Authorization` headers).

The notebooks that fail here print their whole environment (`!env` and `os.environ`): the key is
not in it because it never enters a notebook.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.paperspace import FakePaperspace
from tests.github.helpers import PR, outputs
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import (
    RUNTIME,
    gradient_env,
    make_workspace,
    notebook,
    replay,
    results,
    write_matrices,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

PRINTENV = notebook(
    "!env",
    "import os\nprint(dict(os.environ))",
    "1 / 0",
)
ENV_RUNTIME = RUNTIME.replace("machines: [C5, C7]", "machines: [C5]").replace(
    "[hello.ipynb]", "[printenv.ipynb]"
)


@pytest.fixture
def workspace_files() -> dict[str, str]:
    return {"hello.ipynb": notebook("print('hello')"), "printenv.ipynb": PRINTENV}


def printed_env(out: Path) -> str:
    executed = json.loads((out / "notebooks" / "C5" / "printenv.ipynb").read_text())
    return "".join(
        "".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", [])
    )


@pytest.mark.kernel
def test_failing_run_on_gradient_in_a_pull_request_then_report(
    ps: FakePaperspace,
    gh: FakeGitHub,
    actions_env: dict[str, str],
    canaries: Canaries,
    tmp_path: Path,
) -> None:
    matrices = write_matrices(tmp_path, ENV_RUNTIME)
    env = {**gradient_env(ps, canaries.api_key), **actions_env}
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    run = canaries.grt([*argv, "--out", str(tmp_path / "out"), "--comment", "--check-run"], env)
    assert run.code == 1, run.text
    cell = results(tmp_path / "out")["C5"]
    assert cell["status"] == "failed"
    shown = printed_env(tmp_path / "out")
    assert "PATH=" in shown and "'HOME'" in shown  # the notebook did print its environment
    assert len(gh.comments_on(PR)) == 1
    assert gh.check_runs and outputs(tmp_path / "github-output")["conclusion"] == "failed"

    merged = ["--out", str(tmp_path / "merged"), "--comment", "--check-run"]
    report = canaries.grt(["report", "--results", str(tmp_path / "out"), *merged], env)
    assert report.code == 1, report.text
    assert len(gh.comments_on(PR)) == 1  # edited, not a second one
    assert "Hardened" in (tmp_path / "step-summary").read_text()


@pytest.mark.kernel
def test_failing_run_on_the_local_provider_with_secrets_in_its_environment(
    canaries: Canaries, tmp_path: Path, workspace_files: dict[str, str]
) -> None:
    """The local provider is handed grt's whole environment (key and token included) and must
    pass none of it to the notebook but what it lists."""
    repo = make_workspace(tmp_path, workspace_files)
    matrices = write_matrices(tmp_path, ENV_RUNTIME)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PAPERSPACE_API_KEY": canaries.api_key,
        "GITHUB_TOKEN": canaries.token,
        "GH_TOKEN": canaries.token,
        "GRT_POLL_INTERVAL": "0.05",
    }
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--workspace", str(repo)]
    run = canaries.grt([*argv, "--out", str(tmp_path / "out")], env)
    assert run.code == 1, run.text
    assert results(tmp_path / "out")["C5"]["status"] == "failed"
    assert "PATH=" in printed_env(tmp_path / "out")


def test_dry_run_then_kept_notebooks_then_sweep(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    matrices = write_matrices(tmp_path)
    env = gradient_env(ps, canaries.api_key)
    argv = ["run", "--matrices", str(matrices), "--runtime", "Hardened", "--provider", "gradient"]
    dry = canaries.grt([*argv, "--dry-run"], env)
    assert dry.code == 0, dry.text
    assert json.loads(dry.out)["headers"] == {"X-API-Key": "***"}
    assert ps.requests == []

    ps.faults.replay_log = replay()
    ps.faults.replay_line_delay_s = 0.0
    kept = canaries.grt([*argv, "--keep", "always", "--out", str(tmp_path / "out")], env)
    assert kept.code == 0, kept.text
    assert len(ps.notebooks) == 2 and not any(nb.deleted for nb in ps.notebooks.values())

    young = canaries.grt(["sweep", "--dry-run"], env)  # default: older than the longest run
    assert young.code == 0 and "Nothing to sweep." in young.out, young.text
    assert (
        "would stop and delete" in canaries.grt(["sweep", "--dry-run", "--older-than=0s"], env).out
    )
    swept = canaries.grt(["sweep", "--older-than=0s"], env)
    assert swept.code == 0, swept.text
    assert swept.out.count("stopped and deleted") == 2
    assert all(nb.deleted for nb in ps.notebooks.values())


def test_the_canaries_find_a_secret_in_every_form(tmp_path: Path) -> None:
    """The detector itself: plain, URL-quoted, JSON-escaped and base64 at any alignment."""
    found = Canaries(
        api_key="psk-canary-0123456789abcdef", token="ghs_canary0123", tmp_path=tmp_path
    )
    assert found.leaks() == []
    for shift in range(3):
        blob = base64.b64encode(b"x" * shift + found.api_key.encode() + b"tail").decode()
        (tmp_path / f"b64-{shift}.txt").write_text(f"spec={blob}")
    found.texts.append(("stderr of grt run", f"::add-mask::{found.api_key}"))
    found.texts.append(("a comment", json.dumps({"t": found.token})))
    assert found.leaks() == [
        "API key in b64-0.txt",
        "API key in b64-1.txt",
        "API key in b64-2.txt",
        "API key in stderr of grt run",
        "GitHub token in a comment",
    ]
