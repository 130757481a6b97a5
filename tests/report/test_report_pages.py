"""`grt report` over fan-out jobs' output folders brings each job's executed notebooks, pages and
logs along, so the pages results.json points at are in the merged folder (the report artifact)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradient_runtime_test.cli import main
from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult, TestStatus


def _job(root: Path, machine: str, *, page: str, finished: str) -> Path:
    test = TestResult(
        "notebooks/a.ipynb",
        TestStatus.FAILED,
        message="cell 2: E",
        html=f"notebooks/{machine}/a.html#cell-2",
    )
    run = RunResult(
        "Example",
        None,
        None,
        "2026-11-30T03:00:00Z",
        finished,
        (CellResult(machine, CellStatus.FAILED, tests=(test,)),),
    )
    out = root / f"grt-results-{machine}-{finished[14:16]}"
    (out / "notebooks" / machine).mkdir(parents=True)
    (out / "logs").mkdir()
    (out / "results.json").write_text(json.dumps(run.to_json()))
    (out / "notebooks" / machine / "a.html").write_text(page)
    (out / "notebooks" / machine / "a.ipynb").write_text("{}")
    (out / "logs" / f"{machine}.log").write_text(f"log of {machine}\n")
    return out


def test_report_copies_each_jobs_pages_and_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "all-results"
    _job(jobs, "C5", page="C5 page", finished="2026-11-30T03:10:00Z")
    _job(jobs, "A4000", page="first attempt", finished="2026-11-30T03:11:00Z")
    _job(jobs, "A4000", page="re-run", finished="2026-11-30T03:20:00Z")  # replaces the first
    out = tmp_path / "report"
    assert (
        main(["report", "--results", str(jobs), "--out", str(out), "--fail-on", "never"], env={})
        == 0
    )
    capsys.readouterr()
    merged = json.loads((out / "results.json").read_text())
    for run in merged.get("runs", [merged]):
        for cell in run["cells"]:
            for test in cell["tests"]:
                page, _, anchor = test["html"].partition("#")
                assert (out / page).is_file() and anchor == "cell-2"
    assert (out / "notebooks" / "C5" / "a.html").read_text() == "C5 page"
    assert (out / "notebooks" / "A4000" / "a.html").read_text() == "re-run"
    assert (out / "logs" / "A4000.log").read_text() == "log of A4000\n"
    assert "Executed notebook: notebooks/C5/a.html#cell-2" in (out / "junit.xml").read_text()
