"""`grt report`: results files are untrusted artifacts (capped, checked value by value, statuses
borne out by their tests), and the output folder is written as far as it can be (0644 files; a
file that cannot be written is one line, exit 2, after the rest)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.cli import main
from gradient_runtime_test.report.outputs import MAX_RESULTS_BYTES, MAX_RESULTS_DEPTH, Output
from gradient_runtime_test.results import CellResult, CellStatus, TestResult, TestStatus
from tests.report.builders import failing_cell, run

REPO = Path(__file__).resolve().parents[2]


def _cell(status: str, *tests: tuple[str, str], machine: str = "C5") -> dict[str, Any]:
    return {
        "machine": machine,
        "status": status,
        "tests": [{"name": name, "status": s} for name, s in tests],
    }


def _results(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"schema": 1, "runtime": "R", "cells": list(cells)}


def _report(
    tmp_path: Path, data: Any, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    file = tmp_path / "in" / "results.json"
    file.parent.mkdir(exist_ok=True)
    if isinstance(data, bytes):
        file.write_bytes(data)
    else:
        file.write_text(data if isinstance(data, str) else json.dumps(data))
    code = main(["report", "--results", str(file), "--out", str(tmp_path / "out"), *extra], env={})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- statuses recomputed from the tests --------------------------------------------------------

RECOMPUTED = {
    "passed holding a failed test": (
        _cell("passed", ("checks/a", "passed"), ("notebooks/b.ipynb", "failed")),
        "failed",
        "results file says passed, but test notebooks/b.ipynb failed",
    ),
    "passed holding an errored test": (
        _cell("passed", ("checks/a", "error")),
        "error",
        "results file says passed, but test checks/a errored",
    ),
    "passed without tests": (
        _cell("passed"),
        "error",
        "incomplete result: passed without any test",
    ),
    "skipped holding a failed test": (
        _cell("skipped", ("checks/a", "failed")),
        "failed",
        "results file says skipped, but test checks/a failed",
    ),
    "still running": (_cell("running"), "error", "results file says running: not finished"),
    "failed stays failed": (_cell("failed", ("checks/a", "passed")), "failed", ""),
    "passed with xfail": (
        _cell("passed", ("checks/a", "passed"), ("notebooks/b.ipynb", "xfail")),
        "passed",
        "",
    ),
}


@pytest.mark.parametrize(("cell", "status", "reason"), RECOMPUTED.values(), ids=RECOMPUTED.keys())
def test_a_cells_status_is_recomputed_from_its_tests(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cell: dict[str, Any],
    status: str,
    reason: str,
) -> None:
    code, _, err = _report(tmp_path, _results(cell), capsys)
    assert code == (0 if status == "passed" else 1), err
    (written,) = json.loads((tmp_path / "out" / "results.json").read_text())["cells"]
    assert (written["status"], written["reason"]) == (status, reason)
    if status == "error":
        assert "| C5 | 💥 error: " in (tmp_path / "out" / "summary.md").read_text()


# --- inputs that are not results files -------------------------------------------------------

NOT_RESULTS = {
    "a list": ([1, 2], "results: not an object"),
    "no runtime": ({"schema": 1}, "results.runtime: not a string"),
    "cells an object": ({**_results(), "cells": {}}, "results.cells: not a list"),
    "a cell a string": (_results("x"), "results.cells[0]: not an object"),  # type: ignore[arg-type]
    "an unknown status": (
        _results(_cell("green")),
        "results.cells[0].status: 'green' is not a status (valid: queued, ",
    ),
    "a test without a name": (
        _results({**_cell("passed"), "tests": [{"status": "passed"}]}),
        "results.cells[0].tests[0].name: not a string",
    ),
    "a duration in words": (
        _results({**_cell("passed", ("a", "passed")), "duration_s": "long"}),
        "results.cells[0].duration_s: not a number of seconds",
    ),
    "an environment list": (
        _results({**_cell("passed", ("a", "passed")), "environment": []}),
        "results.cells[0].environment: not an object",
    ),
    "runs not a list": ({"schema": 1, "runs": "all"}, "runs: not a list"),
    "not JSON": ("{'schema': 1}", "Expecting property name enclosed in double quotes"),
    "not UTF-8": (b'{"schema": 1, "runtime": "\xff"}', "can't decode byte 0xff"),
}


@pytest.mark.parametrize(("data", "why"), NOT_RESULTS.values(), ids=NOT_RESULTS.keys())
def test_a_file_that_is_not_a_results_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: Any, why: str
) -> None:
    code, out, err = _report(tmp_path, data, capsys)
    assert code == 2, out + err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(
        f"ERROR: --results: {tmp_path / 'in' / 'results.json'}: not a results file ("
    )
    assert why in err
    assert not (tmp_path / "out").exists()  # nothing written, nothing published


def test_deeply_nested_json_is_refused_without_a_recursion_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for depth in (MAX_RESULTS_DEPTH + 1, 100_000):
        bomb = '{"schema": 1, "runtime": "R", "cells": [], "x": ' + "[" * depth + "]" * depth + "}"
        code, _, err = _report(tmp_path, bomb, capsys)
        assert code == 2, err
        assert err.endswith(f"(JSON nested deeper than {MAX_RESULTS_DEPTH} levels)\n"), err
    at_the_cap = '{"schema": 1, "runtime": "R", "cells": [], "x": ' + "[" * 63 + "]" * 63 + "}"
    assert _report(tmp_path, at_the_cap, capsys)[0] == 0


def test_an_oversized_file_or_a_device_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_RESULTS_BYTES + 1)  # sparse: no disk used
    for path, why in ((big, "over 64 MiB"), (Path("/dev/zero"), "not a regular file")):
        code = main(["report", "--results", str(path), "--out", str(tmp_path / "o")], env={})
        err = capsys.readouterr().err
        assert code == 2 and err == f"ERROR: --results: {path}: not a results file ({why})\n"


# --- writing the output folder ----------------------------------------------------------------


def test_output_files_are_0644(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = os.umask(0o022)
    try:
        code, _, err = _report(tmp_path, _results(_cell("passed", ("a", "passed"))), capsys)
        output = Output(tmp_path / "cells")
        output.cell_files("C5", ["line"], {"a/b.ipynb": {"cells": []}})
    finally:
        os.umask(old)
    assert code == 0, err
    written = [
        *(tmp_path / "out").iterdir(),
        *(p for p in (tmp_path / "cells").rglob("*") if p.is_file()),
    ]
    assert len(written) == 5
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o644}


def test_a_file_that_cannot_be_written_is_one_line_exit_2_after_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out" / "junit.xml").mkdir(parents=True)  # in the way: os.replace fails
    code, out, err = _report(tmp_path, _results(_cell("passed", ("a", "passed"))), capsys)
    assert code == 2, out + err
    junit = tmp_path / "out" / "junit.xml"
    assert err == (
        f"ERROR: --out: could not write {junit} (Is a directory)"
        " (valid: a folder this user can write, with free space)\n"
    )
    assert json.loads((tmp_path / "out" / "results.json").read_text())["cells"][0]["status"]
    assert (tmp_path / "out" / "summary.md").is_file()
    assert "C5" in out  # the table was still printed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "junit.xml",
        "results.json",
        "summary.md",
    ]  # no temporary file left behind


def test_a_full_disk_is_one_line_exit_2_after_what_fits(tmp_path: Path) -> None:
    big = run(failing_cell("A4000", trace_lines=400))
    big = big.__class__(**{**big.__dict__, "cells": (*big.cells, _passed("C5"))})
    source = tmp_path / "in.json"
    source.write_text(json.dumps(big.to_json()))
    assert source.stat().st_size > 20_000
    out = tmp_path / "out"
    # A file size limit is what a full disk looks like to a writer: the write fails with EFBIG.
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8000, 8000))\n"
        "from gradient_runtime_test.cli import main\n"
        f"sys.exit(main(['report', '--results', {str(source)!r}, '--out', {str(out)!r}], env={{}}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == (
        f"ERROR: --out: could not write {out / 'results.json'} (File too large); 1 more file not"
        " written either (valid: a folder this user can write, with free space)\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["summary.md"]  # what fitted, and no debris
    assert "A4000" in proc.stdout


def _passed(machine: str) -> CellResult:
    return CellResult(
        machine=machine,
        status=CellStatus.PASSED,
        tests=(TestResult("checks/a", TestStatus.PASSED),),
    )
