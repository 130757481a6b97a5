"""The real workflow files and action.yml, run by act on this machine (tests/action/act.py) against
the fake Paperspace and fake GitHub APIs. Assertions read act's event stream (job and step
results, step outputs, workflow commands) and what the fakes recorded.

A new scenario: a Sandbox (the repository and the runner), the fakes it needs in `sandbox.env`,
an event payload, `sandbox.run(...)`, then assertions on the ActRun and the fakes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gradient_runtime_test.command import harness_archive
from tests.action.act import REPO, UV_CACHE, ActRun, Sandbox, repository
from tests.carried import carried_harness
from tests.conftest_paperspace import FAKE_API_KEY
from tests.dashboard.samples import history_files
from tests.fakes.github import FakeGitHub
from tests.fakes.paperspace import FakePaperspace
from tests.harness.helpers import fake_nvidia_smi

pytestmark = [pytest.mark.slow, pytest.mark.server]

TOKEN = "ghs_act_canary_5d2e7a"  # the job's GITHUB_TOKEN (an installation token)
PROJECT = "prj0act1"
PR = 7
PROBE_WORKSPACE = "https://github.com/octo/act-probe"
# A runtime that passes on this machine: no GPU, no notebook, checks that hold here.
PROBE = f"""\
name: Act Probe
container: "paperspace/gradient-base:pt211-tf215-cudatk120-py311-20240202"
workspace: {PROBE_WORKSPACE}
workspace_ref: main
shutdown_timeout: 1
machines: [C5]
notebooks: []
checks:
  commands: [bash, git]
  imports: [json]
"""
PROBE_FILE = "matrices/runtimes/act-probe.yaml"
PROBE_CELL = {"runtime": "Act Probe", "slug": "act-probe", "machine": "C5", "cell": "act-probe--C5"}


def pull_request_event(
    number: int,
    commits: dict[str, str],
    head_repo: str = "octo/runtimes",
    base_repo: str = "octo/runtimes",
) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {
                "sha": commits["head"],
                "ref": "change",
                "repo": repository(head_repo) | {"fork": head_repo != base_repo},
            },
            "base": {"sha": commits["base"], "ref": "main", "repo": repository(base_repo)},
        },
        "repository": repository(base_repo),
    }


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_token(TOKEN, kind="installation")
        yield fake


@pytest.fixture
def paperspace(fake_paperspace: FakePaperspace, tmp_path: Path) -> FakePaperspace:
    fake_paperspace.hour_s = 600.0  # shutdown_timeout 1 h = 10 min here: never reached
    workspace = tmp_path / "probe-workspace"
    workspace.mkdir()
    (workspace / "README.md").write_text("The Act Probe runtime's workspace\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "workspace"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=workspace, check=True
        )
    fake_paperspace.repositories[PROBE_WORKSPACE] = workspace
    gpu_bin = tmp_path / "gpu-bin"
    fake_nvidia_smi(gpu_bin)  # an A4000 "machine" sees an RTX A4000
    fake_paperspace.machine_bins["A4000"] = gpu_bin
    return fake_paperspace


@pytest.fixture
def sandbox(tmp_path: Path, github: FakeGitHub, paperspace: FakePaperspace) -> Sandbox:
    """The project's repository with the probe runtime on main, and a runner pointed at the fakes."""
    box = Sandbox(tmp_path / "act")
    box.commit("Add the Act Probe runtime", {PROBE_FILE: PROBE})
    # the action's sources check reaches the probe's workspace too, as Gradient does
    box.map_url(PROBE_WORKSPACE, paperspace.repositories[PROBE_WORKSPACE])
    box.env.update(paperspace.env())
    box.env.update(
        {
            "GITHUB_API_URL": github.url,
            "GRT_POLL_INTERVAL": "0.2",
            "GRT_UNAVAILABLE_DELAY": "0.5",
            "GRT_RETRY_BACKOFF": "0.05",
        }
    )
    return box


SECRETS = {"GITHUB_TOKEN": TOKEN, "PAPERSPACE_API_KEY": FAKE_API_KEY}
VARIABLES = {"PAPERSPACE_PROJECT_ID": PROJECT}


# --- ci.yml: the action job (run, plan and report modes, local provider) -----------------------


def test_ci_action_job_runs_plans_and_reports(sandbox: Sandbox) -> None:
    run = sandbox.run(
        "push",
        {"ref": "refs/heads/main", "repository": repository()},
        workflow=".github/workflows/ci.yml",
        job="action",
    )
    assert run.job("action") == "success", run
    outputs = run.outputs("action", "run")
    assert (outputs["conclusion"], outputs["passed"], outputs["failed"]) == ("passed", "1", "0"), (
        run
    )
    assert outputs["results"] == "grt-results/results.json"
    # local provider: the notebooks ran in a step without secrets, the grt step published
    assert run.step("action", "run", "local") == "success"
    plan = run.outputs("action", "plan")
    assert json.loads(plan["matrix"]) == {
        "include": [
            {"runtime": "Example", "slug": "example", "machine": "C5", "cell": "example--C5"}
        ]
    }
    assert run.outputs("action", "report")["conclusion"] == "passed"
    # each `uses: ./` set up the pinned uv and Python 3.12 from the runner's tool cache
    assert run.outputs("action", "run", "1")["uv-version"] == "0.13.9"
    assert run.outputs("action", "run", "python")["python-version"].startswith("3.12.")
    # the results went to the artifact server under the names the action gives them
    artifacts = sandbox.root / "artifacts" / "1"
    assert sorted(p.name for p in artifacts.iterdir()) == ["grt-report", "grt-results-Example"]
    assert (
        json.loads((artifacts / "grt-results-Example" / "results.json").read_text())["runtime"]
        == "Example"
    )
    # with each executed notebook's HTML page, in the run's artifact and the report's
    for name in ("grt-results-Example", "grt-report"):
        pages = sorted(p.name for p in (artifacts / name / "notebooks" / "C5").glob("*.html"))
        assert pages == ["hello.html", "magics.html"], name


# --- runtime-test.yml: plan -> one job per cell -> report -------------------------------------


def assert_cell_ran_and_ended(
    paperspace: FakePaperspace, machine: str, *, ref: str | None = None
) -> None:
    """One notebook, on `machine`, created and ended (deleted) by the run job."""
    notebooks = list(paperspace.notebooks.values())
    assert [n.spec.machine_type for n in notebooks] == [machine]
    assert notebooks[0].deleted
    if ref is not None:
        assert notebooks[0].spec.workspace_ref == ref


def test_runtime_test_on_a_pull_request_plans_from_the_diff_and_comments(
    sandbox: Sandbox, github: FakeGitHub, paperspace: FakePaperspace
) -> None:
    # The pull request changes the probe runtime (and a file outside matrices/).
    changed = PROBE.replace("imports: [json]", "imports: [json, sqlite3]")
    commits = sandbox.pull_request(PR, "change", {PROBE_FILE: changed, "README.md": "changed\n"})
    github.add_pull(PR, commits["head"])
    run = sandbox.run(
        "pull_request", pull_request_event(PR, commits),
        workflow=".github/workflows/runtime-test.yml", secrets=SECRETS, variables=VARIABLES,
    )  # fmt: skip
    assert run.job_results() == {"plan": ["success"], "run": ["success"], "report": ["success"]}, (
        run
    )
    assert run.outputs("plan", "changed")["files"] == PROBE_FILE
    assert json.loads(run.outputs("plan", "plan")["matrix"]) == {"include": [PROBE_CELL]}
    assert run.outputs("plan", "plan")["cells"] == "1"
    report = run.outputs("report", "report")
    assert (report["conclusion"], report["passed"]) == ("passed", "1"), run
    # The pull request's checkout ran on the fake Paperspace: the changed runtime, on C5.
    assert_cell_ran_and_ended(paperspace, "C5")
    # One comment on the pull request, one check run on its head commit.
    (comment,) = github.comments_on(PR)
    assert "Act Probe" in comment.body and "C5" in comment.body
    (check,) = github.check_runs.values()
    assert check.head_sha == commits["head"]
    assert report["comment-url"].endswith(f"/pull/{PR}#issuecomment-{comment.id}")
    # every request to GitHub came with the job's token; no secret reached the log in clear
    assert {r.token for r in github.log} == {TOKEN}
    assert TOKEN not in run.log() and FAKE_API_KEY not in run.log()


def results_in_artifact(sandbox: Sandbox, name: str) -> dict[str, Any]:
    """results.json of an artifact of the run, as act's artifact server stored it."""
    data = json.loads((sandbox.root / "artifacts" / "1" / name / "results.json").read_text())
    assert isinstance(data, dict)
    return data


def test_runtime_test_on_workflow_dispatch_reports_a_failed_cell_in_a_check_run(
    sandbox: Sandbox, github: FakeGitHub, paperspace: FakePaperspace
) -> None:
    """A shipped runtime on one GPU machine: its checks fail here (no torch), so the cell fails,
    the run job fails, and the report (always run) says so in a check run; no comment."""
    inputs = {
        "runtime": "Start from Scratch",
        "machines": "A4000",
        "cluster-id": "",
        "workspace-ref": "",
    }
    payload = {"inputs": inputs, "ref": "refs/heads/main", "repository": repository()}
    run = sandbox.run(
        "workflow_dispatch", payload,
        workflow=".github/workflows/runtime-test.yml", secrets=SECRETS, variables=VARIABLES,
    )  # fmt: skip
    assert run.job_results() == {"plan": ["success"], "run": ["failure"], "report": ["failure"]}, (
        run
    )
    cell = {
        "runtime": "Start from Scratch",
        "slug": "start-from-scratch",
        "machine": "A4000",
        "cell": "start-from-scratch--A4000",
    }
    assert json.loads(run.outputs("plan", "plan")["matrix"]) == {"include": [cell]}
    assert_cell_ran_and_ended(paperspace, "A4000")
    (result,) = results_in_artifact(sandbox, "grt-results-Start-from-Scratch-A4000")["cells"]
    assert result["status"] == "failed"
    assert {t["name"]: t["status"] for t in result["tests"]}["checks/import.torch"] == "failed"
    report = run.outputs("report", "report")
    assert (report["conclusion"], report["failed"], report["comment-url"]) == ("failed", "1", "")
    (check,) = github.check_runs.values()
    assert check.data["conclusion"] == "failure"
    assert github.comments == {}


def test_runtime_test_on_repository_dispatch_tests_the_workspace_ref(
    sandbox: Sandbox, github: FakeGitHub, paperspace: FakePaperspace
) -> None:
    """A workspace repository says it changed: its runtime is tested at the commit it names; the
    report neither comments (the pull request is the workspace's) nor opens a check run."""
    workspace = paperspace.repositories[PROBE_WORKSPACE]
    ref = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True, text=True, check=True
    ).stdout.strip()
    payload = {
        "action": "workspace-changed",
        "client_payload": {"runtime": "Act Probe", "ref": ref, "pr": 12},
        "repository": repository(),
    }
    run = sandbox.run(
        "repository_dispatch", payload,
        workflow=".github/workflows/runtime-test.yml", secrets=SECRETS, variables=VARIABLES,
    )  # fmt: skip
    assert run.job_results() == {"plan": ["success"], "run": ["success"], "report": ["success"]}, (
        run
    )
    assert run.outputs("plan", "target") == {"runtime": "Act Probe", "workspace-ref": ref}
    assert json.loads(run.outputs("plan", "plan")["matrix"]) == {"include": [PROBE_CELL]}
    assert_cell_ran_and_ended(paperspace, "C5", ref=ref)
    assert run.outputs("report", "report")["conclusion"] == "passed"
    assert github.check_runs == {} and github.comments == {}
    assert not github.requests("POST")


# --- action.yml's harness-from: the notebook command downloads the harness --------------------

HARNESS_URL = "https://127.0.0.1:9/grt-harness.pyz"  # nothing listens: the download fails at once
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"


def test_harness_from_makes_the_notebook_command_download_this_grts_archive(
    sandbox: Sandbox, paperspace: FakePaperspace
) -> None:
    """One job, a step per case (`uses: ./`, so `release` has no release to name); the `release`
    form through `uses: OWNER/REPO@TAG` is in test_act_inputs.py."""
    probe = {
        "runtime": "Act Probe",
        "api-key": FAKE_API_KEY,
        "project-id": PROJECT,
        "check-sources": "false",
        "fail-on": "never",
    }
    cases = {
        "url": {**probe, "harness-from": HARNESS_URL},
        "plain-http": {**probe, "harness-from": "http://127.0.0.1:9/grt-harness.pyz"},
        "release-here": {**probe, "harness-from": "release"},
    }
    steps: list[dict[str, Any]] = [{"uses": CHECKOUT, "with": {"persist-credentials": False}}]
    steps += [
        {"id": case, "uses": "./", "continue-on-error": True, "with": inputs}
        for case, inputs in cases.items()
    ]
    workflow = {
        "name": "Harness from",
        "on": "workflow_dispatch",
        "permissions": {},
        "jobs": {"cases": {"runs-on": "ubuntu-latest", "steps": steps}},
    }
    sandbox.commit("Cases", {".github/workflows/cases.yml": yaml.safe_dump(workflow, width=1000)})
    payload = {"inputs": {}, "ref": "refs/heads/main", "repository": repository()}
    run = sandbox.run("workflow_dispatch", payload, workflow=".github/workflows/cases.yml")
    # The URL: grt got it, and the one notebook's command only downloads the archive, checked
    # against the sha256 of this grt's own (what `grt harness` writes and release.yml uploads).
    assert run.step("cases", "url", "grt") == "success", run.step_log("cases", "url")
    assert run.outputs("cases", "url", "prep")["harness-from"] == HARNESS_URL
    (notebook,) = paperspace.notebooks.values()
    command = notebook.spec.command or ""
    sha256 = hashlib.sha256(harness_archive()).hexdigest()
    assert carried_harness(command) == f"{HARNESS_URL} {sha256}"
    assert len(command) < 3_000
    # Nothing listens there: the notebook failed before Jupyter; the cell is an error, and ended.
    assert run.outputs("cases", "url")["conclusion"] == "error"
    assert_cell_ran_and_ended(paperspace, "C5")
    # Refused before anything: one line naming the input and what is valid.
    for case, said in (
        (
            "plain-http",
            "harness-from: 'http://127.0.0.1:9/grt-harness.pyz' is not valid (valid: an https:// URL",
        ),
        ("release-here", "harness-from: 'release' needs the release this action runs at"),
    ):
        assert run.step("cases", case, "prep") == "failure", run.step_log("cases", case)
        (error,) = run.commands("error", "cases", case)
        assert error.startswith(said), error
        assert run.step("cases", case, "grt") is None
    assert FAKE_API_KEY not in run.log()


# --- docs/examples/workspace-repo.yml: a pull request from a fork -----------------------------


def test_fork_pull_request_in_a_workspace_repository_is_skipped_with_a_warning(
    tmp_path: Path, github: FakeGitHub, paperspace: FakePaperspace
) -> None:
    """The documented workflow of a runtime's workspace repository (gradient-ai/PyTorch), using
    the action as `gradient-ai/gradient-runtime-test@v1`: a fork's pull request has no secrets,
    so the run is skipped with a warning, and nothing is created or posted."""
    example = (REPO / "docs" / "examples" / "workspace-repo.yml").read_text()
    files = {".github/workflows/runtime-test.yml": example, "README.md": "PyTorch examples\n"}
    box = Sandbox(tmp_path / "act", slug="gradient-ai/PyTorch", files=files)
    box.env["GITHUB_API_URL"] = github.url
    commits = box.pull_request(PR, "change", {"README.md": "a fork's change\n"})
    github.add_pull(PR, commits["head"], head_repo="forker/PyTorch")
    payload = pull_request_event(
        PR, commits, head_repo="forker/PyTorch", base_repo="gradient-ai/PyTorch"
    )
    run = box.run(
        "pull_request",
        payload,
        workflow=".github/workflows/runtime-test.yml",
        secrets={"GITHUB_TOKEN": TOKEN},
    )
    assert run.job("test") == "success", run
    (warning,) = run.commands("warning", "test")
    assert "comes from a fork" in warning and "no notebook was created" in warning
    (step,) = [s for s in run.steps("test") if len(s) == 1]  # the action's step
    assert run.outputs("test", *step)["conclusion"] == "skipped"
    assert run.step("test", *step, "grt") in (None, "skipped")
    assert paperspace.requests == [] and github.comments == {} and github.check_runs == {}


# --- release.yml: the major tag follows stable releases only; every release gets the asset ------

ASSET = "grt-harness.pyz"


@pytest.fixture
def releases(tmp_path: Path, github: FakeGitHub) -> Sandbox:
    """The project with v1.2.2 released (v1 on it) and a newer commit tagged for each case; the
    fake GitHub holds the releases (their assets)."""
    box = Sandbox(tmp_path / "act")  # the asset job builds the archive with uv, offline
    box.env.update({"GITHUB_API_URL": github.url, "UV_CACHE_DIR": str(box.home / UV_CACHE)})
    box.tag("v1.2.2")
    box.tag("v1")
    box.commit("A change after v1.2.2")
    return box


def release(
    box: Sandbox,
    tag: str,
    *,
    prerelease: bool,
    github: FakeGitHub,
    job: str | None = None,
    rid: int | None = None,
) -> tuple[ActRun, int]:
    """release.yml on the `published` event of the release `rid` (default: a new one) of `tag`;
    the run and the release's id in the fake GitHub. `job`: only that job."""
    rid = rid or github.add_release(tag)
    payload = {
        "action": "published",
        "release": {
            "id": rid, "tag_name": tag, "name": tag, "prerelease": prerelease, "draft": False,
            **github.release_urls(rid),
        },
        "repository": repository(),
    }  # fmt: skip
    run = box.run(
        "release",
        payload,
        workflow=".github/workflows/release.yml",
        job=job,
        secrets={"GITHUB_TOKEN": TOKEN},
    )
    return run, rid


def assert_asset_is_this_grts_harness(run: ActRun, github: FakeGitHub, rid: int) -> None:
    """The release holds one grt-harness.pyz: the archive `grt harness` writes at this tree (the
    released commit is a copy of it), so `harness-from` notebooks accept it."""
    assert run.job("harness-asset") == "success", run
    (asset,) = github.assets_of(rid).values()
    assert (asset.name, asset.content_type) == (ASSET, "application/octet-stream")
    expected = hashlib.sha256(harness_archive()).hexdigest()
    assert hashlib.sha256(asset.data).hexdigest() == expected
    assert run.outputs("harness-asset", "build") == {"sha256": expected}
    assert any(f"sha256 {expected}" in n for n in run.commands("notice", "harness-asset"))
    uploads = github.requests("POST", r"/releases/\d+/assets$")
    assert [(r.token, r.query) for r in uploads] == [(TOKEN, {"name": ASSET})]


# --- dashboard.yml: the run history as a site, deployed to "GitHub Pages" ---------------------


def test_dashboard_builds_the_site_of_the_history_branch_and_deploys_it(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "act")
    box.map_url("https://github.com/octo/runtimes.git", box.origin)  # where grt history reads
    box.push_branch("grt-history", history_files())  # what runtime-test.yml's report job keeps
    run = box.run(
        "workflow_dispatch",
        {"inputs": {}, "ref": "refs/heads/main", "repository": repository()},
        workflow=".github/workflows/dashboard.yml",
        variables={"DASHBOARD_URL": "https://octo.github.io/runtimes/"},
    )
    assert run.job_results() == {"build": ["success"], "deploy": ["success"]}, run
    assert run.outputs("build", "dashboard")["site"] == "site"
    assert "published at https://octo.github.io/runtimes/" in run.summary("build", "dashboard")
    assert run.outputs("deploy", "deployment")["page_url"] == "https://octo.github.io/runtimes/"
    site = box.home / "pages" / "runtimes"  # the deploy-pages stand-in's "Pages"
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")) == [
        "index.html",
        "runtimes/pytorch-1-12.html",
        "runtimes/tensorflow-2-9-1.html",
    ]
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "PyTorch 1.12" in index and "TensorFlow 2.9.1" in index and "Free-GPU" in index


def test_release_moves_the_major_tag_to_a_stable_release_and_uploads_the_asset(
    releases: Sandbox, github: FakeGitHub
) -> None:
    released = releases.tag("v1.3.0")
    before = releases.origin_ref("refs/tags/v1")
    assert before != released
    # an asset of that name (a re-run, or one uploaded by hand) is replaced; another release's
    # is left alone
    rid = github.add_release("v1.3.0")
    stale = github.add_asset(rid, ASSET, b"stale")
    older = github.add_release("v1.2.2")
    github.add_asset(older, ASSET, b"v1.2.2's")
    run, _ = release(releases, "v1.3.0", prerelease=False, github=github, rid=rid)
    assert run.job("move-major-tag") == "success", run
    assert_asset_is_this_grts_harness(run, github, rid)
    assert stale not in github.assets
    assert [r.path.rsplit("/", 1)[1] for r in github.requests("DELETE")] == [str(stale)]
    assert github.assets_of(older)[ASSET].data == b"v1.2.2's"
    assert run.outputs("move-major-tag", "tag") == {"major": "v1"}
    assert releases.origin_ref("refs/tags/v1") == released
    assert any("v1 now points at v1.3.0" in n for n in run.commands("notice"))


@pytest.mark.parametrize("tag", ["v1.3.0-rc1", "v1.3.0"])
def test_a_pre_release_leaves_the_major_tag_alone_and_gets_the_asset(
    releases: Sandbox, github: FakeGitHub, tag: str
) -> None:
    releases.tag(tag)
    before = releases.origin_ref("refs/tags/v1")
    # the asset once (a pinned release candidate needs it), the major tag for both names
    job = None if tag.endswith("-rc1") else "move-major-tag"
    run, rid = release(releases, tag, prerelease=True, github=github, job=job)
    assert run.job("move-major-tag") == "success", run
    if job is None:
        assert_asset_is_this_grts_harness(run, github, rid)
    assert run.outputs("move-major-tag", "tag") == {}
    assert run.step("move-major-tag", "2") in (None, "skipped")  # the push
    assert releases.origin_ref("refs/tags/v1") == before
    assert run.commands("notice", "move-major-tag") == [
        f"{tag} is a pre-release: no major tag moves"
    ]


def test_a_stable_release_with_a_pre_release_tag_fails_and_moves_nothing(
    releases: Sandbox, github: FakeGitHub
) -> None:
    releases.tag("v1.3.0-rc2")
    before = releases.origin_ref("refs/tags/v1")
    run, _ = release(releases, "v1.3.0-rc2", prerelease=False, github=github, job="move-major-tag")
    assert run.job("move-major-tag") == "failure"
    (error,) = run.commands("error", "move-major-tag")
    assert "'v1.3.0-rc2' is not vMAJOR.MINOR.PATCH" in error
    assert releases.origin_ref("refs/tags/v1") == before


# --- the runs fail when a workflow or action.yml is broken (here: a copy of it) ----------------

PLAN_WORKFLOW = """\
name: Plan
on: push
permissions: {}
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - id: plan
        uses: ./
        with:
          mode: plan
          matrices: examples/matrices
"""
PUSH = {"ref": "refs/heads/main", "repository": repository()}


def test_the_uv_cache_saved_by_one_run_is_restored_by_the_next(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "act")
    box.commit("A workflow that plans", {".github/workflows/plan.yml": PLAN_WORKFLOW})
    first = box.run("push", PUSH, workflow=".github/workflows/plan.yml")
    second = box.run("push", PUSH, workflow=".github/workflows/plan.yml")
    for run in (first, second):
        assert run.job("plan") == "success", run
        assert run.outputs("plan", "plan")["cells"] == "1"
    assert first.outputs("plan", "plan", "cache") == {"cache-hit": "false"}
    assert second.outputs("plan", "plan", "cache") == {"cache-hit": "true"}


# What breaks: (a line of action.yml, what it becomes, the step that fails, as act names it).
BROKEN = {
    "setup-uv without a version": (
        '        version: "0.13.9" # pinned: without it setup-uv asks GitHub for the latest uv at every run\n',
        "",
        ("run", "1"),
    ),
    "the runtime dropped from the local step's grt arguments": (
        '        args=(run --matrices "$GRT_MATRICES_DIR" --runtime "$GRT_RUNTIME" --provider local\n',
        '        args=(run --matrices "$GRT_MATRICES_DIR" --provider local\n',
        ("run", "local"),
    ),
    "the local step's results not published": (
        '              args=(report --results "$INPUT_OUT/results.json" --out "$INPUT_OUT" --fail-on "$INPUT_FAIL_ON"\n',
        '              args=(report --results "$INPUT_OUT/missing.json" --out "$INPUT_OUT" --fail-on "$INPUT_FAIL_ON"\n',
        ("run", "grt"),
    ),
    "an output read from a misspelled step output": (
        "    value: ${{ steps.grt.outputs.conclusion || steps.prep.outputs.conclusion }}\n",
        "    value: ${{ steps.grt.outputs.conclusoin || steps.prep.outputs.conclusion }}\n",
        ("2",),  # ci.yml's check of the run's outputs
    ),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_copy_of_the_action_fails_the_ci_job(tmp_path: Path, name: str) -> None:
    old, new, failing = BROKEN[name]
    box = Sandbox(tmp_path / "act")
    text = (box.work / "action.yml").read_text()
    assert text.count(old) == 1, "action.yml changed: update this test's breakage"
    box.commit(f"Break action.yml: {name}", {"action.yml": text.replace(old, new)})
    run = box.run("push", PUSH, workflow=".github/workflows/ci.yml", job="action")
    assert run.job("action") == "failure"
    assert run.step("action", "0") == "success"  # the checkout: the broken copy is what ran
    assert run.step("action", *failing) == "failure", run
    assert run.step("action", "plan") is None  # nothing after the failure ran


OLD_RELEASE_CHECK = """\
          if ! [[ $TAG =~ ^v([0-9]+)\\.[0-9]+\\.[0-9]+$ ]]; then
            echo "::error::release tag '$TAG' is not vMAJOR.MINOR.PATCH (valid: e.g. v1.4.2)"
            exit 1
          fi
          major="v${BASH_REMATCH[1]}"
          if [ "$PRERELEASE" = true ]; then
            echo "::notice::$TAG is a pre-release: $major stays where it is"
            exit 0
          fi
          echo "major=$major" >> "$GITHUB_OUTPUT"
"""


def test_the_old_release_check_fails_on_a_release_candidate(
    releases: Sandbox, github: FakeGitHub
) -> None:
    """release.yml before the fix checked the tag's form before the pre-release flag."""
    path = releases.work / ".github" / "workflows" / "release.yml"
    text = path.read_text()
    start = text.index("          # A pre-release")
    end = text.index('          echo "major=v${BASH_REMATCH[1]}" >> "$GITHUB_OUTPUT"\n')
    end += len('          echo "major=v${BASH_REMATCH[1]}" >> "$GITHUB_OUTPUT"\n')
    releases.commit(
        "The old check",
        {str(path.relative_to(releases.work)): text[:start] + OLD_RELEASE_CHECK + text[end:]},
    )
    releases.tag("v1.3.0-rc1")
    run, _ = release(releases, "v1.3.0-rc1", prerelease=True, github=github, job="move-major-tag")
    assert run.job("move-major-tag") == "failure"
    (error,) = run.commands("error", "move-major-tag")
    assert "is not vMAJOR.MINOR.PATCH" in error
