"""Budget and history through the real entry point, without notebooks: `grt plan --max-cost`, the
flags of `grt run` refused before anything happens, and `grt report` over fan-out results (costs
summed, records appended to history, the previous run compared with)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradient_runtime_test import history
from gradient_runtime_test.cli import main

ROOT = Path(__file__).resolve().parents[1]
MATRICES = str(ROOT / "matrices")
DATA = ROOT / "tests" / "report" / "data" / "pytorch.json"


def grt(
    capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    code = main(list(argv), env=env or {})
    out, err = capsys.readouterr()
    return code, out, err


# --- grt plan --max-cost ------------------------------------------------------------------------

A4000_A6000 = ("plan", "--matrices", MATRICES, "--runtime", "PyTorch 1.12",
               "--machine", "A4000", "--machine", "A6000")  # fmt: skip


def test_plan_says_a_plan_fits(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = grt(capsys, *A4000_A6000, "--max-cost", "$1.50")
    assert code == 0
    assert "Estimated cost at 30 min per cell: $1.32" in out
    assert out.rstrip().endswith("Within the budget of $1.50.")


def test_plan_says_a_plan_does_not_fit_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = grt(capsys, *A4000_A6000, "--max-cost", "1", "--expected-duration", "1h")
    assert code == 1
    assert "Over the budget of $1.00: the estimate $2.65 (2 cells of 60 min)" in out
    assert err.startswith("ERROR: --max-cost: the estimate $2.65")
    code, out, _ = grt(capsys, *A4000_A6000, "--max-cost", "1", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["within_budget"] is False and data["max_cost_usd"] == 1.0
    assert data["budget_problem"].startswith("the estimate $1.32")


def test_plan_with_unpriced_machines_cannot_promise_a_budget(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = grt(
        capsys, "plan", "--matrices", MATRICES, "--runtime", "PyTorch 1.12", "--max-cost", "1000"
    )
    assert code == 1
    assert "A100" in out and "no price_per_hour" in out


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "1e9", "", "$"])
def test_a_bad_amount_is_refused(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, out, err = grt(capsys, *A4000_A6000, "--max-cost", value)
    assert code == 2 and out == ""
    assert (
        err
        == f"ERROR: --max-cost: {value!r} is not an amount (valid: US dollars from 0 to 1000000, e.g. 25 or 12.50)\n"
    )


# --- grt run: refused before anything happens ---------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--reuse-passed", "1d"],
            "--reuse-passed: it reuses results recorded in a history folder",
        ),
        (["--history", "H", "--reuse-passed", "soon"], "--reuse-passed: 'soon' is not a duration"),
        (["--max-cost", "ten"], "--max-cost: 'ten' is not an amount"),
        (["--expected-duration", "long"], "--expected-duration: 'long' is not a duration"),
        (["--history", "FILE"], "--history: "),
    ],
)
def test_run_refuses_bad_money_and_history_flags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], message: str
) -> None:
    (tmp_path / "FILE").write_text("not a folder")
    flags = [str(tmp_path / f) if f in ("H", "FILE") else f for f in flags]
    out = tmp_path / "out"
    code, _, err = grt(
        capsys, "run", "--matrices", str(ROOT / "examples" / "matrices"), "--runtime", "Example",
        "--out", str(out), *flags,
    )  # fmt: skip
    assert code == 2
    assert err.startswith(f"ERROR: {message}") and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "H").exists()


# --- grt report over fan-out results ------------------------------------------------------------


def _fan_out(tmp_path: Path) -> list[str]:
    base = json.loads(DATA.read_text())
    paths = []
    for cell in base["cells"][:5]:
        path = tmp_path / "parts" / cell["machine"] / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(dict(base, cells=[cell])))
        paths.append(str(path))
    return paths


def actions_env(tmp_path: Path, run_id: str, event: str = "schedule") -> dict[str, str]:
    (tmp_path / "event.json").write_text("{}")
    (tmp_path / f"summary-{run_id}.md").write_text("")
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
        "GITHUB_REPOSITORY": "acme/runtimes",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": run_id,
        "GITHUB_STEP_SUMMARY": str(tmp_path / f"summary-{run_id}.md"),
    }


def test_report_sums_costs_and_records_history_under_the_workflow_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    parts = _fan_out(tmp_path)
    folder = tmp_path / "history"
    env = actions_env(tmp_path, "500")
    code, out, _ = grt(
        capsys, "report", "--results", *parts, "--out", str(tmp_path / "r1"),
        "--history", str(folder), env=env,
    )  # fmt: skip
    assert code == 1  # the sample has a failed cell
    merged = json.loads((tmp_path / "r1" / "results.json").read_text())
    costs = [c["cost_usd"] for c in merged["cells"] if c["cost_usd"] is not None]
    assert len(costs) == 3 and merged["cost_usd"] == pytest.approx(sum(costs), abs=1e-4)
    assert merged["estimated_cost_usd"] == pytest.approx(0.38 + 0.39 + 0.255, abs=1e-4)
    assert merged["run_id"] == "500/1"
    assert merged["run_url"] == "https://github.com/acme/runtimes/actions/runs/500"
    assert "Cost: billed $0.13 of an estimated $1.02" in out
    records = history.load(folder).records
    assert [r.machine for r in records] == ["A4000", "A6000x2", "P5000", "C5", "P4000"]
    assert {(r.run_id, r.event, r.run_url) for r in records} == {
        ("500/1", "schedule", "https://github.com/acme/runtimes/actions/runs/500")
    }
    assert "Changes since the previous run" not in (tmp_path / "summary-500.md").read_text()

    # the next night: P4000 is fixed; its comparison comes from history (no pull request)
    data = json.loads(Path(parts[4]).read_text())
    passed = [{"name": "checks/gpu.count", "status": "passed"}]  # a pass shows its tests
    data["cells"][0].update(status="passed", reason="", tests=passed)
    Path(parts[4]).write_text(json.dumps(data))
    grt(capsys, "report", "--results", *parts, "--out", str(tmp_path / "r2"),
        "--history", str(folder), env=actions_env(tmp_path, "501"))  # fmt: skip
    summary = (tmp_path / "summary-501.md").read_text()
    assert "**Changes since the previous run**" in summary
    assert "`P4000`: error → passed" in summary
    assert [r.run_id for r in history.load(folder).runs("PyTorch 1.12")] == ["500/1", "501/1"]


def test_results_without_a_run_id_get_the_reports_own(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = json.loads(DATA.read_text())
    del old["run_id"]
    (tmp_path / "results.json").write_text(json.dumps(old))
    folder = tmp_path / "history"
    grt(capsys, "report", "--results", str(tmp_path / "results.json"), "--out",
        str(tmp_path / "out"), "--history", str(folder))  # fmt: skip
    (run,) = history.load(folder).runs("PyTorch 1.12")
    assert len(run.run_id) == 10 and len(run.records) == len(old["cells"])
