"""`grt plan --check-sources` through the real entry point: a workspace repository reached through
the user's git config (`url.<local>.insteadOf`), and a fake registry standing in for Docker Hub
(`GRT_DOCKER_HUB_URL`) or addressed as `127.0.0.1:PORT/org/img:tag`."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gradient_runtime_test.cli import main
from tests.fakes.registry import FakeRegistry
from tests.sources.gitrepos import commit, instead_of, make_repo, remove, user_env

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[2]
URL = "https://git.example.invalid/org/workspace"
MACHINES = "machines:\n  C5: {accelerator: cpu}\n  A4000: {accelerator: gpu, count: 1}\n"
RUNTIME = f"""\
name: Demo
container: "org/img:1.0"
workspace: "{URL}"
machines: [C5, A4000]
notebooks:
  - a.ipynb
  - path: sub/b.ipynb
    timeout: 60
  - {{path: later.ipynb, skip: "needs a dataset"}}
expected_failures:
  - {{machine: A4000, test: "notebooks/sub/b.ipynb[rerun]", reason: "too small"}}
"""
NOTEBOOKS = {"a.ipynb": "{}", "sub/b.ipynb": "{}", "later.ipynb": "{}", "README.md": "x"}


class Sources:
    def __init__(self, tmp: Path, registry: FakeRegistry) -> None:
        self.registry = registry
        self.env = user_env(tmp / "home", GRT_DOCKER_HUB_URL=registry.url)
        self.repo = tmp / "origin"
        self.commit = make_repo(self.repo, self.env, NOTEBOOKS)
        instead_of(self.env, URL, self.repo)
        self.digest = registry.add_image("org/img", "1.0")
        self.matrices = tmp / "matrices"
        (self.matrices / "runtimes").mkdir(parents=True)
        (self.matrices / "machines.yaml").write_text(MACHINES)
        self.runtime_file = self.matrices / "runtimes" / "demo.yaml"
        self.runtime_file.write_text(RUNTIME)

    def plan(
        self, capsys: pytest.CaptureFixture[str], *argv: str, **env: str
    ) -> tuple[int, str, str]:
        code = main(
            ["plan", "--matrices", str(self.matrices), "--check-sources", *argv],
            env={**self.env, **env},
        )
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err


@pytest.fixture
def sources(tmp_path: Path) -> Iterator[Sources]:
    with FakeRegistry() as registry:
        yield Sources(tmp_path, registry)


def test_everything_present_passes(sources: Sources, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = sources.plan(capsys)
    assert code == 0, err
    assert "Demo     C5" in out  # the plan table is still there
    row = next(line for line in out.splitlines() if line.startswith("Demo ") and "present" in line)
    assert row.split() == [
        "Demo",
        sources.commit[:12],
        "3/3",
        "present",
        "found",
        sources.digest[:19],
    ]
    assert err == "Sources: everything listed is there (1 runtime checked).\n"


def test_a_notebook_missing_at_the_ref_is_named_and_exits_1(
    sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = remove(sources.repo, sources.env, "sub/b.ipynb")
    code, _, err = sources.plan(capsys)
    assert code == 1
    at = f"{URL} ({newer[:12]})"
    assert err.splitlines() == [
        f"ERROR: {sources.runtime_file}: notebooks: 'sub/b.ipynb' is not in {at}",
        f"ERROR: {sources.runtime_file}: expected_failures: 'notebooks/sub/b.ipynb[rerun]' (machine A4000) names a notebook that is not in {at}",
        "Sources: 2 problems (1 runtime checked).",
    ]
    # the commit that still has it passes: the ref is what is checked
    code, _, err = sources.plan(capsys, "--workspace-ref", sources.commit)
    assert code == 0, err


def test_a_skipped_notebook_that_is_gone_is_named_with_a_suggestion(
    sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    remove(sources.repo, sources.env, "later.ipynb")
    (sources.repo / "data").mkdir()
    (sources.repo / "data" / "later.ipynb").write_text("{}")
    commit(sources.repo, sources.env, {}, "moved")
    code, _, err = sources.plan(capsys)
    assert code == 1
    assert (
        "notebooks: 'later.ipynb' (listed as skipped: needs a dataset) is not in"
        in err.splitlines()[0]
    )
    assert err.splitlines()[0].endswith("; did you mean 'data/later.ipynb'?")


def test_a_ref_that_does_not_exist_is_a_problem(
    sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = sources.plan(capsys, "--workspace-ref", "release-2")
    assert code == 1
    assert (
        f"workspace_ref: 'release-2' is not a branch or tag of {URL} (valid: main)"
        " (its notebooks were not checked)"
    ) in err


def test_a_missing_image_tag_exits_1_and_an_unreachable_registry_only_warns(
    sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    sources.runtime_file.write_text(RUNTIME.replace("org/img:1.0", "org/img:2.0"))
    code, _, err = sources.plan(capsys)
    assert code == 1
    assert (
        f"container: 'org/img:2.0' is not in {sources.registry.host}: no manifest for '2.0' (MANIFEST_UNKNOWN)"
        in err
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    code, _, err = sources.plan(capsys, GRT_DOCKER_HUB_URL=closed)
    assert code == 0
    (warning, summary) = err.splitlines()
    assert warning.startswith(f"WARNING: {sources.runtime_file}: container: 'org/img:2.0' could")
    assert summary == "Sources: 1 warning (1 runtime checked)."


def test_an_image_on_another_registry_is_asked_there(
    sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeRegistry() as other:
        digest = other.add_image("team/runtime", "7")
        image = f"{other.host}/team/runtime:7"
        sources.runtime_file.write_text(RUNTIME.replace("org/img:1.0", image))
        code, out, err = sources.plan(capsys, "--format", "json")
        assert code == 0, err
        assert other.manifest_requests() and not sources.registry.requests
    (report,) = json.loads(out)["sources"]
    assert report["container"] == {
        "image": image,
        "registry": other.host,
        "status": "found",
        "digest": digest,
    }


def test_json_carries_the_commit_and_the_digest(
    sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = sources.plan(capsys, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["cells"]) == 2
    assert data["sources"] == [
        {
            "runtime": "Demo",
            "source": str(sources.runtime_file),
            "workspace": {"url": URL, "ref": None, "commit": sources.commit, "notebooks": 3},
            "container": {
                "image": "org/img:1.0",
                "registry": sources.registry.host,
                "status": "found",
                "digest": sources.digest,
            },
            "findings": [],
        }
    ]


def test_github_matrix_output_stays_a_matrix_and_findings_are_annotations(
    sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    remove(sources.repo, sources.env, "a.ipynb")
    code, out, err = sources.plan(capsys, "--format", "github-matrix", GITHUB_ACTIONS="true")
    assert code == 1
    assert len(json.loads(out)["include"]) == 2
    assert err.splitlines()[0].startswith(
        f"::error file={sources.runtime_file}::notebooks: 'a.ipynb' is not in"
    )


def test_without_the_flag_nothing_is_contacted(
    sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["plan", "--matrices", str(sources.matrices)], env=sources.env)
    out, err = capsys.readouterr()
    assert code == 0 and "Sources" not in out + err
    assert sources.registry.requests == []


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["--workspace-ref=-x"],
            {},
            "ERROR: --workspace-ref: '-x' is not valid (valid: a branch, tag or commit)",
        ),
        (
            [],
            {"GRT_DOCKER_HUB_URL": "ftp://mirror"},
            "ERROR: GRT_DOCKER_HUB_URL: 'ftp://mirror' is not valid (valid: an http(s):// registry URL)",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    sources: Sources,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    code, out, err = sources.plan(capsys, *argv, **env)
    assert (code, out, err) == (2, "", message + "\n")
    assert sources.registry.requests == []


def test_a_local_workspace_folder_is_checked_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example runtime (workspace: ../workspace) passes; a copy missing a notebook fails."""
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples)
    env = user_env(tmp_path / "home")
    with FakeRegistry() as hub:
        hub.add_image("paperspace/gradient-base", "pt211-tf215-cudatk120-py311-20240202")
        env["GRT_DOCKER_HUB_URL"] = hub.url
        argv = ["plan", "--matrices", str(examples / "matrices"), "--check-sources"]
        assert main(argv, env=env) == 0, capsys.readouterr().err
        (examples / "workspace" / "analysis" / "summary.ipynb").unlink()
        code = main(argv, env=env)
    _, err = capsys.readouterr()
    assert code == 1
    assert f"notebooks: 'analysis/summary.ipynb' is not in {examples / 'workspace'}" in err
