"""Small builders of result records for the report tests."""

from __future__ import annotations

from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult, TestStatus

ESC = "\x1b"


def traceback(lines: int, width: int = 60) -> str:
    """An ANSI-coloured IPython-like traceback of about `lines` lines."""
    out = [f"{ESC}[0;31mZeroDivisionError{ESC}[0m   Traceback (most recent call last)"]
    for i in range(lines - 2):
        out.append(f"{ESC}[0;32mFile /notebooks/m{i}.py:{i}{ESC}[0m " + "x" * width)
    out.append(f"{ESC}[0;31mZeroDivisionError{ESC}[0m: division by zero")
    return "\n".join(out)


def run(*cells: CellResult, runtime: str = "PyTorch 1.12") -> RunResult:
    return RunResult(
        runtime=runtime,
        workspace_url="https://github.com/acme/ws",
        workspace_ref="main",
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T01:00:00Z",
        cells=cells,
        container="acme/image:1",
        provider="gradient",
    )


def failing_cell(machine: str, *, tests: int = 1, trace_lines: int = 80) -> CellResult:
    return CellResult(
        machine=machine,
        status=CellStatus.FAILED,
        notebook_id=f"nb{machine}",
        url=f"https://console.paperspace.com/acme/notebook/nb{machine}",
        duration_s=123.0,
        environment={"gpus": ["NVIDIA RTX A4000"]},
        tests=tuple(
            TestResult(
                f"notebooks/nb{i}.ipynb",
                TestStatus.FAILED,
                10.0,
                f"cell {i}: ZeroDivisionError: division by zero",
                traceback(trace_lines),
            )
            for i in range(tests)
        ),
    )


def every_status_run() -> RunResult:
    """One cell per cell status; the failed one holds one test per test status."""
    tests = tuple(
        TestResult(f"checks/t.{s.value}", s, 0.5, f"message for {s.value}", f"details {s.value}")
        for s in TestStatus
    )
    cells = []
    for status in CellStatus:
        cells.append(
            CellResult(
                machine=f"M-{status.value}",
                status=status,
                reason=f"reason for {status.value}",
                log_tail=(f"log 1 {status.value}", "log 2"),
                tests=tests if status == CellStatus.FAILED else (),
            )
        )
    return run(*cells)
