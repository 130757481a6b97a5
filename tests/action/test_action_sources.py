"""action.yml's sources step: in `run` mode on Gradient, a matrix that drifted from its workspace
stops the action before any notebook is created; `check-sources: false` skips the check. The
workspace is a local repository reached through the job's git config (`url.<local>.insteadOf`),
and a fake registry stands in for Docker Hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.action.runner import ActionRun, Job, run_action
from tests.fakes.registry import FakeRegistry
from tests.sources.gitrepos import instead_of, make_repo, remove, user_env

pytestmark = pytest.mark.server
URL = "https://git.example.invalid/org/workspace"
RUNTIME = f"""\
name: Drift
container: "org/img:1"
workspace: "{URL}"
machines: [C5]
notebooks: [a.ipynb, b.ipynb]
"""


class World:
    def __init__(self, tmp: Path, hub: FakeRegistry) -> None:
        self.tmp = tmp
        self.env = user_env(tmp / "home", GRT_DOCKER_HUB_URL=hub.url)
        self.repo = tmp / "origin"
        self.first = make_repo(self.repo, self.env, {"a.ipynb": "{}", "b.ipynb": "{}"})
        instead_of(self.env, URL, self.repo)
        hub.add_image("org/img", "1")
        self.matrices = tmp / "matrices"
        (self.matrices / "runtimes").mkdir(parents=True)
        (self.matrices / "machines.yaml").write_text("machines:\n  C5: {accelerator: cpu}\n")
        (self.matrices / "runtimes" / "drift.yaml").write_text(RUNTIME)

    def run(self, stop_after: str | None = None, **inputs: str) -> ActionRun:
        job = Job(self.tmp, "workflow_dispatch", {}, extra_env=self.env)
        base = {"matrices": str(self.matrices), "runtime": "Drift", "api-key": "ps_unused"}
        return run_action(job, {**base, **inputs}, stop_after=stop_after)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeRegistry() as hub:
        yield World(tmp_path, hub)


def test_a_missing_notebook_fails_before_any_notebook_is_created(world: World) -> None:
    remove(world.repo, world.env, "b.ipynb")
    run = world.run()
    assert run.status == "failure"
    errors = [line for line in run.log.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and f"notebooks: 'b.ipynb' is not in {URL} (" in errors[0]
    assert not run.step("grt").ran


def test_present_sources_pass_at_the_forwarded_ref(world: World) -> None:
    remove(world.repo, world.env, "b.ipynb")
    run = world.run(stop_after="sources", **{"workspace-ref": world.first})
    assert run.status == "success", run.log
    step = run.step("sources")
    assert f"--check-sources --workspace-ref {world.first}" in step.stdout
    assert "Sources: everything listed is there (1 runtime checked)." in step.stderr


def test_check_sources_false_skips_the_check_and_bad_values_fail(world: World) -> None:
    remove(world.repo, world.env, "b.ipynb")
    off = world.run(stop_after="sources", **{"check-sources": "false"})
    assert off.status == "success" and not off.step("sources").ran
    bad = world.run(stop_after="sources", **{"check-sources": "yes%0A"})
    assert bad.status == "failure"
    assert "::error title=gradient-runtime-test::check-sources: 'yes 0A' is not valid" in bad.log


def test_no_check_where_no_notebook_is_paid_for(world: World) -> None:
    remove(world.repo, world.env, "b.ipynb")
    local = world.run(stop_after="sources", provider="local")
    assert local.status == "success" and not local.step("sources").ran
    plan = world.run(mode="plan")
    assert plan.status == "success", plan.log
    assert not plan.step("sources").ran
