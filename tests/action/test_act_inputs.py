"""action.yml's inputs, outputs and refusals, run by act (tests/action/act.py): each case is a step
`uses: ./` (or `uses: gradient-ai/gradient-runtime-test@v1`) with `continue-on-error: true` in one
generated workflow per event, so one act run checks many cases (the action installs once per job).
Assertions read act's event stream: each step's result, outputs and annotations.

A new case: a step in one of the CASES mappings (id -> inputs), then its assertions.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.action.act import REPO, ActRun, Sandbox, repository
from tests.dashboard.samples import history_files

# Shared runs (session fixtures): keep this module on one xdist worker (`--dist loadgroup`).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("act-inputs")]

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
EXAMPLE = {"provider": "local", "matrices": "examples/matrices", "runtime": "Example"}
API_KEY = "ps_act_canary_4b9d0e"
HEAD = "2" * 40


def workflow(event: str, cases: dict[str, dict[str, str]], *, uses: str = "./") -> str:
    steps: list[dict[str, Any]] = []
    if uses == "./":
        steps.append({"uses": CHECKOUT, "with": {"persist-credentials": False}})
    for step_id, inputs in cases.items():
        steps.append({"id": step_id, "uses": uses, "continue-on-error": True, "with": inputs})
    data = {
        "name": "Cases",
        "on": event,
        "permissions": {},
        "jobs": {"cases": {"runs-on": "ubuntu-latest", "steps": steps}},
    }
    return yaml.safe_dump(data, sort_keys=False, width=1000)


def run_cases(
    box: Sandbox, event: str, payload: dict[str, Any], cases: dict[str, dict[str, str]], **kw: Any
) -> ActRun:
    box.commit(f"Cases on {event}", {".github/workflows/cases.yml": workflow(event, cases, **kw)})
    run = box.run(event, payload, workflow=".github/workflows/cases.yml")
    assert run.job("cases") in ("success", "failure"), run
    ran = {s[0] for s in run.steps("cases")}
    assert set(cases) <= ran, f"cases that did not run: {set(cases) - ran}\n{run}"
    return run


def errors(run: ActRun, step: str) -> list[str]:
    found = run.commands("error", "cases", step)
    assert found, f"step {step} reported no error\n{run.step_log('cases', step)}"
    return found


def warnings(run: ActRun, step: str) -> list[str]:
    return run.commands("warning", "cases", step)


# --- octo/runtimes (the matrices repository), on workflow_dispatch ------------------------------

BAD_INPUTS = {
    "mode": "sweep",
    "keep": "sometimes",
    "fail-on": "warning",
    "provider": "aws",
    "comment": "yes",
    "max-parallel": "ten",
}


DASHBOARD_URL = "https://octo.github.io/runtimes/"


def fan_out(statuses: dict[str, str]) -> dict[str, str]:
    """results.json of one fan-out job per machine, as download-artifact lays them out."""
    base = json.loads((REPO / "tests" / "report" / "data" / "pytorch.json").read_text())
    cells = {c["machine"]: c for c in base["cells"]}
    files = {}
    for machine, status in statuses.items():
        part = copy.deepcopy(base)
        part["cells"] = [dict(cells[machine], status=status)]
        files[f"grt-results-PyTorch-1.12-{machine}/results.json"] = json.dumps(part)
    return files


REPORTS = {  # case: (fail-on, statuses, conclusion, step succeeds)
    "report-error": ("error", {"A4000": "passed", "P4000": "error"}, "error", False),
    "report-failed-on-error": ("failed", {"A4000": "passed", "P4000": "error"}, "error", True),
    "report-failed": ("failed", {"A4000": "passed", "A6000x2": "failed"}, "failed", False),
    "report-never": ("never", {"A4000": "passed", "A6000x2": "failed"}, "failed", True),
}


@pytest.fixture(scope="session")  # built once: see pytestmark
def dispatch(tmp_path_factory: pytest.TempPathFactory) -> ActRun:
    box = Sandbox(tmp_path_factory.mktemp("dispatch") / "act")
    files = {}
    for case, (_, statuses, _, _) in REPORTS.items():
        files.update({f"fan-out/{case}/{k}": v for k, v in fan_out(statuses).items()})
    files.update(
        {
            f"fan-out/globs/{k}": v
            for k, v in fan_out({"A4000": "passed", "P5000": "passed"}).items()
        }
    )
    box.commit("Results of fan-out jobs", files)
    box.push_branch("grt-history", history_files())  # two runtimes' runs
    cases: dict[str, dict[str, str]] = {
        f"bad-{name}": {**EXAMPLE, name: value} for name, value in BAD_INPUTS.items()
    }
    cases["two-runtimes"] = {**EXAMPLE, "runtime": "Example\nOther"}
    cases["no-runtime"] = {"provider": "local"}
    cases["plan-changed"] = {
        "mode": "plan",
        "changed-files": "matrices/runtimes/dall-e-mini.yaml\nREADME.md",
        "machines": "A4000, A5000",
    }
    cases["plan-outside"] = {"mode": "plan", "changed-files": "matrices/schema/runtime.schema.json"}
    cases["run-machines"] = {
        **EXAMPLE,
        "machines": " C5,\n",
        "out": "out-machines",
        "keep": "never",
    }
    for case, (fail_on, _, _, _) in REPORTS.items():
        cases[case] = {
            "mode": "report",
            "results": f"fan-out/{case}",
            "out": f"out-{case}",
            "fail-on": fail_on,
        }
    cases["report-globs"] = {
        "mode": "report",
        "results": "fan-out/globs/**/results.json, missing-*",
        "out": "out-globs",
    }
    cases["report-nothing"] = {"mode": "report", "results": "missing-*"}
    cases["dashboard"] = {"mode": "dashboard", "out": "site", "dashboard-url": DASHBOARD_URL}
    payload = {"inputs": {}, "ref": "refs/heads/main", "repository": repository("octo/runtimes")}
    return run_cases(box, "workflow_dispatch", payload, cases)


@pytest.mark.parametrize(("name", "value"), BAD_INPUTS.items())
def test_bad_inputs_fail_with_the_valid_values(dispatch: ActRun, name: str, value: str) -> None:
    assert dispatch.step("cases", f"bad-{name}") == "failure"
    (error,) = errors(dispatch, f"bad-{name}")
    assert f"{name}: '{value}' is not valid (valid: " in error
    assert dispatch.step("cases", f"bad-{name}", "grt") is None  # nothing ran


def test_one_runtime_per_run(dispatch: ActRun) -> None:
    assert dispatch.step("cases", "two-runtimes") == "failure"
    (error,) = errors(dispatch, "two-runtimes")
    assert "one runtime per run" in error


def test_no_runtime_for_this_repository_says_what_to_do(dispatch: ActRun) -> None:
    assert dispatch.step("cases", "no-runtime") == "failure"
    (error,) = errors(dispatch, "no-runtime")
    assert "runtime: not given" in error and "octo/runtimes" in error


def test_plan_on_changed_files_plans_only_their_runtimes(dispatch: ActRun) -> None:
    outputs = dispatch.outputs("cases", "plan-changed")
    cells = json.loads(outputs["matrix"])["include"]
    assert {(c["runtime"], c["machine"]) for c in cells} == {
        ("DALL-E Mini", "A4000"),
        ("DALL-E Mini", "A5000"),
    }
    assert outputs["cells"] == "2" and outputs["conclusion"] == ""


def test_plan_for_a_change_outside_runtimes_is_empty(dispatch: ActRun) -> None:
    outputs = dispatch.outputs("cases", "plan-outside")
    assert (json.loads(outputs["matrix"]), outputs["cells"]) == ({"include": []}, "0")
    assert dispatch.step("cases", "plan-outside", "7") is None  # no artifact in plan mode


def test_run_with_a_machine_list(dispatch: ActRun) -> None:
    assert dispatch.step("cases", "run-machines") == "success", dispatch
    outputs = dispatch.outputs("cases", "run-machines")
    assert (outputs["conclusion"], outputs["passed"], outputs["comment-url"]) == ("passed", "1", "")
    assert (
        dispatch.outputs("cases", "run-machines", "prep")["artifact-name"]
        == "grt-results-Example-C5"
    )


@pytest.mark.parametrize("case", REPORTS)
def test_report_merges_and_fails_on_what_was_asked(dispatch: ActRun, case: str) -> None:
    _, _, conclusion, success = REPORTS[case]
    assert dispatch.step("cases", case) == ("success" if success else "failure")
    outputs = dispatch.outputs("cases", case)
    assert (outputs["conclusion"], outputs["passed"]) == (conclusion, "1")
    assert outputs["results"] == f"out-{case}/results.json"
    assert dispatch.outputs("cases", case, "prep")["artifact-name"] == "grt-report"


def test_report_expands_globs_and_fails_when_nothing_matches(dispatch: ActRun) -> None:
    assert dispatch.step("cases", "report-globs") == "success"
    assert dispatch.outputs("cases", "report-globs")["passed"] == "2"
    assert any("missing-* matched nothing" in w for w in warnings(dispatch, "report-globs"))
    assert dispatch.step("cases", "report-nothing") == "failure"
    assert any("nothing to report" in e for e in errors(dispatch, "report-nothing"))


def test_dashboard_mode_writes_the_site_of_the_history_branch(dispatch: ActRun) -> None:
    assert dispatch.step("cases", "dashboard") == "success", dispatch
    assert dispatch.outputs("cases", "dashboard")["site"] == "site"
    log = dispatch.step_log("cases", "dashboard", "grt")
    assert "Dashboard: site/index.html (2 runtimes, 42 records)" in log, log
    assert dispatch.outputs("cases", "dashboard", "history")["dir"]  # read before grt
    assert dispatch.step("cases", "dashboard", "7") is None  # a site is no results artifact


# --- a runtime's workspace repository (gradient-ai/PyTorch), using the action by name -----------

OWN = "gradient-ai/gradient-runtime-test@v1"


@pytest.fixture(scope="session")  # built once: see pytestmark
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    box = Sandbox(
        tmp_path_factory.mktemp("workspace") / "act",
        slug="gradient-ai/PyTorch",
        files={"README.md": "PyTorch\n"},
    )
    # grt reaches no Paperspace API from here: a closed port (cases stop at the first request)
    box.env.update({"PAPERSPACE_CONFIG_HOST": "http://127.0.0.1:9", "GRT_RETRY_BACKOFF": "0.01"})
    return box


def test_runtime_and_ref_come_from_a_workspace_repositorys_pull_request(workspace: Sandbox) -> None:
    commits = workspace.pull_request(7, "change", {"README.md": "changed\n"})
    payload = {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {
                "sha": commits["head"],
                "ref": "change",
                "repo": repository("gradient-ai/PyTorch"),
            },
            "base": {
                "sha": commits["base"],
                "ref": "main",
                "repo": repository("gradient-ai/PyTorch"),
            },
        },
        "repository": repository("gradient-ai/PyTorch"),
    }
    cases = {"infer": {}, "plan": {"mode": "plan"}}
    run = run_cases(workspace, "pull_request", payload, cases, uses=OWN)
    prep = run.outputs("cases", "infer", "prep")
    assert prep["runtime"] == "PyTorch 1.12"
    assert prep["workspace-ref"] == commits["head"]  # the pull request's head, not the merge
    assert prep["artifact-name"] == "grt-results-PyTorch-1.12"
    assert run.step("cases", "infer", "grt") == "failure"  # no API key: nothing was created
    cells = json.loads(run.outputs("cases", "plan")["matrix"])["include"]
    listed = yaml.safe_load((REPO / "matrices" / "runtimes" / "pytorch-1-12.yaml").read_text())
    assert [(c["runtime"], c["machine"]) for c in cells] == [
        ("PyTorch 1.12", m) for m in listed["machines"]
    ]


def test_ref_is_the_dispatched_commit_and_an_explicit_ref_wins(workspace: Sandbox) -> None:
    payload = {
        "inputs": {},
        "ref": "refs/heads/main",
        "repository": repository("gradient-ai/PyTorch"),
    }
    cases = {"dispatched": {}, "explicit": {"workspace-ref": "v1.2.0"}}
    run = run_cases(workspace, "workflow_dispatch", payload, cases, uses=OWN)
    sha = workspace.git("rev-parse", "HEAD")  # the commit the workflow ran for (github.sha)
    assert run.outputs("cases", "dispatched", "prep")["workspace-ref"] == sha
    assert run.outputs("cases", "explicit", "prep")["workspace-ref"] == "v1.2.0"


# --- pull_request_target from a fork: secrets are there, the fork's code is not trusted ---------


def test_pull_request_target_from_a_fork_is_refused_unless_allowed(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "act")
    box.env.update({"PAPERSPACE_CONFIG_HOST": "http://127.0.0.1:9", "GRT_RETRY_BACKOFF": "0.01"})
    base = box.git("rev-parse", "HEAD")
    payload = {
        "action": "labeled",
        "number": 9,
        "pull_request": {
            "number": 9,
            "head": {
                "sha": HEAD,
                "ref": "patch",
                "repo": repository("mallory/runtimes") | {"fork": True},
            },
            "base": {"sha": base, "ref": "main", "repo": repository("octo/runtimes")},
        },
        "repository": repository("octo/runtimes"),
    }
    common = {"runtime": "PyTorch 1.12", "api-key": API_KEY, "machines": "A4000"}
    cases = {
        "refused": {**common, "workspace-ref": HEAD},
        "allowed": {**common, "workspace-ref": HEAD, "allow-fork-code": "true"},
        "own-ref": common,  # the matrix's own ref is not the fork's code
    }
    run = run_cases(box, "pull_request_target", payload, cases)
    assert run.step("cases", "refused", "prep") == "failure"
    assert any("refusing to test a fork" in e for e in errors(run, "refused"))
    assert run.step("cases", "refused", "grt") is None
    for case in ("allowed", "own-ref"):
        assert run.step("cases", case, "prep") == "success", run
        assert run.step("cases", case, "grt") == "failure"  # the closed port: nothing created
    # the key was masked before anything could print it, and never printed in clear
    assert API_KEY not in run.log()
