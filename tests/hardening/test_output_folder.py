"""`grt run`'s output folder when a file cannot be written: the other files are written, the
notebooks are ended, and the run says so in one line with exit 2 (not a traceback, not the exit
code of a failed cell)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.fakes.paperspace import FakePaperspace
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import ScriptedFaults, live_notebooks
from tests.hardening.test_fault_matrix import run_gradient

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_a_file_that_cannot_be_written_is_one_line_exit_2_after_the_rest(
    ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "junit.xml").mkdir(parents=True)  # in the way of the file: os.replace fails
    ran = run_gradient(ps, canaries, tmp_path, ScriptedFaults(), machines="[C5, C7]")
    assert ran.result.code == 2, ran.result.text
    assert "Traceback" not in ran.result.text
    assert ran.result.err.endswith(
        f"ERROR: --out: could not write {out / 'junit.xml'} (Is a directory)"
        " (valid: a folder this user can write, with free space)\n"
    )
    assert {c["status"] for c in ran.cells.values()} == {"passed"}  # results.json is there
    written = [
        out / "results.json",
        out / "summary.md",
        out / "logs" / "C5.log",
        out / "logs" / "C7.log",
    ]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in written)
    assert live_notebooks(ps) == []
