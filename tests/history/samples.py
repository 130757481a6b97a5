"""Small history records and runs for the history tests."""

from __future__ import annotations

from gradient_runtime_test.history.records import Record
from gradient_runtime_test.results import CellResult, CellStatus, RunResult


def record(
    run_id: str,
    machine: str = "A4000",
    *,
    runtime: str = "PyTorch 1.12",
    status: CellStatus = CellStatus.PASSED,
    finished_at: str = "2026-11-30T03:00:00Z",
    input_hash: str = "h1",
    **kw: object,
) -> Record:
    return Record(
        run_id=run_id,
        runtime=runtime,
        machine=machine,
        status=status,
        started_at=finished_at,
        finished_at=finished_at,
        input_hash=input_hash,
        **kw,  # type: ignore[arg-type]
    )


def run(run_id: str, *cells: CellResult, finished_at: str = "2026-11-30T03:00:00Z") -> RunResult:
    return RunResult(
        runtime="PyTorch 1.12",
        workspace_url="https://github.com/acme/ws",
        workspace_ref="main",
        started_at="2026-11-30T02:00:00Z",
        finished_at=finished_at,
        cells=cells,
        container="acme/image:1",
        provider="gradient",
        run_id=run_id,
        run_url=f"https://github.com/acme/runtimes/actions/runs/{run_id}",
        workspace_commit="c" * 40,
        harness_version="0.1.0+abc",
    )
