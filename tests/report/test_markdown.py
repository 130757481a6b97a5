"""Markdown and terminal rendering: escaping, limits, details, alignment."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest
from markdown_it import MarkdownIt

from gradient_runtime_test.report import junit, markdown
from gradient_runtime_test.results import CellResult, CellStatus, TestResult, TestStatus
from tests.report import builders
from tests.report.regen import SAMPLES, load

COLUMNS = 8
HOSTILE = [
    "a|b",
    "a\\|b",
    "a\\\\|b",
    "`code`|``x``",
    "<script>alert(1)</script>",
    "line\nbreak\r\nand\rmore",
    "[x](javascript:alert(1))",
    "*em* _em_ ~~s~~ **b**",
    "&amp; &lt; &#124;",
    "\\",
    "|",
    "```",
    "<!--",
    "]]>",
    "\x1b[31mred\x1b[0m\x00",
    "",
    "   ",
    "日本語",
]

md = MarkdownIt("commonmark", {"html": True}).enable("table")


def table_shape(table: str) -> list[int]:
    """Cells per row as a GFM renderer sees them: header first, then body rows."""
    html = md.render(table)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    return [len(re.findall(r"<t[hd][ >]", row)) for row in rows]


def hostile_cell(i: int, name: str) -> CellResult:
    status = list(CellStatus)[i % len(CellStatus)]
    return CellResult(
        machine=name,
        status=status,
        reason=name,
        notebook_id=name,
        url=f"https://console.paperspace.com/x/{name}" if i % 2 else "",
        duration_s=i * 17.0,
        environment={"gpus": [name, name]},
        tests=(
            TestResult(f"checks/{name}", TestStatus.PASSED),
            TestResult(f"notebooks/{name}", TestStatus.FAILED, 1.0, name, name),
        ),
    )


# -- status table ------------------------------------------------------------------------------


def test_hostile_names_keep_the_table_shape() -> None:
    run = builders.run(*(hostile_cell(i, n) for i, n in enumerate(HOSTILE)), runtime="|`<x>`|")
    table = markdown.status_table(run)
    assert table_shape(table) == [COLUMNS] * (len(HOSTILE) + 1)
    html = md.render(table)
    assert "<script" not in html
    assert 'href="javascript:' not in html
    assert "\x1b" not in table
    assert "\x00" not in table


def test_random_names_keep_the_table_shape() -> None:
    rng = random.Random(1234)  # fixed seed: deterministic
    alphabet = "|\\`*_[]()<>!&#~\n\r\t -:/" + "aZ9日"
    names = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(300)]
    run = builders.run(*(hostile_cell(i, n) for i, n in enumerate(names)))
    assert table_shape(markdown.status_table(run)) == [COLUMNS] * (len(names) + 1)


def test_table_rows_follow_the_run_order_and_show_reasons() -> None:
    run = load("pytorch")
    lines = markdown.status_table(run).splitlines()
    assert len(lines) == 2 + len(run.cells)
    for line, cell in zip(lines[2:], run.cells, strict=True):
        assert line.startswith(f"| {cell.machine} | {markdown.STATUS_EMOJI[cell.status]} ")
    assert "🚫 unavailable: out of capacity" in lines[7]


def test_status_labels_cover_every_status() -> None:
    assert {markdown.status_label(s).split(" ")[1] for s in CellStatus} == {
        s.value for s in CellStatus
    }


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "—"),
        (0.2, "<1s"),
        (0.6, "1s"),
        (42, "42s"),
        (59.6, "1m 00s"),
        (185, "3m 05s"),
        (3599.4, "59m 59s"),
        (3600, "1h 00m"),
        (3725, "1h 02m"),
        (90061, "25h 01m"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert markdown.human_duration(seconds) == text


def test_counts_line() -> None:
    assert markdown.counts_line(load("pytorch")) == (
        "9 machines: 4 passed, 1 failed, 1 error, 1 unavailable, 1 cancelled, 1 skipped"
    )
    one = builders.run(CellResult("A4000", CellStatus.PASSED))
    assert markdown.counts_line(one) == "1 machine: 1 passed"
    assert markdown.counts_line(builders.run()) == "0 machines"


# -- failure details ---------------------------------------------------------------------------


def test_details_fence_is_longer_than_any_backtick_run() -> None:
    details = "x\n" + "`" * 7 + "\n```\ny"
    cell = CellResult(
        "A4000", CellStatus.FAILED, tests=(TestResult("nb", TestStatus.FAILED, 1, "m", details),)
    )
    text = markdown.failure_details(builders.run(cell))
    assert "\n" + "`" * 8 + "text\n" in text
    html = md.render(text)
    assert html.count("<pre>") == 1
    assert "```````" in html  # the inner run is shown, not taken as a fence


def test_details_trim_tracebacks_and_strip_ansi() -> None:
    run = builders.run(builders.failing_cell("A4000", trace_lines=500))
    text = markdown.failure_details(run)
    assert "\x1b" not in text
    block = text.split("```text\n", 1)[1].split("\n```", 1)[0]
    lines = block.splitlines()
    assert lines[0].startswith("… (")
    assert len(lines) <= 31
    assert len(block) <= 3200
    assert lines[-1] == "ZeroDivisionError: division by zero"


def test_error_cell_without_tests_shows_reason_and_log_tail() -> None:
    text = markdown.failure_details(load("pytorch"))
    section = text.split("<b>P4000</b>", 1)[1].split("</details>", 1)[0]
    assert "error: harness bundle incomplete: chunks 3..5 of 7 missing</summary>" in section
    assert "GRT-BUNDLE 1a2b3c 2/7 H4sIAAAAAAA" in section  # \x00 dropped
    assert "ERROR harness: writing bundle" in section  # ANSI dropped


def test_unavailable_and_passed_cells_have_no_details() -> None:
    run = builders.run(
        CellResult("A", CellStatus.UNAVAILABLE, reason="out of capacity"),
        CellResult("B", CellStatus.PASSED, tests=(TestResult("x", TestStatus.XFAIL, 0, "m"),)),
    )
    assert markdown.failure_details(run) == ""


@pytest.mark.parametrize("max_chars", [0, 10, 100, 500, 1000, 2500, 5000, 20000, 10**6])
def test_details_limit(max_chars: int) -> None:
    run = builders.run(*(builders.failing_cell(f"M{i}", tests=2) for i in range(20)))
    full = markdown.failure_details(run)
    text = markdown.failure_details(run, max_chars=max_chars)
    assert len(text) <= max_chars
    if len(full) <= max_chars:
        assert text == full
        return
    shown = text.count("<details>")
    note = re.search(r"… and (\d+) more failures? \(see the job summary / results.json\)$", text)
    if max_chars >= 70:
        assert note, text[-200:]
        assert shown + int(note.group(1)) == 40


# -- summary -----------------------------------------------------------------------------------


@pytest.mark.parametrize("max_chars", [65_536, 20_000, 5_000, 1_500, 300, 20])
def test_summary_with_200_failing_machines_stays_under_the_limit(max_chars: int) -> None:
    cells = [builders.failing_cell(f"Machine-{i:03d}", trace_lines=200) for i in range(200)]
    runs = [builders.run(*cells), builders.run(*cells[:50], runtime="TensorFlow 2.9")]
    text = markdown.summary(
        runs, run_url="https://github.com/a/b/actions/runs/1", max_chars=max_chars
    )
    assert len(text) <= max_chars
    if max_chars >= 5_000:
        assert "### PyTorch 1.12" in text
        assert "### TensorFlow 2.9" in text
        for table in re.findall(r"(?:^\|.*\n)+", text, re.M):
            assert set(table_shape(table)) == {COLUMNS}
    if max_chars == 65_536:
        assert "<details>" in text  # details shrink before they go


def test_summary_keeps_everything_when_it_fits() -> None:
    runs = [load(name) for name in SAMPLES]
    text = markdown.summary(runs)
    for run in runs:
        assert markdown.status_table(run) in text
        assert markdown.failure_details(run) in text


def test_summary_drops_details_before_table_rows() -> None:
    run = load("pytorch")
    full = markdown.summary([run])
    details = markdown.failure_details(run)
    text = markdown.summary([run], max_chars=len(full) - len(details) + 60)
    assert markdown.status_table(run) in text
    assert "Failure details left out to fit" in text


@pytest.mark.parametrize("name", SAMPLES)
def test_rendered_summary_has_no_injected_html(name: str) -> None:
    html = md.render(markdown.summary([load(name)]))
    assert "<script" not in html
    assert "<img" not in html
    assert 'href="javascript:' not in html
    assert "<b>Fake</b>" not in html


def test_huge_texts_render_bounded() -> None:
    # How fast they render is measured in bench/render.py, not here.
    huge = ("word " * 40_000 + "\n") * 10  # 2 MB, 10 lines
    cell = CellResult(
        "A" * 5_000,
        CellStatus.ERROR,
        reason=huge,
        tests=(TestResult("t" * 5_000, TestStatus.FAILED, 1, huge, huge),),
        log_tail=(huge,) * 3,
    )
    run = builders.run(cell, runtime="R" * 5_000)
    assert len(markdown.status_table(run)) < 2_000
    assert len(markdown.failure_details(run)) < 8_000
    assert len(markdown.summary([run], max_chars=50_000)) <= 50_000
    assert all(len(line) <= 400 for line in markdown.terminal_table(run).splitlines())
    assert len(junit.render([run])) < 10 * len(huge)


# -- terminal ----------------------------------------------------------------------------------


def display_width(text: str) -> int:
    return sum(
        0
        if unicodedata.combining(ch)
        else 2
        if unicodedata.east_asian_width(ch) in ("W", "F")
        else 1
        for ch in text
    )


@pytest.mark.parametrize("name", [*SAMPLES, "hostile-names"])
def test_terminal_table_is_aligned_and_plain(name: str) -> None:
    if name == "hostile-names":
        run = builders.run(*(hostile_cell(i, n) for i, n in enumerate(HOSTILE)))
    else:
        run = load(name)
    text = markdown.terminal_table(run)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    lines = text.splitlines()
    table = lines[2 : 3 + len(run.cells)]
    header = table[0]
    starts = [m.start() for m in re.finditer(r"(?<=  )[A-Z]", header)]
    for row in table[1:]:
        assert display_width(row) > starts[-1]
        for start in starts:  # each column starts at the same display column as its header
            cut = next(i for i in range(len(row) + 1) if display_width(row[:i]) >= start)
            assert display_width(row[:cut]) == start
            assert row[cut - 2 : cut] == "  "


def test_terminal_table_lists_failures() -> None:
    text = markdown.terminal_table(load("pytorch"))
    assert (
        "  FAILED       A6000x2 notebooks/quick_start_pytorch.ipynb: "
        "cell 3: ZeroDivisionError: division by zero"
    ) in text
    assert "  UNAVAILABLE  Free-A100-80G: out of capacity for Free-A100-80G in region NY2" in text
