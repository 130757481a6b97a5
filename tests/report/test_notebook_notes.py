"""What a notebook's test carries beside its status (issue 14): the cell it names, where its time
went, what was cut from its executed copy and warnings; every failure kind has a JUnit body."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]

from gradient_runtime_test.report import junit, markdown
from gradient_runtime_test.results import CellResult, CellStatus, TestResult, TestStatus
from tests.report import builders

XSD = Path(__file__).with_name("junit-10.xsd")

TIMING = {"kernel_start_s": 600.0, "waiting_s": 0.0, "cells_s": 0.2, "total_s": 603.1}
SLOW = "took 603.1 s, of which 0.2 s in its cells: kernel start 600.0 s, other 2.9 s"
CUT = "cell 4: image/png (300,000 characters) dropped: notebook_chars=500000 used up"


def notebook_tests() -> tuple[TestResult, ...]:
    return (
        TestResult(
            "notebooks/slow.ipynb",
            TestStatus.PASSED,
            603.1,
            timing=TIMING,
            cut=(CUT,),
            warnings=(SLOW,),
        ),
        TestResult(
            "notebooks/exit.ipynb",
            TestStatus.PASSED,
            1.0,
            "ended early: cell 2 (In [2]) raised SystemExit with a success code",
            cell=2,
        ),
        # a timeout and a shell command failure whose details were lost on the way
        TestResult(
            "notebooks/timeout.ipynb",
            TestStatus.FAILED,
            2.0,
            "cell 2 (In [2]): CellTimeoutError: cell did not finish within its 1 s limit",
            cell=2,
        ),
        TestResult(
            "notebooks/bang.ipynb",
            TestStatus.FAILED,
            0.5,
            "cell 3 (In [2]): ExitCodeError: !false exited with code 1",
            cell=3,
        ),
        TestResult("notebooks/gone.ipynb", TestStatus.ERROR, 0.0, "notebook not found: gone"),
    )


def test_results_json_round_trip_keeps_the_new_fields_and_leaves_out_unset_ones() -> None:
    tests = notebook_tests()
    data = [json.loads(json.dumps(t.to_json())) for t in tests]
    assert data[0]["timing"] == TIMING
    assert (data[0]["cut"], data[0]["warnings"]) == ([CUT], [SLOW])
    assert "cell" not in data[0]
    assert data[2]["cell"] == 2
    assert not {"cell", "timing", "cut", "warnings"} & set(data[4])
    assert tuple(TestResult.from_json(d) for d in data) == tests


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("cell", True, "test.cell"),
        ("cell", 0, "test.cell"),
        ("timing", {"cells_s": "1"}, "test.timing.cells_s"),
        ("cut", "not a list", "test.cut"),
        ("warnings", [1], "test.warnings"),
    ],
)
def test_from_json_refuses_malformed_new_fields(field: str, value: object, named: str) -> None:
    # results.json is read strictly (grt report): a bad value is named, never silently dropped
    data = {"name": "notebooks/x.ipynb", "status": "passed", field: value}
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        TestResult.from_json(data)
    good = TestResult.from_json(
        {"name": "notebooks/x.ipynb", "status": "failed", "cell": 3, "timing": {"total_s": 2}}
    )
    assert (good.cell, dict(good.timing), good.cut) == (3, {"total_s": 2.0}, ())


def render(*tests: TestResult, status: CellStatus = CellStatus.FAILED) -> ET.Element:
    xml = junit.render([builders.run(CellResult("C5", status, tests=tests))])
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(etree.fromstring(xml.encode()))
    return ET.fromstring(xml)


def test_every_failure_has_a_junit_body_and_notes_go_to_system_out() -> None:
    cases = {c.get("name"): c for c in render(*notebook_tests()).iter("testcase")}
    for name in ("notebooks/timeout.ipynb", "notebooks/bang.ipynb"):
        failure = cases[name].find("failure")
        assert failure is not None
        assert failure.text == failure.get("message")  # no details: the message is the body
    error = cases["notebooks/gone.ipynb"].find("error")
    assert error is not None and error.text == "notebook not found: gone"
    assert cases["notebooks/slow.ipynb"].findtext("system-out") == (
        f"warning: {SLOW}\ncut from the executed copy: {CUT}"
    )
    assert cases["notebooks/exit.ipynb"].findtext("system-out") == (
        "ended early: cell 2 (In [2]) raised SystemExit with a success code"
    )


def test_passed_checks_keep_their_message_out_of_system_out() -> None:
    check = TestResult("checks/gpu.count", TestStatus.PASSED, 0.1, "1 GPU")
    (case,) = render(check, status=CellStatus.PASSED).iter("testcase")
    assert list(case) == []


def test_summary_lists_warnings_and_cuts_escaped() -> None:
    hostile = TestResult(
        "notebooks/<b>x</b>.ipynb",
        TestStatus.PASSED,
        cut=("cell 1: <script>alert(1)</script> dropped",),
    )
    run = builders.run(CellResult("C5", CellStatus.PASSED, tests=(*notebook_tests()[:1], hostile)))
    section = markdown.notes_section(run)
    assert section.startswith("<details><summary>ℹ️ 3 notes: warnings and cut outputs</summary>")
    assert f"- C5 · `notebooks/slow.ipynb`: ⚠️ {markdown.escape(SLOW)}" in section
    assert "✂️ cut: cell 4: image/png (300,000 characters) dropped" in section
    assert "<script>" not in section and "&lt;script&gt;" in section
    assert section in markdown.summary([run])
    assert markdown.notes_section(builders.run(CellResult("C5", CellStatus.PASSED))) == ""


def test_terminal_error_cell_without_reason() -> None:
    errored = TestResult("notebooks/gone.ipynb", TestStatus.ERROR, 0.0, "notebook not found")
    listed = CellResult("C5", CellStatus.ERROR, tests=(errored,))
    bare = CellResult("C6", CellStatus.ERROR)
    text = markdown.terminal_table(builders.run(listed, bare))
    problems = text.split("Not passed:\n", 1)[1].splitlines()
    assert problems == [
        "  ERROR  C5 notebooks/gone.ipynb: notebook not found",
        "  ERROR  C6: no reason recorded",
    ]
