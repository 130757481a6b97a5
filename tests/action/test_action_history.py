"""action.yml's money and memory: `max-cost` in plan and run mode, and the history branch (read,
appended, pushed) against a local bare repository standing in for the workflow's repository
(reached through the job's git config, `url.<local>.insteadOf`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.action.runner import REPO, ActionRun, Job, run_action
from tests.sources.gitrepos import git, instead_of, make_repo, user_env

pytestmark = pytest.mark.server  # git subprocesses against local repositories
REMOTE = "https://github.com/octo/runtimes.git"  # the runner's GITHUB_REPOSITORY, as a remote
BRANCH = "grt-history"
DATA = REPO / "tests" / "report" / "data" / "pytorch.json"


def errors(run: ActionRun) -> list[str]:
    return [line for line in run.log.splitlines() if line.startswith("::error")]


class Repo:
    """The workflow's repository as a bare git repository, and jobs whose git reaches it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = user_env(tmp / "home")
        self.bare = tmp / "runtimes.git"
        git(self.env, "init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        instead_of(self.env, REMOTE, self.bare)

    def job(self, run_id: str, event: str = "schedule", **kw: Any) -> Job:
        folder = self.tmp / f"job-{run_id}"
        folder.mkdir()
        return Job(folder, event, {}, extra_env={**self.env, "GITHUB_RUN_ID": run_id}, **kw)

    def history(self, name: str = "pytorch-1-12.jsonl") -> list[dict[str, Any]]:
        text = git(self.env, "--git-dir", str(self.bare), "show", f"{BRANCH}:{name}")
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def fan_out(root: Path, statuses: dict[str, str]) -> Path:
    base = json.loads(DATA.read_text())
    cells = {c["machine"]: c for c in base["cells"]}
    for machine, status in statuses.items():
        folder = root / f"grt-results-PyTorch-1.12-{machine}"
        folder.mkdir(parents=True)
        cell = dict(cells[machine], status=status, reason="")
        if status == "passed" and not cell["tests"]:  # a pass shows its tests
            cell["tests"] = [{"name": "checks/gpu.count", "status": "passed"}]
        part = dict(base, cells=[cell])
        (folder / "results.json").write_text(json.dumps(part))
    return root


def test_report_appends_to_the_history_branch_and_compares_with_the_previous_night(
    repo: Repo,
) -> None:
    inputs = {"mode": "report", "save-history": "true", "fail-on": "never"}
    first_results = fan_out(repo.tmp / "night1", {"A4000": "passed", "P4000": "error"})
    first = run_action(repo.job("1001"), {**inputs, "results": str(first_results)})
    assert first.status == "success", first.log
    assert first.step("history").ran and first.step("history-save").ran
    assert "History: grt-history of https://github.com/octo/runtimes.git is new" in first.log
    assert f"--history {first.step('history').outputs['dir']}" in first.step("grt").stdout
    records = repo.history()
    assert [(r["run_id"], r["machine"], r["status"]) for r in records] == [
        ("1001/1", "A4000", "passed"),
        ("1001/1", "P4000", "error"),
    ]
    assert records[0]["run_url"] == "https://github.com/octo/runtimes/actions/runs/1001"
    assert records[0]["cost_usd"] > 0 and records[0]["event"] == "schedule"
    assert "Changes since the previous run" not in first.summary

    second_results = fan_out(repo.tmp / "night2", {"A4000": "passed", "P4000": "passed"})
    second = run_action(repo.job("1002"), {**inputs, "results": str(second_results)})
    assert second.status == "success", second.log
    assert "`P4000`: error → passed" in second.summary  # compared with history: no PR comment
    assert [r["run_id"] for r in repo.history()] == ["1001/1"] * 2 + ["1002/1"] * 2
    log = git(repo.env, "--git-dir", str(repo.bare), "log", "--format=%s", BRANCH)
    assert log.splitlines() == [
        "Record the reported runtimes (workflow run 1002)",
        "Record the reported runtimes (workflow run 1001)",
    ]


def test_history_is_left_alone_unless_asked_for(repo: Repo) -> None:
    results = fan_out(repo.tmp / "night", {"A4000": "passed"})
    run = run_action(repo.job("1"), {"mode": "report", "results": str(results)})
    assert run.status == "success", run.log
    assert not run.step("history").ran and not run.step("history-save").ran
    assert "--history" not in run.step("grt").stdout
    assert git(repo.env, "--git-dir", str(repo.bare), "branch", "--list") == ""


def test_a_history_branch_that_cannot_be_read_is_a_warning(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    instead_of(env, REMOTE, tmp_path / "nothing-here.git")
    results = fan_out(tmp_path / "night", {"A4000": "passed"})
    job = Job(tmp_path, "schedule", {}, extra_env=env)
    run = run_action(job, {"mode": "report", "results": str(results), "save-history": "true"})
    assert run.status == "success", run.log
    assert any(
        line.startswith("::warning::history: could not read grt-history")
        for line in run.log.splitlines()
    )
    assert "--history" not in run.step("grt").stdout
    assert not run.step("history-save").ran


@pytest.mark.slow
@pytest.mark.kernel
def test_a_single_job_saves_history_and_the_next_run_reuses_its_pass(repo: Repo) -> None:
    workspace = repo.tmp / "workspace"
    files = {p.name: p.read_text() for p in (REPO / "examples" / "workspace").glob("*.ipynb")}
    make_repo(workspace, repo.env, files)
    matrices = repo.tmp / "matrices"
    (matrices / "runtimes").mkdir(parents=True)
    (matrices / "machines.yaml").write_text("machines:\n  C5: {accelerator: cpu}\n")
    (matrices / "runtimes" / "git.yaml").write_text(
        "name: Git\ncontainer: acme/img:1\nworkspace: ../workspace\nmachines: [C5]\n"
        "notebooks: [hello.ipynb]\n"
    )
    inputs = {
        "provider": "local",
        "matrices": str(matrices),
        "runtime": "Git",
        "save-history": "true",
        "reuse-passed": "1d",
    }
    first = run_action(repo.job("7"), {**inputs, "out": str(repo.tmp / "one")})
    assert first.status == "success", first.log
    (record,) = repo.history("git.jsonl")
    assert record["status"] == "passed" and record["reused_from"] is None
    assert record["workspace_commit"] and record["input_hash"]

    second = run_action(repo.job("8"), {**inputs, "out": str(repo.tmp / "two")})
    assert second.status == "success", second.log
    assert "--reuse-passed 1d" in second.step("grt").stdout
    (cell,) = json.loads((repo.tmp / "two" / "results.json").read_text())["cells"]
    assert cell["reused_from"]["run_id"] == "7/1" and cell["notebook_id"] == ""
    assert not (repo.tmp / "two" / "logs").exists()  # nothing ran
    assert [r["run_id"] for r in repo.history("git.jsonl")] == ["7/1", "8/1"]


# --- max-cost -----------------------------------------------------------------------------------

PYTORCH_A4000 = {"runtime": "PyTorch 1.12", "machines": "A4000"}


def test_plan_mode_fails_when_the_plan_is_over_the_budget(tmp_path: Path) -> None:
    job = Job(tmp_path, "workflow_dispatch", {})
    fits = run_action(job, {"mode": "plan", **PYTORCH_A4000, "max-cost": "1"})
    assert fits.status == "success", fits.log
    assert "--expected-duration 30m --max-cost 1" in fits.step("grt").stdout
    over = run_action(job, {"mode": "plan", **PYTORCH_A4000, "max-cost": "0.10"})
    assert over.status == "failure"
    (error,) = errors(over)
    assert "--max-cost: the estimate $0.38 (1 cell of 30 min) is over the budget of $0.10" in error


def test_run_mode_refuses_a_budget_below_the_estimate_before_creating_anything(
    tmp_path: Path,
) -> None:
    inputs = {
        **PYTORCH_A4000,
        "api-key": "ps_budget_canary",
        "project-id": "pr0budget",
        "check-sources": "false",
        "max-cost": "0.10",
        "expected-duration": "1h",
    }
    run = run_action(Job(tmp_path, "workflow_dispatch", {}), inputs)
    assert run.status == "failure"
    (error,) = errors(run)
    assert "--max-cost: the estimate $0.76 (1 cell of 60 min) is over the budget of $0.10" in error


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"save-history": "yes"}, "save-history: 'yes' is not valid (valid: true false)"),
        (
            {"reuse-passed": "1d", "history-branch": ""},
            "history-branch: empty, but save-history or reuse-passed needs it",
        ),
    ],
)
def test_bad_history_inputs_fail_before_anything(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    base = {"provider": "local", "matrices": "examples/matrices", "runtime": "Example"}
    run = run_action(Job(tmp_path, "workflow_dispatch", {}), {**base, **inputs})
    assert run.status == "failure"
    (error,) = errors(run)
    assert message in error
    assert not run.step("grt").ran
