"""Money and memory end to end: `grt run --provider gradient` against the fake Paperspace API with
priced machines, the fake GitHub API for the comment and check run, a fake registry for the image
digest, and the workspace repository reached by git through the user's config (insteadOf)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gradient_helpers import grt_env, run_args
from tests.e2e.workspace import REPO, WORKSPACE_URL, make_matrices
from tests.fakes.github import FakeGitHub
from tests.fakes.paperspace import FakePaperspace
from tests.fakes.registry import FakeRegistry
from tests.github.helpers import HEAD, PR
from tests.sources.gitrepos import commit, instead_of, user_env

pytestmark = [pytest.mark.server, pytest.mark.kernel, pytest.mark.slow]
TOKEN = "ghs_money_canary_1b2c"
EXPENSIVE = """\
machines:
  A4000: {accelerator: gpu, count: 1, model: A4000, memory_gb: 16, price_per_hour: 1000}
  A6000: {accelerator: gpu, count: 1, model: A6000, memory_gb: 48, price_per_hour: 1000}
"""


class World:
    """The fakes, and `grt` run against them as a GitHub Actions job on a pull request."""

    def __init__(self, fake: FakePaperspace, hub: FakeRegistry, github: FakeGitHub, tmp: Path):
        self.fake, self.github, self.tmp = fake, github, tmp
        self.repo = fake.repositories[WORKSPACE_URL]
        self.git_env = user_env(tmp / "home")
        instead_of(self.git_env, WORKSPACE_URL, self.repo)
        self.digest = hub.add_image("paperspace/gradient-base", "pt112")
        event = tmp / "event.json"
        event.write_text((REPO / "tests/github/events/pull_request.json").read_text())
        for name in ("output", "summary"):
            (tmp / name).write_text("")
        self.env = {
            **grt_env(fake),
            **self.git_env,
            "GRT_DOCKER_HUB_URL": hub.url,
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": github.full_name,
            "GITHUB_SHA": "f" * 40,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": github.url,
            "GITHUB_RUN_ID": "42",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_OUTPUT": str(tmp / "output"),
            "GITHUB_STEP_SUMMARY": str(tmp / "summary"),
        }
        self.matrices = make_matrices(tmp, machines="[C5, A4000, A6000]")

    def grt(self, out: str, *extra: str, run_id: str = "42") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gradient_runtime_test", *run_args(self.matrices, self.tmp / out), *extra],
            env={**self.env, "GITHUB_RUN_ID": run_id},
            capture_output=True,
            text=True,
            timeout=240,
        )  # fmt: skip

    def results(self, out: str) -> dict[str, Any]:
        data = json.loads((self.tmp / out / "results.json").read_text())
        assert isinstance(data, dict)
        return data

    def creates(self) -> int:
        return len(self.fake.requests_to("createNotebook"))


@pytest.fixture
def world(fake: FakePaperspace, tmp_path: Path) -> Iterator[World]:
    with FakeRegistry() as hub, FakeGitHub() as github:
        github.add_token(TOKEN, kind="installation")
        github.add_pull(PR, HEAD)
        yield World(fake, hub, github, tmp_path)


def test_every_report_shows_billed_and_estimated_dollars(world: World) -> None:
    proc = world.grt(
        "out", "--machine", "A4000", "--max-cost", "1", "--expected-duration", "10m",
        "--comment", "--check-run",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = world.results("out")
    (cell,) = results["cells"]
    assert cell["status"] == "passed" and cell["price_per_hour"] == 0.76
    assert cell["cost_usd"] == pytest.approx(cell["billed_s"] * 0.76 / 3600, abs=1e-4)
    assert cell["cost_usd"] > 0
    assert cell["estimated_cost_usd"] == pytest.approx(0.76 / 6, abs=1e-4)
    assert results["cost_usd"] == cell["cost_usd"] and results["max_cost_usd"] == 1.0
    assert results["estimated_cost_usd"] == cell["estimated_cost_usd"]
    assert results["run_id"] == "42/1"
    assert results["run_url"] == f"https://github.com/{world.github.full_name}/actions/runs/42"
    line = re.compile(
        r"Cost: billed (&lt;)?\\\$0\.\d\d of an estimated \\\$0\.13 · budget \\\$1\.00"
    )
    summary = (world.tmp / "out" / "summary.md").read_text()
    assert line.search(summary) and "| Cost |" in summary
    (comment,) = world.github.comments_on(PR)
    assert line.search(comment.body) and "| Cost |" in comment.body
    (check,) = world.github.check_runs.values()
    assert line.search(check.data["output"]["summary"])
    junit = (world.tmp / "out" / "junit.xml").read_text()
    assert re.search(r'<property name="cost_usd" value="0\.\d{4}" />', junit)
    assert '<property name="estimated_cost_usd" value="0.1267" />' in junit
    assert "Cost: billed" in proc.stdout  # the terminal table


def test_a_budget_below_the_estimate_creates_nothing(world: World) -> None:
    proc = world.grt("out", "--machine", "A4000", "--machine", "A6000", "--max-cost", "0.50")
    assert proc.returncode == 2
    message = (
        "--max-cost: the estimate $1.32 (2 cells of 30 min) is over the budget of $0.50"
        " (valid: a budget of at least $1.32, fewer machines with --machine, or a shorter"
        " --expected-duration)"
    )
    assert proc.stderr.strip().splitlines() == [f"ERROR: {message}", f"::error::{message}"]
    unpriced = world.grt("out", "--max-cost", "100")  # C5 has no price
    assert unpriced.returncode == 2 and "--max-cost: C5 has no price_per_hour" in unpriced.stderr
    assert world.creates() == 0 and world.fake.requests == []
    assert not (world.tmp / "out").exists()


def test_a_budget_reached_mid_run_cancels_what_is_left(world: World) -> None:
    (world.matrices / "machines.yaml").write_text(EXPENSIVE)  # $1000 an hour: 28 cents a second
    world.matrices.joinpath("runtimes/e2e.yaml").write_text(
        world.matrices.joinpath("runtimes/e2e.yaml").read_text().replace("[C5, A4000, A6000]", "[A6000, A4000]")
    )  # fmt: skip
    world.fake.faults.stuck_machines = {"A6000"}  # it bills, and never gets anywhere
    proc = world.grt(
        "out", "--max-parallel", "1", "--expected-duration", "1s", "--max-cost", "1"
    )  # both cells fit the estimate ($0.56), so the run starts
    results = world.results("out")
    cells = {c["machine"]: c for c in results["cells"]}
    assert {m: (c["status"], c["reason"]) for m, c in cells.items()} == {
        "A6000": ("cancelled", "budget"),
        "A4000": ("cancelled", "budget"),
    }, proc.stderr
    assert world.creates() == 1 and cells["A4000"]["notebook_id"] == ""
    assert results["cost_usd"] <= 1.0 * 1.1  # stopped before the budget (plus a stop's latency)
    assert results["cost_usd"] >= 0.5
    (notebook,) = world.fake.notebooks.values()
    assert notebook.deleted  # the cancelled notebook was stopped and deleted
    assert "⏹️ cancelled: budget" in (world.tmp / "out" / "summary.md").read_text()


def test_a_second_identical_run_reuses_and_a_new_commit_runs_again(world: World) -> None:
    history = str(world.tmp / "history")
    reuse = ("--machine", "A4000", "--history", history, "--reuse-passed", "1d")
    first = world.grt("one", *reuse, run_id="1")
    assert first.returncode == 0, first.stderr
    one = world.results("one")
    assert one["cells"][0]["status"] == "passed" and one["cells"][0]["reused_from"] is None
    assert (
        one["workspace"]["commit"]
        == subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=world.repo, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert one["container_digest"] == world.digest
    assert world.creates() == 1

    second = world.grt("two", *reuse, run_id="2")
    assert second.returncode == 0, second.stderr
    assert world.creates() == 1  # no notebook this time
    (cell,) = world.results("two")["cells"]
    assert cell["status"] == "passed" and cell["billed_s"] == 0 and cell["cost_usd"] == 0
    assert (
        cell["reused_from"]["run_id"] == "1/1" and cell["reused_from"]["at"] == one["finished_at"]
    )
    assert cell["input_hash"] == one["cells"][0]["input_hash"] != ""
    assert "reused: [run 1/1]" in (world.tmp / "two" / "summary.md").read_text()

    commit(world.repo, world.git_env, {"new.txt": "x"}, "a new workspace commit")
    third = world.grt("three", *reuse, run_id="3")
    assert third.returncode == 0, third.stderr
    assert world.creates() == 2
    (cell,) = world.results("three")["cells"]
    assert cell["reused_from"] is None and cell["input_hash"] != one["cells"][0]["input_hash"]
    lines = (world.tmp / "history" / "e2e-runtime.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == ["1/1", "2/1", "3/1"]
