"""`junit.xml`: one `<testsuite>` per runtime x machine cell, valid against Jenkins' junit-10.xsd.

Built with the `junit-xml` package, then brought into line with the schema: junit-xml writes a
`disabled` attribute (and could write `status`, `file`, ... on test cases) that junit-10.xsd
rejects, and formats times with `str(float)`, which can give `1e-05` where the schema wants
digits. Every text is ANSI-free and holds only characters XML allows.

Mapping of test statuses:

=========  ===================================================================
passed     a passing test case
failed     `<failure>`: the runtime is broken on this machine
error      `<error>`: the test could not run to a verdict
skipped    `<skipped>`
xfail      `<skipped message="expected failure: ...">` (declared in the matrix)
xpass      a passing test case, with a `<system-out>` note to drop the declaration
=========  ===================================================================

Every failure and error has a body: the test's details, else its message. A notebook's warnings
(e.g. time spent outside its cells), what was cut from its executed copy, and the message of a
passing notebook (one that ended early) go to the test case's `<system-out>`.

A notebook test's body starts with its executed copy's HTML page, at the failing cell
(`Executed notebook: notebooks/<machine>/<path>.html#cell-<n>`, relative to the output folder).

A cell without tests (error, unavailable, cancelled, ...) still gets a suite, holding one test
case named `cell` that carries the cell's reason and log tail; so does a failed or error cell none
of whose tests failed, so that the counts never show green for a red cell.

Test case `classname` is `<runtime>.<machine>` with each part reduced to letters, digits, `_` and
`-` (other runs become one `_`): consumers split the classname at dots into package and class, so the dot in
"PyTorch 1.12" or a space or `+` would scatter one runtime over several packages. The exact names
are kept in the suite name (`<runtime> on <machine>`) and its `runtime` and `machine` properties.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import junit_xml

from gradient_runtime_test.report import clean, gpu_summary, one_line, page_link, shorten
from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult, TestStatus

__all__ = ["classname", "render"]

# Attributes junit-10.xsd allows, per element; junit-xml's others are dropped.
_ALLOWED = {
    "testsuites": ("name", "time", "tests", "failures", "errors"),
    "testsuite": (
        "name",
        "tests",
        "failures",
        "errors",
        "group",
        "time",
        "skipped",
        "timestamp",
        "hostname",
        "id",
        "package",
        "file",
        "log",
        "url",
    ),
    "testcase": ("name", "time", "classname", "group"),
}
_NOT_IDENT = re.compile(r"[^\w-]+")
_MESSAGE_CHARS = 2000  # a message attribute is one line; the full text goes in the element body


def classname(runtime: str, machine: str) -> str:
    """`<runtime>.<machine>`, each part reduced to letters, digits, `_`, `-`: PyTorch_1_12.A4000."""
    return f"{_ident(runtime)}.{_ident(machine)}"


def render(runs: Sequence[RunResult]) -> str:
    """The `junit.xml` text for these runs: one suite per cell, in the runs' and cells' order."""
    suites = [_suite(run, cell) for run in runs for cell in run.cells]
    raw: str = junit_xml.to_xml_report_string(suites, prettyprint=False, encoding="utf-8")
    root = ET.fromstring(raw.encode("utf-8"))  # noqa: S314 - our own output, not untrusted XML
    _conform(root)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n'


def _ident(name: str) -> str:
    return _NOT_IDENT.sub("_", name).strip("_") or "_"


def _text(value: str) -> str | None:
    """Element body: cleaned, None when empty (junit-xml then writes no body)."""
    return clean(value).strip("\n") or None


def _message(value: str) -> str:
    return shorten(one_line(value), _MESSAGE_CHARS)


def _suite(run: RunResult, cell: CellResult) -> Any:
    name = classname(run.runtime, cell.machine)
    cases = [_case(t, name) for t in cell.tests]
    failing = any(t.status in (TestStatus.FAILED, TestStatus.ERROR) for t in cell.tests)
    if not cell.tests or (cell.status in (CellStatus.FAILED, CellStatus.ERROR) and not failing):
        cases.append(_cell_case(cell, name))
    return junit_xml.TestSuite(
        _message(f"{run.runtime} on {cell.machine}"),
        test_cases=cases,
        timestamp=one_line(run.started_at) or None,
        properties=_properties(run, cell),
    )


def _case(test: TestResult, cls: str) -> Any:
    status = test.status
    name = _message(test.name) or "unnamed"
    case = junit_xml.TestCase(name, classname=cls, elapsed_sec=test.duration_s)
    msg = _message(test.message)
    output = _text(test.details)
    body = _text(_with_page(test)) or _text(test.message)  # every failure and error gets a body
    if status == TestStatus.FAILED:
        case.add_failure_info(message=msg or "failed", output=body)
    elif status == TestStatus.ERROR:
        case.add_error_info(message=msg or "error", output=body)
    elif status == TestStatus.SKIPPED:
        case.add_skipped_info(message=msg or "skipped", output=output)
    elif status == TestStatus.XFAIL:
        case.add_skipped_info(
            message=_message(f"expected failure: {msg or 'failed'}"), output=output
        )
    elif status == TestStatus.XPASS:
        note = "XPASS: passed although the matrix declares it an expected failure"
        case.stdout = f"{note}; remove it from expected_failures." + (f"\n{msg}" if msg else "")
    notes = _notes(test)
    if notes:
        case.stdout = f"{case.stdout}\n{notes}" if case.stdout else notes
    return case


def _with_page(test: TestResult) -> str:
    """A notebook's details, led by its executed copy's HTML page (at the failing cell)."""
    page = f"Executed notebook: {page_link(test.html)}" if page_link(test.html) else ""
    return "\n\n".join(part for part in (page, test.details) if part)


def _notes(test: TestResult) -> str | None:
    """`<system-out>` lines for what a passing or failing notebook also reports: a message on a
    pass (ended early), warnings, and what was cut from its executed copy."""
    passed_notebook = test.status == TestStatus.PASSED and test.name.startswith("notebooks/")
    lines = [test.message] if passed_notebook and test.message else []
    lines += [f"warning: {w}" for w in test.warnings]
    lines += [f"cut from the executed copy: {c}" for c in test.cut]
    return _text("\n".join(lines))


def _cell_case(cell: CellResult, cls: str) -> Any:
    """The `cell` test case standing for a cell's own outcome (see the module docstring)."""
    reason = _message(cell.reason)
    message = f"{cell.status.value}: {reason}" if reason else cell.status.value
    log = _text("\n".join(cell.log_tail))
    case = junit_xml.TestCase("cell", classname=cls, elapsed_sec=cell.duration_s)
    if cell.status == CellStatus.FAILED:
        case.add_failure_info(message=message, output=log)
    elif cell.status == CellStatus.ERROR:
        case.add_error_info(message=message, output=log)
    elif cell.status != CellStatus.PASSED:
        if not cell.status.finished:
            message = f"not finished: {message}"
        case.add_skipped_info(message=message, output=log)
    elif log:
        case.stdout = log
    return case


def _properties(run: RunResult, cell: CellResult) -> dict[str, str]:
    env = cell.environment
    values = {
        "runtime": run.runtime,
        "machine": cell.machine,
        "status": cell.status.value,
        "reason": cell.reason,
        "notebook_id": cell.notebook_id,
        "notebook_url": cell.url,
        "container": run.container,
        "provider": run.provider,
        "workspace_url": run.workspace_url or "",
        "workspace_ref": run.workspace_ref or "",
        "gpu": gpu_summary(env, times="x"),
        "driver": str(env.get("driver") or ""),
        "cuda": str(env.get("cuda") or ""),
        "python": str(env.get("python") or ""),
        "duration_s": f"{cell.duration_s:.3f}" if cell.duration_s else "",
        "billed_s": f"{cell.billed_s:.3f}" if cell.billed_s else "",
        "price_per_hour": _usd(cell.price_per_hour),
        "cost_usd": _usd(cell.cost_usd),
        "estimated_cost_usd": _usd(cell.estimated_cost_usd),
        "reused_from": f"{cell.reused_from.run_id} {cell.reused_from.at}"
        if cell.reused_from
        else "",
    }
    always = ("runtime", "machine", "status")
    return {k: _message(v) for k, v in values.items() if k in always or one_line(v)}


def _usd(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _time(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _conform(root: ET.Element) -> None:
    """Make junit-xml's tree valid against junit-10.xsd, with counts and times recomputed."""
    totals = {"tests": 0, "failures": 0, "errors": 0}
    total_time = 0.0
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        suite_time = 0.0
        for case in cases:
            case_time = _time(case.get("time"))
            suite_time += case_time
            case.set("time", f"{case_time:.3f}")
            _keep(case, _ALLOWED["testcase"])
        for key, value in counts.items():
            suite.set(key, str(value))
        suite.set("time", f"{suite_time:.3f}")
        _keep(suite, _ALLOWED["testsuite"])
        for key in totals:
            totals[key] += counts[key]
        total_time += suite_time
    root.set("name", "gradient-runtime-test")
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    _keep(root, _ALLOWED["testsuites"])


def _keep(element: ET.Element, allowed: Sequence[str]) -> None:
    """Drop attributes not in `allowed`, and order the rest as listed (stable output)."""
    attrs = {k: v for k, v in element.attrib.items() if k in allowed}
    element.attrib.clear()
    for key in allowed:
        if key in attrs:
            element.set(key, attrs[key])
