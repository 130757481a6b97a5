"""action.yml's inputs, outputs and refusals, run by act (tests/action/act.py): each case is a step
`uses: ./` (or `uses: gradient-ai/gradient-runtime-test@v1`) with `continue-on-error: true` in one
generated workflow per event, so one act run checks many cases (the action installs once per job).
Assertions read act's event stream: each step's result, outputs, annotations and job summary, and
what the fakes and the repositories recorded.

A new case: a step in one of the CASES mappings (id -> inputs), then its assertions.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.action.act import REPO, ActRun, Sandbox, git, repository
from tests.fakes.registry import FakeRegistry

# Shared runs (session fixtures): keep this module on one xdist worker (`--dist loadgroup`).
pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.xdist_group("act-inputs")]

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
EXAMPLE = {"provider": "local", "matrices": "examples/matrices", "runtime": "Example"}
API_KEY = "ps_act_canary_4b9d0e"
HEAD = "2" * 40


def workflow(
    event: str,
    cases: dict[str, dict[str, str]],
    *,
    uses: str = "./",
    uses_of: dict[str, str] | None = None,
) -> str:
    """`uses_of`: the `uses:` of some cases, when not `uses`."""
    steps: list[dict[str, Any]] = []
    if uses == "./":
        steps.append({"uses": CHECKOUT, "with": {"persist-credentials": False}})
    for step_id, inputs in cases.items():
        action = (uses_of or {}).get(step_id, uses)
        steps.append({"id": step_id, "uses": action, "continue-on-error": True, "with": inputs})
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


def messages(run: ActRun, *step: str) -> str:
    """Every line a step of the cases job (and the steps inside it) printed."""
    return "\n".join(
        str(e.get("msg", ""))
        for e in run.events
        if e.get("jobID") == "cases" and list(e.get("stepID", []))[: len(step)] == list(step)
    )


# --- octo/runtimes (the matrices repository), on workflow_dispatch ------------------------------

BAD_INPUTS = {
    "mode": "sweep",
    "keep": "sometimes",
    "fail-on": "warning",
    "provider": "aws",
    "comment": "yes",
    "max-parallel": "ten",
    "save-history": "yes",
}


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


# check-sources: the Drift runtime's matrix file lists a.ipynb and b.ipynb; its workspace, a git
# repository that the runner's git reaches through `url.<path>.insteadOf`, lost b.ipynb at its head.
# A fake registry stands in for Docker Hub (GRT_DOCKER_HUB_URL).
DRIFT_URL = "https://git.example.invalid/org/workspace"
DRIFT_FILES = {
    "drift/machines.yaml": "machines:\n  C5: {accelerator: cpu}\n",
    "drift/runtimes/drift.yaml": f"""\
name: Drift
container: "org/img:1"
workspace: "{DRIFT_URL}"
machines: [C5]
notebooks: [a.ipynb, b.ipynb]
""",
}
# No project id: a run that gets past the check stops in grt before any request.
DRIFT = {"matrices": "drift", "runtime": "Drift", "api-key": API_KEY}
PYTORCH_A4000 = {"runtime": "PyTorch 1.12", "machines": "A4000"}  # $0.76 an hour
HISTORY_URL = "https://github.com/octo/runtimes.git"  # where `grt history` finds the repository
SITE = "https://octo.github.io/runtimes/"  # the dashboard-url input


def drifted_workspace(box: Sandbox) -> str:
    """The Drift runtime's workspace, reached at DRIFT_URL; its first commit (both notebooks)."""
    path = box.root / "drift-workspace"
    env = box.git_env()
    git("init", "--quiet", str(path), cwd=box.root, env=env)
    for name in ("a.ipynb", "b.ipynb"):
        (path / name).write_text("{}", encoding="utf-8")
    git("add", "--all", cwd=path, env=env)
    git("commit", "--quiet", "-m", "Two notebooks", cwd=path, env=env)
    first = git("rev-parse", "HEAD", cwd=path, env=env)
    git("rm", "--quiet", "b.ipynb", cwd=path, env=env)
    git("commit", "--quiet", "-m", "Remove b.ipynb", cwd=path, env=env)
    box.map_url(DRIFT_URL, path)
    return first


@pytest.fixture(scope="session")
def registry() -> Iterator[FakeRegistry]:
    with FakeRegistry() as hub:
        hub.add_image("org/img", "1")
        yield hub


@pytest.fixture(scope="session")  # built once: see pytestmark
def dispatch(tmp_path_factory: pytest.TempPathFactory, registry: FakeRegistry) -> ActRun:
    box = Sandbox(tmp_path_factory.mktemp("dispatch") / "act")
    # grt reaches no Paperspace API from here: a closed port (cases stop at the first request)
    box.env.update(
        {
            "PAPERSPACE_CONFIG_HOST": "http://127.0.0.1:9",
            "GRT_RETRY_BACKOFF": "0.01",
            "GRT_DOCKER_HUB_URL": registry.url,
        }
    )
    first = drifted_workspace(box)
    # the repository's history branch cannot be read (as without `contents: read`)
    box.map_url(HISTORY_URL, box.root / "nothing-here.git")
    files = dict(DRIFT_FILES)
    for case, (_, statuses, _, _) in REPORTS.items():
        files.update({f"fan-out/{case}/{k}": v for k, v in fan_out(statuses).items()})
    files.update(
        {
            f"fan-out/globs/{k}": v
            for k, v in fan_out({"A4000": "passed", "P5000": "passed"}).items()
        }
    )
    box.commit("Results of fan-out jobs", files)
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
    cases["sources-missing"] = DRIFT
    cases["sources-at-ref"] = {**DRIFT, "workspace-ref": first}
    cases["sources-off"] = {**DRIFT, "check-sources": "false"}
    cases["sources-bad"] = {**DRIFT, "check-sources": "yes%0A"}
    cases["sources-local"] = {
        **DRIFT,
        "provider": "local",
        "out": "out-sources-local",
        "harness-from": "https://example.invalid/grt-harness.pyz",  # ignored by the local provider
    }
    cases["sources-plan"] = {**DRIFT, "mode": "plan"}
    cases["plan-within-budget"] = {"mode": "plan", **PYTORCH_A4000, "max-cost": "1"}
    cases["plan-over-budget"] = {"mode": "plan", **PYTORCH_A4000, "max-cost": "0.10"}
    cases["run-over-budget"] = {
        **PYTORCH_A4000,
        "api-key": API_KEY,
        "project-id": "pr0budget",
        "check-sources": "false",
        "max-cost": "0.10",
        "expected-duration": "1h",
    }
    cases["history-branch-empty"] = {**EXAMPLE, "reuse-passed": "1d", "history-branch": ""}
    cases["history-unreadable"] = {
        "mode": "report",
        "results": "fan-out/globs",
        "out": "out-unreadable",
        "save-history": "true",
    }
    cases["dashboard-unreadable"] = {"mode": "dashboard", "out": "site", "dashboard-url": SITE}
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
    # the local provider: the notebooks ran in a step of their own (without secrets), and the
    # grt step after it published their results
    assert dispatch.step("cases", "run-machines", "local") == "success"
    assert dispatch.step("cases", "run-machines", "grt") == "success"
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


def test_a_dashboard_without_a_readable_history_fails(dispatch: ActRun) -> None:
    """Nothing to publish: the step fails (dashboard.yml's success path runs in test_act.py)."""
    case = "dashboard-unreadable"
    assert dispatch.step("cases", case) == "failure"
    assert any("history-branch: could not be read" in e for e in errors(dispatch, case))
    assert dispatch.step("cases", case, "grt") == "failure"
    assert dispatch.outputs("cases", case)["site"] == ""
    assert dispatch.step("cases", case, "7") is None  # a site is no results artifact


# --- check-sources: before any notebook is paid for, the matrix must match its workspace -------


def test_check_sources_fails_on_a_missing_notebook_before_any_notebook_is_created(
    dispatch: ActRun,
) -> None:
    assert dispatch.step("cases", "sources-missing", "sources") == "failure"
    (error,) = errors(dispatch, "sources-missing")
    assert f"notebooks: 'b.ipynb' is not in {DRIFT_URL} (" in error
    assert dispatch.step("cases", "sources-missing", "grt") is None  # nothing ran after it


def test_check_sources_passes_at_the_forwarded_ref(
    dispatch: ActRun, registry: FakeRegistry
) -> None:
    """At the first commit of the workspace both notebooks are there: the check passes only if
    the ref reached it (the head lacks b.ipynb). The image was looked up in the fake registry."""
    assert dispatch.step("cases", "sources-at-ref", "sources") == "success", dispatch
    assert dispatch.step("cases", "sources-at-ref", "grt") == "failure"  # no project id
    looked_up = {path for _, path, _ in registry.manifest_requests()}
    assert looked_up == {"/v2/org/img/manifests/1"}
    assert API_KEY not in dispatch.log()


def test_check_sources_false_skips_the_check_and_bad_values_fail(dispatch: ActRun) -> None:
    # skipped by its condition: the next step ran (a failed check would have stopped it)
    assert dispatch.step("cases", "sources-off", "sources") is None
    assert dispatch.step("cases", "sources-off", "grt") == "failure"  # no project id
    assert dispatch.step("cases", "sources-bad", "sources") == "failure"
    (error,) = [
        e
        for e in dispatch.events
        if e.get("command") == "error" and e.get("stepID", [])[:1] == ["sources-bad"]
    ]
    assert error["kvPairs"] == {"title": "gradient-runtime-test"}
    assert error["arg"] == "check-sources: 'yes 0A' is not valid (valid: true false)"
    assert dispatch.step("cases", "sources-bad", "grt") is None


def test_no_check_where_no_notebook_is_paid_for(dispatch: ActRun) -> None:
    """The local provider and plan mode create nothing on Gradient: no check, though b.ipynb is
    missing."""
    for case in ("sources-local", "sources-plan"):
        assert dispatch.step("cases", case, "prep") == "success", dispatch
        assert dispatch.step("cases", case, "sources") is None
        assert dispatch.step("cases", case, "grt") is not None, dispatch
    assert dispatch.step("cases", "sources-plan") == "success"
    assert dispatch.outputs("cases", "sources-plan")["cells"] == "1"


def test_the_local_provider_ignores_harness_from(dispatch: ActRun) -> None:
    """Its notebook command runs on the runner: no length limit, so the harness travels in it."""
    case = "sources-local"
    assert dispatch.step("cases", case, "local") is not None, dispatch
    assert "harness-from" not in dispatch.outputs("cases", case, "prep")
    assert "+ grt run " in messages(dispatch, case, "local")
    assert "harness-from" not in messages(dispatch, case, "local")


# --- max-cost and expected-duration ------------------------------------------------------------


def test_plan_mode_fails_when_the_plan_is_over_the_budget(dispatch: ActRun) -> None:
    assert dispatch.step("cases", "plan-within-budget") == "success", dispatch
    assert dispatch.outputs("cases", "plan-within-budget")["cells"] == "1"
    assert dispatch.step("cases", "plan-over-budget") == "failure"
    (error,) = errors(dispatch, "plan-over-budget")
    assert "--max-cost: the estimate $0.38 (1 cell of 30 min) is over the budget of $0.10" in error


def test_run_mode_refuses_a_budget_below_the_estimate_before_creating_anything(
    dispatch: ActRun,
) -> None:
    """expected-duration reached grt (60 min, not the default 30); the refusal comes before any
    request (a request would have failed on the closed port with another error)."""
    assert dispatch.step("cases", "run-over-budget", "grt") == "failure"
    (error,) = errors(dispatch, "run-over-budget")
    assert "--max-cost: the estimate $0.76 (1 cell of 60 min) is over the budget of $0.10" in error


# --- the history branch: inputs, and a branch that cannot be read -------------------------------


def test_an_empty_history_branch_fails_when_history_is_needed(dispatch: ActRun) -> None:
    assert dispatch.step("cases", "history-branch-empty") == "failure"
    (error,) = errors(dispatch, "history-branch-empty")
    assert "history-branch: empty, but save-history or reuse-passed needs it" in error
    assert dispatch.step("cases", "history-branch-empty", "grt") is None


def test_a_history_branch_that_cannot_be_read_is_a_warning(dispatch: ActRun) -> None:
    case = "history-unreadable"
    assert dispatch.step("cases", case) == "success", dispatch.step_log("cases", case)
    assert any(
        w.startswith(f"history: could not read grt-history of {HISTORY_URL}")
        for w in warnings(dispatch, case)
    )
    assert dispatch.step("cases", case, "history") == "success"
    assert dispatch.outputs("cases", case, "history") == {}  # no folder: grt gets no --history
    assert dispatch.outputs("cases", case)["passed"] == "2"
    assert dispatch.step("cases", case, "history-save") is None


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
    # no sources check (this repository lacks the runtime's notebooks): grt itself refuses
    cases = {"infer": {"check-sources": "false"}, "plan": {"mode": "plan"}}
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
    # harness-from: release, through `uses: OWNER/REPO@REF` (github.action_repository and
    # action_ref): a release tag names its asset; the moving major tag (v1) has none, and is
    # refused. The `uses: ./` refusal and the URL form are in test_act.py.
    release = {"harness-from": "release", "check-sources": "false", "api-key": API_KEY}
    cases = {
        "dispatched": {},
        "explicit": {"workspace-ref": "v1.2.0"},
        "harness-release": release,
        "harness-release-major": release,
    }
    pinned = {"harness-release": OWN.replace("@v1", "@v1.4.2")}
    run = run_cases(workspace, "workflow_dispatch", payload, cases, uses=OWN, uses_of=pinned)
    sha = workspace.git("rev-parse", "HEAD")  # the commit the workflow ran for (github.sha)
    assert run.outputs("cases", "dispatched", "prep")["workspace-ref"] == sha
    assert run.outputs("cases", "explicit", "prep")["workspace-ref"] == "v1.2.0"
    asset = "https://github.com/gradient-ai/gradient-runtime-test/releases/download/v1.4.2/grt-harness.pyz"
    prep = run.outputs("cases", "harness-release", "prep")
    assert prep["harness-from"] == asset, run.step_log("cases", "harness-release")
    # grt run got it (and stopped at the closed port: nothing was created)
    assert f"--harness-from {asset}" in messages(run, "harness-release", "grt")
    assert "--harness-from" not in messages(run, "dispatched", "grt")
    assert run.step("cases", "harness-release-major", "prep") == "failure"
    (error,) = errors(run, "harness-release-major")
    assert "v1 is a moving major tag with no release" in error and "(valid: " in error
    assert run.step("cases", "harness-release-major", "grt") is None


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
    common = {
        "runtime": "PyTorch 1.12",
        "api-key": API_KEY,
        "machines": "A4000",
        "check-sources": "false",  # the fork's ref is nowhere here: grt is what must refuse
    }
    cases = {
        "refused": {**common, "workspace-ref": HEAD},
        "allowed": {**common, "workspace-ref": HEAD, "allow-fork-code": "true"},
        "own-ref": common,  # the matrix's own ref is not the fork's code
        # the local provider would run the fork's code on this runner, beside the job's secrets
        "refused-local": {**common, "workspace-ref": HEAD, "provider": "local"},
    }
    run = run_cases(box, "pull_request_target", payload, cases)
    assert run.step("cases", "refused", "prep") == "failure"
    assert any("refusing to test a fork" in e for e in errors(run, "refused"))
    assert run.step("cases", "refused", "grt") is None
    assert run.step("cases", "refused-local", "prep") == "failure"
    assert any("refusing to test a fork" in e for e in errors(run, "refused-local"))
    assert run.step("cases", "refused-local", "local") is None
    for case in ("allowed", "own-ref"):
        assert run.step("cases", case, "prep") == "success", run
        assert run.step("cases", case, "grt") == "failure"  # the closed port: nothing created
    # the key was masked before anything could print it, and never printed in clear
    assert API_KEY not in run.log()


# --- the history branch over two nightly runs (schedule) of octo/runtimes ---------------------
# The repository's history branch is read and pushed at https://github.com/octo/runtimes.git, which
# the runner's git maps onto origin.git ("GitHub"). Each night is one act run (its own run id).

NIGHTLY = {"schedule": "0 3 * * *", "repository": repository()}
GIT_RUNTIME = """\
name: Git
container: acme/img:1
workspace: ../notebooks
machines: [C5]
notebooks: [hello.ipynb]
"""


def nightly_results(folder: str, statuses: dict[str, str]) -> dict[str, str]:
    """results.json of one fan-out job per machine, under `folder`; a pass shows its tests."""
    base = json.loads((REPO / "tests" / "report" / "data" / "pytorch.json").read_text())
    cells = {c["machine"]: c for c in base["cells"]}
    files = {}
    for machine, status in statuses.items():
        cell = dict(cells[machine], status=status, reason="")
        if status == "passed" and not cell["tests"]:
            cell["tests"] = [{"name": "checks/gpu.count", "status": "passed"}]
        files[f"{folder}/grt-results-PyTorch-1.12-{machine}/results.json"] = json.dumps(
            dict(base, cells=[cell])
        )
    return files


@dataclasses.dataclass(frozen=True)
class Nights:
    box: Sandbox
    branch_before: str | None  # grt-history in origin.git before the first night
    first: ActRun  # workflow run 1001
    second: ActRun  # workflow run 1002

    def history(self, name: str = "pytorch-1-12.jsonl") -> list[dict[str, Any]]:
        text = self.box.git("--git-dir", str(self.box.origin), "show", f"grt-history:{name}")
        return [json.loads(line) for line in text.splitlines()]

    def artifact(self, run_id: str, name: str) -> Path:
        """An artifact as act's server stored it: a folder of its files."""
        return self.box.root / "artifacts" / run_id / name


@pytest.fixture(scope="session")  # built once, on the worker of its group ("act-history")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Nights:
    box = Sandbox(tmp_path_factory.mktemp("nights") / "act")
    box.map_url(HISTORY_URL, box.origin)  # GitHub serves the repository at both URLs
    # The Git runtime (provider local): matrices and a workspace repository on the runner.
    matrices = box.root / "matrices"
    (matrices / "runtimes").mkdir(parents=True)
    (matrices / "machines.yaml").write_text("machines:\n  C5: {accelerator: cpu}\n")
    (matrices / "runtimes" / "git.yaml").write_text(GIT_RUNTIME)
    notebooks, env = box.root / "notebooks", box.git_env()
    git("init", "--quiet", str(notebooks), cwd=box.root, env=env)
    for path in (REPO / "examples" / "workspace").glob("*.ipynb"):
        (notebooks / path.name).write_text(path.read_text())
    git("add", "--all", cwd=notebooks, env=env)
    git("commit", "--quiet", "-m", "Notebooks", cwd=notebooks, env=env)
    single = {
        "provider": "local",
        "matrices": str(matrices),
        "runtime": "Git",
        "save-history": "true",
        "reuse-passed": "1d",
        "out": "out-single",
        "artifact-name": "single",
    }
    report = {
        "mode": "report",
        "results": "nightly",
        "save-history": "true",
        "fail-on": "never",
        "out": "out-report",
        "artifact-name": "report",
    }
    left_alone = {
        "mode": "report",
        "results": "left-alone",
        "out": "out-left-alone",
        "artifact-name": "left-alone",
    }
    branch_before = box.origin_ref("refs/heads/grt-history")
    files = nightly_results("nightly", {"A4000": "passed", "P4000": "error"})
    files.update(nightly_results("left-alone", {"P5000": "passed"}))
    box.commit("The first night's fan-out", files)
    box.env["GITHUB_RUN_ID"] = "1001"
    cases = {"left-alone": left_alone, "report": report, "single": single}
    first = run_cases(box, "schedule", NIGHTLY, cases)
    box.commit(
        "The second night's fan-out",
        nightly_results("nightly", {"A4000": "passed", "P4000": "passed"}),
    )
    box.env["GITHUB_RUN_ID"] = "1002"
    second = run_cases(box, "schedule", NIGHTLY, {"report": report, "single": single})
    return Nights(box, branch_before, first, second)


@pytest.mark.kernel
@pytest.mark.xdist_group("act-history")
def test_a_report_appends_to_the_history_branch_and_compares_with_the_previous_night(
    nights: Nights,
) -> None:
    first, second = nights.first, nights.second
    for run in (first, second):
        assert run.step("cases", "report") == "success", run
        assert run.step("cases", "report", "history-save") == "success"
        assert run.outputs("cases", "report", "history")["dir"]  # grt report --history DIR
    # The branch was new: the first night's records are the first in it.
    assert nights.branch_before is None
    records = nights.history()
    assert [(r["run_id"], r["machine"], r["status"]) for r in records] == [
        ("1001/1", "A4000", "passed"),
        ("1001/1", "P4000", "error"),
        ("1002/1", "A4000", "passed"),
        ("1002/1", "P4000", "passed"),
    ]
    assert records[0]["run_url"] == "https://github.com/octo/runtimes/actions/runs/1001"
    assert records[0]["cost_usd"] > 0 and records[0]["event"] == "schedule"
    # The second night is compared with the first in the job summary (no pull request here).
    assert "PyTorch 1.12" in first.summary("cases", "report")
    assert "Changes since the previous run" not in first.summary("cases", "report")
    assert "`P4000`: error → passed" in second.summary("cases", "report")
    log = nights.box.git("--git-dir", str(nights.box.origin), "log", "--format=%s", "grt-history")
    assert log.splitlines() == [
        "Record Git (workflow run 1002)",
        "Record the reported runtimes (workflow run 1002)",
        "Record Git (workflow run 1001)",
        "Record the reported runtimes (workflow run 1001)",
    ]


@pytest.mark.kernel
@pytest.mark.xdist_group("act-history")
def test_history_is_left_alone_unless_asked_for(nights: Nights) -> None:
    run = nights.first
    assert run.step("cases", "left-alone") == "success", run
    assert run.outputs("cases", "left-alone")["passed"] == "1"
    assert run.step("cases", "left-alone", "history") is None
    assert run.step("cases", "left-alone", "history-save") is None
    # It ran first: had it pushed, its machine would be in the branch.
    assert "P5000" not in {r["machine"] for r in nights.history()}


@pytest.mark.kernel
@pytest.mark.xdist_group("act-history")
def test_a_single_job_saves_history_and_the_next_run_reuses_its_pass(nights: Nights) -> None:
    first, second = nights.first, nights.second
    for run in (first, second):
        assert run.step("cases", "single") == "success", run.step_log("cases", "single")
        assert run.step("cases", "single", "history-save") == "success"
    ran = json.loads((nights.artifact("1001", "single") / "results.json").read_text())
    (cell,) = ran["cells"]
    assert cell["status"] == "passed" and cell["notebook_id"] and cell["reused_from"] is None
    assert (nights.artifact("1001", "single") / "logs").is_dir()
    (record, _) = nights.history("git.jsonl")
    assert record["run_id"] == "1001/1" and record["status"] == "passed"
    assert record["reused_from"] is None
    assert record["workspace_commit"] and record["input_hash"]
    # The second night: the same inputs passed within a day, so nothing ran (reuse-passed).
    reused = json.loads((nights.artifact("1002", "single") / "results.json").read_text())
    (cell,) = reused["cells"]
    assert cell["reused_from"]["run_id"] == "1001/1" and cell["notebook_id"] == ""
    assert not (nights.artifact("1002", "single") / "logs").exists()
    assert [r["run_id"] for r in nights.history("git.jsonl")] == ["1001/1", "1002/1"]
