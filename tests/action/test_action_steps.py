"""action.yml's shell steps run the way the runner runs them (tests/action/runner.py): step `env:`
evaluated from the inputs and the event, GITHUB_OUTPUT/GITHUB_STEP_SUMMARY per step, the installed
environment standing in for the install steps. Against the example runtime with the local
provider, and the fake GitHub API for the pull request comment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.action.runner import REPO, ActionRun, Job, run_action
from tests.fakes.github import FakeGitHub
from tests.github.helpers import HEAD, PR

EVENTS = REPO / "tests" / "github" / "events"
TOKEN = "ghs_action_canary_7c1e"
API_KEY = "ps_action_canary_4b9d"
EXAMPLE = {"provider": "local", "matrices": "examples/matrices", "runtime": "Example"}


def event(name: str) -> dict[str, Any]:
    data = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def job(tmp_path: Path, event_name: str, payload: dict[str, Any] | None = None, **kw: Any) -> Job:
    return Job(tmp_path, event_name, event(event_name) if payload is None else payload, **kw)


def workflow_commands(run: ActionRun, level: str) -> list[str]:
    return [line for line in run.log.splitlines() if line.startswith(f"::{level}")]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_token(TOKEN, kind="installation")
        server.add_pull(PR, HEAD)
        yield server


# --- run mode: the example runtime on this machine ----------------------------------------------


@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.server
def test_run_on_a_pull_request_comments_and_sets_outputs(
    tmp_path: Path, github: FakeGitHub
) -> None:
    out = tmp_path / "results"
    j = job(tmp_path, "pull_request", token=TOKEN, api_url=github.url)
    run = run_action(j, {**EXAMPLE, "out": str(out), "comment": "true", "api-key": API_KEY})
    assert run.status == "success", run.log
    assert run.outputs["conclusion"] == "passed"
    assert (run.outputs["passed"], run.outputs["failed"], run.outputs["errored"]) == ("1", "0", "0")
    assert run.outputs["results"] == str(out / "results.json")
    assert json.loads((out / "results.json").read_text())["runtime"] == "Example"
    assert run.outputs["junit"] == str(out / "junit.xml") and (out / "junit.xml").is_file()
    assert "Example" in run.summary and "passed" in run.summary
    # the comment went to the pull request of the event, with the default token input
    comments = github.comments_on(PR)
    assert len(comments) == 1 and "Example" in comments[0].body
    assert run.outputs["comment-url"].startswith("https://github.com/octo/runtimes/pull/7")
    prep = run.step("prep")
    assert prep.outputs["artifact-name"] == "grt-results-Example"
    assert prep.outputs["workspace-ref"] == ""  # this repository is not Example's workspace
    assert f"::add-mask::{API_KEY}" in prep.stdout
    local = run.step("local")  # the notebooks ran on this runner, in a step without any secret
    assert (
        "+ grt run --matrices examples/matrices --runtime Example --provider local" in local.stdout
    )
    assert TOKEN not in json.dumps(local.env) and API_KEY not in json.dumps(local.env)
    assert (local.env["GITHUB_TOKEN"], local.env["PAPERSPACE_API_KEY"]) == ("", "")
    assert "+ grt report --results" in run.step("grt").stdout  # publishing, with the token
    # secrets are printed only to be masked
    assert [line for line in run.log.splitlines() if API_KEY in line or TOKEN in line] == [
        f"::add-mask::{API_KEY}"
    ] * run.log.count(API_KEY)


@pytest.mark.slow
@pytest.mark.kernel
def test_run_on_workflow_dispatch_with_a_machine_list(tmp_path: Path) -> None:
    out = tmp_path / "results"
    secrets = {"GITHUB_TOKEN": TOKEN, "GH_TOKEN": TOKEN, "PAPERSPACE_API_KEY": API_KEY}
    j = job(tmp_path, "workflow_dispatch", extra_env=secrets)  # a job that exports secrets
    run = run_action(j, {**EXAMPLE, "out": str(out), "machines": " C5,\n", "keep": "never"})
    assert run.status == "success", run.log
    assert {name: run.step("local").env[name] for name in secrets} == dict.fromkeys(secrets, "")
    assert run.outputs["conclusion"] == "passed" and run.outputs["passed"] == "1"
    assert run.outputs["comment-url"] == ""
    assert "--machine C5" in run.step("local").stdout
    assert run.step("prep").outputs["artifact-name"] == "grt-results-Example-C5"
    assert "Example" in run.summary


# --- plan mode --------------------------------------------------------------------------------


def test_plan_writes_the_matrix_and_the_summary(tmp_path: Path) -> None:
    run = run_action(
        job(tmp_path, "workflow_dispatch"), {"mode": "plan", "matrices": "examples/matrices"}
    )
    assert run.status == "success", run.log
    assert json.loads(run.outputs["matrix"]) == {
        "include": [
            {"runtime": "Example", "slug": "example", "machine": "C5", "cell": "example--C5"}
        ]
    }
    assert run.outputs["cells"] == "1"
    assert "gradient-runtime-test plan" in run.summary and "Example" in run.summary
    assert run.outputs["conclusion"] == ""
    assert "artifact-name" not in run.step("prep").outputs  # nothing to upload


def test_plan_on_changed_files_plans_only_their_runtimes(tmp_path: Path) -> None:
    inputs = {
        "mode": "plan",
        "changed-files": "matrices/runtimes/dall-e-mini.yaml\nREADME.md",
        "machines": "A4000, A5000",
    }
    run = run_action(job(tmp_path, "pull_request"), inputs)
    assert run.status == "success", run.log
    cells = json.loads(run.outputs["matrix"])["include"]
    assert {(c["runtime"], c["machine"]) for c in cells} == {
        ("DALL-E Mini", "A4000"),
        ("DALL-E Mini", "A5000"),
    }
    assert run.outputs["cells"] == "2"


def test_plan_for_a_change_outside_runtimes_is_empty(tmp_path: Path) -> None:
    inputs = {"mode": "plan", "changed-files": "matrices/schema/runtime.schema.json"}
    run = run_action(job(tmp_path, "pull_request"), inputs)
    assert run.status == "success", run.log
    assert json.loads(run.outputs["matrix"]) == {"include": []}
    assert run.outputs["cells"] == "0"


def test_plan_in_a_workspace_repository_plans_its_runtime(tmp_path: Path) -> None:
    j = job(tmp_path, "workflow_dispatch", repository="gradient-ai/PyTorch")
    run = run_action(j, {"mode": "plan"})
    assert run.status == "success", run.log
    assert {c["runtime"] for c in json.loads(run.outputs["matrix"])["include"]} == {"PyTorch 1.12"}


# --- report mode ------------------------------------------------------------------------------


def _fan_out(tmp_path: Path, statuses: dict[str, str]) -> Path:
    """results.json of one fan-out job per machine, as download-artifact lays them out."""
    base = json.loads((REPO / "tests/report/data/pytorch.json").read_text())
    cells = {c["machine"]: c for c in base["cells"]}
    root = tmp_path / "all-results"
    for machine, status in statuses.items():
        folder = root / f"grt-results-PyTorch-1.12-{machine}"
        folder.mkdir(parents=True)
        part = dict(base, cells=[dict(cells[machine], status=status)])
        (folder / "results.json").write_text(json.dumps(part))
    return root


@pytest.mark.parametrize(
    ("fail_on", "statuses", "conclusion", "success"),
    [
        ("error", {"A4000": "passed", "P4000": "error"}, "error", False),
        ("failed", {"A4000": "passed", "P4000": "error"}, "error", True),
        ("failed", {"A4000": "passed", "A6000x2": "failed"}, "failed", False),
        ("never", {"A4000": "passed", "A6000x2": "failed"}, "failed", True),
    ],
)
def test_report_merges_and_fails_on_what_was_asked(
    tmp_path: Path, fail_on: str, statuses: dict[str, str], conclusion: str, success: bool
) -> None:
    root = _fan_out(tmp_path, statuses)
    out = tmp_path / "report"
    inputs = {"mode": "report", "results": str(root), "out": str(out), "fail-on": fail_on}
    run = run_action(job(tmp_path, "schedule", {}), inputs)
    assert run.status == ("success" if success else "failure"), run.log
    assert run.outputs["conclusion"] == conclusion
    assert run.outputs["passed"] == "1"
    merged = json.loads((out / "results.json").read_text())
    assert sorted(c["machine"] for c in merged["cells"]) == sorted(statuses)
    assert run.step("prep").outputs["artifact-name"] == "grt-report"


def test_report_expands_globs_and_fails_when_nothing_matches(tmp_path: Path) -> None:
    root = _fan_out(tmp_path, {"A4000": "passed", "P5000": "passed"})
    pattern = f"{root}/**/results.json, {tmp_path}/missing-*"
    run = run_action(
        job(tmp_path, "schedule", {}),
        {"mode": "report", "results": pattern, "out": str(tmp_path / "r")},
    )
    assert run.status == "success", run.log
    assert run.outputs["passed"] == "2"
    assert any("matched nothing" in a for a in workflow_commands(run, "warning"))
    none = run_action(
        job(tmp_path, "schedule", {}), {"mode": "report", "results": f"{tmp_path}/missing-*"}
    )
    assert none.status == "failure"
    assert any("nothing to report" in a for a in workflow_commands(none, "error"))


# --- prepare: runtime, workspace ref, forks, bad input (the prep step alone) -------------------


def prep(j: Job, inputs: dict[str, str]) -> ActionRun:
    return run_action(j, inputs, stop_after="prep")


def test_runtime_and_ref_come_from_a_workspace_repositorys_pull_request(tmp_path: Path) -> None:
    payload = event("pull_request")
    payload["pull_request"]["head"]["repo"]["full_name"] = "gradient-ai/PyTorch"
    j = job(tmp_path, "pull_request", payload, repository="gradient-ai/PyTorch")
    run = prep(j, {})
    assert run.status == "success", run.log
    assert run.step("prep").outputs["runtime"] == "PyTorch 1.12"
    head = event("pull_request")["pull_request"]["head"]["sha"]
    assert run.step("prep").outputs["workspace-ref"] == head
    assert run.step("prep").outputs["artifact-name"] == "grt-results-PyTorch-1.12"


def test_ref_is_the_dispatched_commit_and_an_explicit_ref_wins(tmp_path: Path) -> None:
    j = job(tmp_path, "workflow_dispatch", repository="gradient-ai/PyTorch", sha="a" * 40)
    assert prep(j, {}).step("prep").outputs["workspace-ref"] == "a" * 40
    run = prep(j, {"workspace-ref": "v1.2.0"})
    assert run.step("prep").outputs["workspace-ref"] == "v1.2.0"


def test_ref_of_another_repositorys_runtime_is_the_matrix_own(tmp_path: Path) -> None:
    run = prep(job(tmp_path, "pull_request"), {"runtime": "PyTorch 1.12"})
    assert run.status == "success", run.log
    assert run.step("prep").outputs["workspace-ref"] == ""


def test_no_runtime_for_this_repository_says_what_to_do(tmp_path: Path) -> None:
    run = prep(job(tmp_path, "pull_request", repository="octo/unrelated"), {})
    assert run.status == "failure"
    (error,) = workflow_commands(run, "error")
    assert "runtime: not given" in error and "octo/unrelated" in error
    assert "no runtime has workspace" in run.step("prep").stderr  # grt's list of workspaces


def test_fork_pull_request_without_a_key_is_skipped_not_failed(tmp_path: Path) -> None:
    j = job(tmp_path, "pull_request", event("pull_request_fork"), repository="octo/runtimes")
    run = run_action(j, {"runtime": "PyTorch 1.12"})
    assert run.status == "success", run.log
    assert run.outputs["conclusion"] == "skipped"
    assert not run.step("grt").ran
    assert any("fork" in w for w in workflow_commands(run, "warning"))
    assert "skipped" in run.summary


def test_pull_request_target_from_a_fork_is_refused_unless_allowed(tmp_path: Path) -> None:
    payload = event("pull_request_fork")
    j = job(tmp_path, "pull_request_target", payload, repository="octo/runtimes")
    inputs = {"runtime": "PyTorch 1.12", "api-key": API_KEY}
    head = payload["pull_request"]["head"]["sha"]
    refused = prep(j, {**inputs, "workspace-ref": head})
    assert refused.status == "failure"
    assert any("refusing to test a fork" in e for e in workflow_commands(refused, "error"))
    allowed = prep(j, {**inputs, "workspace-ref": head, "allow-fork-code": "true"})
    assert allowed.status == "success", allowed.log
    # the matrix's own ref is not the fork's code
    assert prep(j, inputs).status == "success"
    # the local provider would run the fork's code on this runner, beside the job's secrets
    local = prep(j, {**inputs, "workspace-ref": head, "provider": "local"})
    assert local.status == "failure"
    assert any("refusing to test a fork" in e for e in workflow_commands(local, "error"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("mode", "sweep"),
        ("keep", "sometimes"),
        ("fail-on", "warning"),
        ("provider", "aws"),
        ("comment", "yes"),
        ("max-parallel", "ten"),
    ],
)
def test_bad_inputs_fail_with_the_valid_values(tmp_path: Path, name: str, value: str) -> None:
    run = prep(job(tmp_path, "workflow_dispatch"), {**EXAMPLE, name: value})
    assert run.status == "failure"
    (error,) = workflow_commands(run, "error")
    assert f"{name}: '{value}' is not valid (valid: " in error


def test_one_runtime_per_run(tmp_path: Path) -> None:
    run = prep(job(tmp_path, "workflow_dispatch"), {**EXAMPLE, "runtime": "Example\nOther"})
    assert run.status == "failure"
    assert any("one runtime per run" in e for e in workflow_commands(run, "error"))
