"""Shared values and builders for the GitHub reporter tests."""

from __future__ import annotations

from pathlib import Path

from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult, TestStatus

HEAD = "1" * 40
PR = 7
INSTALLATION = "ghs_installation"
PERSONAL = "ghp_personal"
READ_ONLY = "ghs_read_only"


def cell(machine: str, status: CellStatus = CellStatus.PASSED, *failing: str) -> CellResult:
    tests = [TestResult("checks/gpu.visible", TestStatus.PASSED)]
    tests += [
        TestResult(name, TestStatus.FAILED, message=f"{name} broke", details="Traceback ...")
        for name in failing
    ]
    return CellResult(machine=machine, status=status, tests=tuple(tests), duration_s=12.0)


def run_of(*cells: CellResult, runtime: str = "PyTorch 1.12") -> RunResult:
    return RunResult(
        runtime=runtime,
        workspace_url="https://github.com/octo/runtimes",
        workspace_ref=HEAD,
        started_at="2024-01-01T00:00:00+00:00",
        finished_at="2024-01-01T00:10:00+00:00",
        cells=cells,
    )


def outputs(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file (name<<delimiter blocks)."""
    found: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines) - 1:
        name, _, delimiter = lines[i].partition("<<")
        end = lines.index(delimiter, i + 1)
        found[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return found
