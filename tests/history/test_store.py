"""History records and the history folder: the JSON form (valid against docs/history.schema.json),
bounded files, concurrent appends, bad lines, the reader API, the previous run, and reuse."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
from pathlib import Path

import jsonschema
import pytest

from gradient_runtime_test import history
from gradient_runtime_test.history import store
from gradient_runtime_test.history.records import Record, previous_cells, records_of, slug
from gradient_runtime_test.history.reuse import find, reused_cell
from gradient_runtime_test.results import CellResult, CellStatus, Reuse, TestResult, TestStatus
from tests.history.samples import record, run

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "history.schema.json").read_text()
)
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
DAY = 86400.0


def test_the_schema_is_valid_and_has_its_stable_id() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    raw = "https://raw.githubusercontent.com/gradient-ai/gradient-runtime-test/v1/"
    assert SCHEMA["$id"] == raw + "docs/history.schema.json"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**record("r").to_json(), "status": "queued"}, SCHEMA)


def test_records_of_a_run_carry_what_a_dashboard_needs_and_match_the_schema() -> None:
    failing = TestResult("notebooks/a.ipynb", TestStatus.FAILED, 1.0, "cell 2: ValueError")
    cells = (
        CellResult(
            "A4000",
            CellStatus.FAILED,
            notebook_id="nb1",
            url="https://console.paperspace.com/x/notebook/nb1",
            duration_s=60.0,
            billed_s=90.0,
            price_per_hour=0.76,
            estimated_cost_usd=0.38,
            input_hash="abc",
            tests=(TestResult("checks/gpu.count", TestStatus.PASSED), failing),
        ),
        CellResult("C5", CellStatus.QUEUED),  # not finished: not recorded
        CellResult(
            "P5000",
            CellStatus.PASSED,
            price_per_hour=0.78,
            reused_from=Reuse("41/1", "2026-11-29T03:00:00Z", "https://x/41"),
        ),
    )
    records = records_of(run("42/1", *cells), event="schedule")
    assert [r.machine for r in records] == ["A4000", "P5000"]
    a4000 = records[0].to_json()
    for data in (r.to_json() for r in records):
        jsonschema.validate(data, SCHEMA)
        assert Record.from_json(json.loads(json.dumps(data))).to_json() == data
    assert a4000["run_url"] == "https://github.com/acme/runtimes/actions/runs/42/1"
    assert (a4000["event"], a4000["status"], a4000["machine"]) == ("schedule", "failed", "A4000")
    assert a4000["cost_usd"] == pytest.approx(90 * 0.76 / 3600)
    assert a4000["workspace_commit"] == "c" * 40 and a4000["input_hash"] == "abc"
    assert a4000["tests"] == {"passed": 1, "failed": 1}
    assert a4000["failures"] == ["notebooks/a.ipynb"]
    assert records[1].to_json()["reused_from"]["run_id"] == "41/1"


def test_append_is_bounded_per_runtime_and_replaces_a_runs_own_record(tmp_path: Path) -> None:
    for i in range(5):
        store.append(
            tmp_path,
            [record(f"r{i}", finished_at=f"2026-11-0{i + 1}T00:00:00Z")],
            keep_runs=3,
        )
    store.append(tmp_path, [record("x", runtime="Other")], keep_runs=3)
    store.append(
        tmp_path,
        [record("r4", status=CellStatus.FAILED, finished_at="2026-11-05T00:00:00Z")],
        keep_runs=3,
    )
    h = history.load(tmp_path)
    assert [r.run_id for r in h.of("PyTorch 1.12")] == ["r2", "r3", "r4"]
    assert h.of("PyTorch 1.12")[-1].status == CellStatus.FAILED  # replaced, not duplicated
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == ["other.jsonl", "pytorch-1-12.jsonl"]
    assert set(h.runtimes()) == {"PyTorch 1.12", "Other"}


def _append_many(folder: str, prefix: str) -> None:
    for i in range(15):
        store.append(
            Path(folder), [record(f"{prefix}{i:02d}", finished_at=f"2026-11-01T00:{i:02d}:00Z")]
        )


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), p)) for p in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert len(history.load(tmp_path).records) == 30


def test_bad_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    store.append(tmp_path, [record("r1")])
    path = tmp_path / "pytorch-1-12.jsonl"
    good = path.read_text()
    path.write_text("<<<<<<< HEAD\n" + good + '{"v": 2}\n[1]\nnot json\n\n')
    h = history.load(tmp_path)
    assert [r.run_id for r in h.records] == ["r1"] and h.skipped == 4
    assert history.load(tmp_path / "absent").records == ()


def test_the_reader_api_groups_runs_and_cells() -> None:
    h = history.History(
        tuple(
            record(f"r{i}", m, cost_usd=1.5, finished_at=f"2026-11-0{i}T00:00:00Z")
            for i in (1, 2, 3)
            for m in ("A4000", "A6000")
        )
    )
    runs = h.runs("PyTorch 1.12")
    assert [r.run_id for r in runs] == ["r1", "r2", "r3"]
    assert runs[0].cost_usd == 3.0 and [x.machine for x in runs[0].records] == ["A4000", "A6000"]
    assert [r.run_id for r in h.last("PyTorch 1.12", "A6000", 2)] == ["r2", "r3"]
    assert h.last("PyTorch 1.12", "A6000", 0) == ()
    assert history.Run("r", ()).cost_usd is None


def test_previous_cells_are_the_last_other_run() -> None:
    records = [
        record("r1", "A4000", status=CellStatus.FAILED, failures=("notebooks/a.ipynb",),
               finished_at="2026-11-01T00:00:00Z"),
        record("r2", "A4000", finished_at="2026-11-02T00:00:00Z"),
        record("r2", "A6000", status=CellStatus.ERROR, finished_at="2026-11-02T00:00:00Z"),
        record("r3", "A4000", finished_at="2026-11-03T00:00:00Z"),
    ]  # fmt: skip
    assert previous_cells(records, "PyTorch 1.12", before="r3") == {
        "A4000": ("passed", ()),
        "A6000": ("error", ()),
    }
    assert previous_cells(records[:1], "PyTorch 1.12", before="r9") == {
        "A4000": ("failed", ("notebooks/a.ipynb",))
    }
    assert previous_cells(records, "Other", before="r3") is None


def test_slugs_name_one_file_per_runtime() -> None:
    assert slug("PyTorch 1.12") == "pytorch-1-12"
    assert slug("Paperspace + Fast.AI") == "paperspace-fast-ai"
    assert slug("../../etc") == "etc" and slug("日本") == "runtime"


# --- reuse --------------------------------------------------------------------------------------


def _find(
    records: list[Record], *, input_hash: str = "h1", max_age_s: float = DAY
) -> Record | None:
    return find(records, runtime="PyTorch 1.12", machine="A4000", input_hash=input_hash,
                now=NOW, max_age_s=max_age_s)  # fmt: skip


def test_a_recent_pass_on_the_same_inputs_is_reused() -> None:
    passed = record("r1", finished_at="2026-11-30T03:00:00Z", run_url="https://x/r1")
    assert _find([passed]) == passed
    cell = reused_cell(passed, input_hash="h1", price_per_hour=0.76)
    assert cell.status == CellStatus.PASSED and cell.billed_s == 0 and cell.cost_usd == 0
    assert cell.reused_from == Reuse("r1", "2026-11-30T03:00:00Z", "https://x/r1")
    assert cell.estimated_cost_usd == 0


@pytest.mark.parametrize(
    ("records", "why"),
    [
        ([record("r1", finished_at="2026-11-29T11:59:00Z")], "older than a day"),
        ([record("r1", input_hash="h2")], "other inputs"),
        ([record("r1", input_hash="")], "inputs not pinned"),
        ([record("r1", "A6000")], "another machine"),
        ([record("r1", runtime="Other")], "another runtime"),
        ([record("r1", status=CellStatus.FAILED)], "failed"),
        (
            [
                record("r1", finished_at="2026-11-30T01:00:00Z"),
                record("r2", status=CellStatus.ERROR, finished_at="2026-11-30T02:00:00Z"),
            ],
            "a later error on the same inputs",
        ),
        (
            [
                record(
                    "r2",
                    finished_at="2026-11-30T02:00:00Z",
                    reused_from=Reuse("r1", "2026-11-28T00:00:00Z"),
                )
            ],
            "a reuse is never reused (a verdict would outlive DURATION)",
        ),
    ],
)
def test_no_reuse(records: list[Record], why: str) -> None:
    assert _find(records) is None, why


def test_cells_without_a_verdict_are_looked_past() -> None:
    passed = record("r1", finished_at="2026-11-30T01:00:00Z")
    later = record("r2", status=CellStatus.UNAVAILABLE, finished_at="2026-11-30T02:00:00Z")
    assert _find([passed, later]) == passed
