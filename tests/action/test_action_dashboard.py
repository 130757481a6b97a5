"""action.yml's `mode: dashboard` (the site of history-branch, for GitHub Pages) and the links the
reports carry in Actions: the artifact holding the notebook pages and `dashboard-url`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.action.runner import Job, run_action
from tests.action.test_action_history import Repo, errors, fan_out
from tests.sources.gitrepos import instead_of, user_env

pytestmark = pytest.mark.server  # git subprocesses against local repositories
REMOTE = "https://github.com/octo/runtimes.git"
SITE_URL = "https://octo.github.io/runtimes/"


def test_a_recorded_run_becomes_the_dashboard_site(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    results = fan_out(tmp_path / "night", {"A4000": "passed", "P4000": "error"})
    report = {"mode": "report", "results": str(results), "save-history": "true"}
    recorded = run_action(repo.job("2001"), {**report, "fail-on": "never"})
    assert recorded.status == "success", recorded.log

    site = tmp_path / "site"
    built = run_action(repo.job("2002"), {"mode": "dashboard", "out": str(site)})
    assert built.status == "success", built.log
    assert built.outputs["site"] == str(site)
    assert f"dashboard --history {built.step('history').outputs['dir']} --out {site}" in (
        built.step("grt").stdout
    )
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "PyTorch 1.12" in index and "A4000" in index and "P4000" in index
    assert 'href="https://github.com/octo/runtimes/actions/runs/2001"' in index
    assert (site / "runtimes" / "pytorch-1-12.html").is_file()
    assert "gradient-runtime-test dashboard" in built.summary
    assert not built.step("history-save").ran  # nothing to record


def test_a_dashboard_without_a_readable_history_fails(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    instead_of(env, REMOTE, tmp_path / "nothing-here.git")
    job = Job(tmp_path, "workflow_dispatch", {}, extra_env=env)
    run = run_action(job, {"mode": "dashboard", "out": str(tmp_path / "site")})
    assert run.status == "failure"
    assert any("history-branch: could not be read" in line for line in errors(run))
    assert not (tmp_path / "site").exists()


def test_reports_name_the_artifact_holding_the_pages_and_link_the_dashboard(
    tmp_path: Path,
) -> None:
    results = fan_out(tmp_path / "jobs", {"A6000x2": "failed"})
    (part,) = results.glob("*/results.json")
    data = json.loads(part.read_text())
    assert data["cells"][0]["tests"][3]["html"].endswith("#cell-3")  # tests/report/data
    (part.parent / "notebooks" / "A6000x2").mkdir(parents=True)
    (part.parent / "notebooks" / "A6000x2" / "quick_start_pytorch.html").write_text("page")
    job = Job(tmp_path, "schedule", {})
    inputs = {"mode": "report", "results": str(results), "dashboard-url": SITE_URL}
    run = run_action(job, {**inputs, "fail-on": "never", "out": str(tmp_path / "out")})
    assert run.status == "success", run.log
    page = "notebooks/A6000x2/quick_start_pytorch.html"
    artifacts = "https://github.com/octo/runtimes/actions/runs/42#artifacts"
    assert f"`{page}#cell-3` in the artifact [grt-report]({artifacts})" in run.summary
    assert f"[Dashboard]({SITE_URL})" in run.summary
    assert (tmp_path / "out" / page).read_text() == "page"  # in the artifact it names
