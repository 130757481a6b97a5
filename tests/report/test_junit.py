"""junit.xml: schema-valid, same counts in other consumers, every status mapped, hostile text safe."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import junitparser
import pytest
from lxml import etree  # type: ignore[import-untyped]

from gradient_runtime_test.report import junit
from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult, TestStatus
from tests.report import builders
from tests.report.regen import SAMPLES, load

XSD = Path(__file__).with_name("junit-10.xsd")


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def all_runs() -> dict[str, list[RunResult]]:
    runs = {name: [load(name)] for name in SAMPLES}
    runs["every-status"] = [builders.every_status_run()]
    runs["all"] = [load(name) for name in SAMPLES] + runs["every-status"]
    runs["none"] = []
    return runs


def expected_counts(run: RunResult) -> list[Counter[str]]:
    """Per cell: the counts the mapping in the brief implies, worked out independently."""
    out = []
    for cell in run.cells:
        c: Counter[str] = Counter()
        for t in cell.tests:
            c["tests"] += 1
            if t.status == TestStatus.FAILED:
                c["failures"] += 1
            elif t.status == TestStatus.ERROR:
                c["errors"] += 1
            elif t.status in (TestStatus.SKIPPED, TestStatus.XFAIL):
                c["skipped"] += 1
        red = c["failures"] or c["errors"]
        if not cell.tests or (cell.status in (CellStatus.FAILED, CellStatus.ERROR) and not red):
            c["tests"] += 1  # the `cell` test case
            if cell.status == CellStatus.FAILED:
                c["failures"] += 1
            elif cell.status == CellStatus.ERROR:
                c["errors"] += 1
            elif cell.status != CellStatus.PASSED:
                c["skipped"] += 1
        out.append(c)
    return out


@pytest.mark.parametrize("name", sorted(all_runs()))
def test_validates_against_junit_10_xsd(name: str, schema: etree.XMLSchema) -> None:
    text = junit.render(all_runs()[name])
    doc = etree.fromstring(text.encode("utf-8"))
    assert schema.validate(doc), schema.error_log
    assert "disabled=" not in text


@pytest.mark.parametrize("name", sorted(all_runs()))
def test_junitparser_reads_the_same_counts(name: str) -> None:
    runs = all_runs()[name]
    xml = junitparser.JUnitXml.fromstring(junit.render(runs).encode("utf-8"))
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    expected = [c for run in runs for c in expected_counts(run)]
    assert len(suites) == len(expected)
    for suite, want in zip(suites, expected, strict=True):
        cases = list(suite)
        from_cases = {
            "tests": len(cases),
            "failures": sum(c.is_failure for c in cases),
            "errors": sum(c.is_error for c in cases),
            "skipped": sum(c.is_skipped for c in cases),
        }
        from_attrs = {k: getattr(suite, k) for k in from_cases}
        want_dict = {k: want[k] for k in from_cases}
        assert from_attrs == want_dict, suite.name
        assert from_cases == want_dict, suite.name
    if suites:
        totals = {k: getattr(xml, k) for k in ("tests", "failures", "errors")}
        assert totals == {k: sum(c[k] for c in expected) for k in totals}


def test_statuses_map_to_elements() -> None:
    root = ET.fromstring(junit.render([builders.every_status_run()]))
    suites = {s.get("name", "").removeprefix("PyTorch 1.12 on "): s for s in root}
    failed = {c.get("name"): c for c in suites["M-failed"].iter("testcase")}
    assert [child.tag for child in failed["checks/t.passed"]] == []
    assert [child.tag for child in failed["checks/t.failed"]] == ["failure"]
    assert [child.tag for child in failed["checks/t.error"]] == ["error"]
    assert [child.tag for child in failed["checks/t.skipped"]] == ["skipped"]
    xfail = failed["checks/t.xfail"].find("skipped")
    assert xfail is not None
    assert xfail.get("message") == "expected failure: message for xfail"
    assert xfail.text == "details xfail"
    xpass = failed["checks/t.xpass"]
    assert [child.tag for child in xpass] == ["system-out"]
    assert "expected failure" in (xpass.findtext("system-out") or "")
    # cells without tests: one `cell` test case carrying the reason and the log tail
    for status, tag in [
        ("error", "error"),
        ("unavailable", "skipped"),
        ("cancelled", "skipped"),
        ("skipped", "skipped"),
        ("queued", "skipped"),
        ("running", "skipped"),
    ]:
        (case,) = suites[f"M-{status}"].iter("testcase")
        assert case.get("name") == "cell"
        (result,) = list(case)
        assert result.tag == tag
        assert f"reason for {status}" in (result.get("message") or "")
        assert result.text == f"log 1 {status}\nlog 2"
    (passed,) = suites["M-passed"].iter("testcase")
    assert [child.tag for child in passed] == ["system-out"]  # a passing cell keeps its log


def test_error_cell_with_only_passing_tests_is_not_green() -> None:
    cell = CellResult(
        "A4000",
        CellStatus.ERROR,
        reason="bundle truncated",
        tests=(TestResult("checks/gpu.count", TestStatus.PASSED),),
    )
    suite = ET.fromstring(junit.render([builders.run(cell)])).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("errors")) == ("2", "1")


def test_properties() -> None:
    suite = ET.fromstring(junit.render([load("pytorch")])).find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["notebook_id"] == "n7x2k4q9zp"
    assert (props["container"] or "").startswith("paperspace/gradient-base:")
    assert props["workspace_ref"] == "v1.2.0"
    assert props["gpu"] == "1x NVIDIA RTX A4000"
    assert props["machine"] == "A4000"
    assert props["status"] == "passed"
    assert props["runtime"] == "PyTorch 1.12"


@pytest.mark.parametrize(
    ("runtime", "machine", "expected"),
    [
        ("PyTorch 1.12", "A4000", "PyTorch_1_12.A4000"),
        ("TensorFlow 2.9 + CUDA 11.2", "Free-A100-80G", "TensorFlow_2_9_CUDA_11_2.Free-A100-80G"),
        ("...", "a.b", "_.a_b"),
    ],
)
def test_classname_has_exactly_one_dot(runtime: str, machine: str, expected: str) -> None:
    assert junit.classname(runtime, machine) == expected
    assert expected.count(".") == 1


def test_hostile_text_is_stripped_to_valid_xml(schema: etree.XMLSchema) -> None:
    nasty = "".join(chr(i) for i in range(0xA0)) + "\ud800\ufffe\U0001fffe ok"
    ansi = "\x1b[31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 \x9b1mcsi"
    test = TestResult(nasty + "name", TestStatus.FAILED, 1e-5, ansi + nasty, ansi + "\n" + nasty)
    cell = CellResult(nasty, CellStatus.ERROR, reason=nasty, tests=(test,), log_tail=(nasty,))
    run = dataclasses.replace(builders.run(cell, runtime=nasty), workspace_ref=nasty)
    text = junit.render([run])
    assert schema.validate(etree.fromstring(text.encode("utf-8"))), schema.error_log
    failure = ET.fromstring(text).find(".//failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith("red link csi")
    assert "\x1b" not in text
    assert 'time="0.000"' in text  # 1e-05 would break the SUREFIRE_TIME pattern


def test_empty_test_messages_still_count_as_failures() -> None:
    cell = CellResult(
        "A4000",
        CellStatus.FAILED,
        tests=(
            TestResult("a", TestStatus.FAILED),
            TestResult("b", TestStatus.ERROR),
            TestResult("c", TestStatus.SKIPPED),
        ),
    )
    suite = ET.fromstring(junit.render([builders.run(cell)])).find("testsuite")
    assert suite is not None
    assert [suite.get(k) for k in ("tests", "failures", "errors", "skipped")] == [
        "3",
        "1",
        "1",
        "1",
    ]


def test_deterministic() -> None:
    runs = [load(name) for name in SAMPLES]
    assert junit.render(runs) == junit.render(runs)
