"""action.yml's sources step: in `run` mode a drifted matrix stops the action before any notebook
is created; `check-sources: false` skips the check. The example runtime (a local workspace
folder, checked on disk) and a fake registry standing in for Docker Hub."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.action.runner import REPO, Job, run_action
from tests.fakes.registry import FakeRegistry

EXAMPLE_IMAGE = ("paperspace/gradient-base", "pt211-tf215-cudatk120-py311-20240202")


def _examples(tmp_path: Path) -> Path:
    copy = tmp_path / "examples"
    shutil.copytree(REPO / "examples", copy)
    return copy


def _inputs(examples: Path, **more: str) -> dict[str, str]:
    return {
        "provider": "local",
        "matrices": str(examples / "matrices"),
        "runtime": "Example",
        **more,
    }


def test_sources_present_pass_and_the_ref_is_forwarded(tmp_path: Path) -> None:
    examples = _examples(tmp_path)
    with FakeRegistry() as hub:
        hub.add_image(*EXAMPLE_IMAGE)
        job = Job(tmp_path, "workflow_dispatch", {}, extra_env={"GRT_DOCKER_HUB_URL": hub.url})
        run = run_action(job, _inputs(examples), stop_after="sources")
        assert hub.manifest_requests()
    assert run.status == "success", run.log
    step = run.step("sources")
    assert step.ran and "--check-sources" in step.stdout
    assert "Sources: everything listed is there (1 runtime checked)." in step.stderr


def test_a_missing_notebook_fails_before_any_notebook_is_created(tmp_path: Path) -> None:
    examples = _examples(tmp_path)
    (examples / "workspace" / "hello.ipynb").unlink()
    run = run_action(Job(tmp_path, "workflow_dispatch", {}), _inputs(examples))
    assert run.status == "failure"
    errors = [line for line in run.log.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "notebooks: 'hello.ipynb' is not in" in errors[0]
    assert not run.step("grt").ran
    assert not (tmp_path / "grt-results").exists()


def test_check_sources_false_skips_the_check_and_bad_values_fail(tmp_path: Path) -> None:
    examples = _examples(tmp_path)
    (examples / "workspace" / "hello.ipynb").unlink()
    job = Job(tmp_path, "workflow_dispatch", {})
    off = run_action(job, _inputs(examples, **{"check-sources": "false"}), stop_after="sources")
    assert off.status == "success" and not off.step("sources").ran
    bad = run_action(job, _inputs(examples, **{"check-sources": "yes%0A"}), stop_after="sources")
    assert bad.status == "failure"
    assert "::error title=gradient-runtime-test::check-sources: 'yes 0A' is not valid" in bad.log


def test_plan_mode_does_not_check(tmp_path: Path) -> None:
    examples = _examples(tmp_path)
    (examples / "workspace" / "hello.ipynb").unlink()
    inputs = {"mode": "plan", "matrices": str(examples / "matrices")}
    run = run_action(Job(tmp_path, "workflow_dispatch", {}), inputs)
    assert run.status == "success", run.log
    assert not run.step("sources").ran
