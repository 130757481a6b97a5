"""`grt dashboard`: the board computed from history, the pages (escaped, self-contained,
accessible), and the command (bad input refused with one line, nothing written)."""

from __future__ import annotations

import html.parser
import re
from pathlib import Path

import pytest

from gradient_runtime_test import history
from gradient_runtime_test.cli import main
from gradient_runtime_test.dashboard import write_site
from gradient_runtime_test.dashboard.model import board, machine_order
from gradient_runtime_test.dashboard.style import CSS, LOOK, csp
from gradient_runtime_test.history.records import Record, order
from gradient_runtime_test.results import CellStatus
from tests.dashboard.samples import HOSTILE, records, write

GENERATED = "2026-11-30T09:00:00Z"
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "wbr", "source"}


class Tree(html.parser.HTMLParser):
    """Checks that tags nest and close, and collects elements with their attributes and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Tree:
    tree = Tree()
    tree.feed(text)
    tree.close()
    assert not tree.problems and not tree.stack, (tree.problems, tree.stack)
    return tree


@pytest.fixture
def site(tmp_path: Path) -> Path:
    out = tmp_path / "site"
    write_site(history.load(write(tmp_path / "history")), out, generated=GENERATED)
    return out


def ordered(found: list[Record]) -> history.History:
    """A history of these records, as `history.load` orders them (oldest run first)."""
    return history.History(tuple(order(found)))


# -- the board ---------------------------------------------------------------------------------


def test_board_rows_columns_latest_and_strips() -> None:
    found = board(ordered(records()), strip=4)
    assert [row.runtime for row in found.rows] == [HOSTILE, "PyTorch 1.12", "TensorFlow 2.9.1"]
    assert found.machines == ("A4000", "A6000", "C5", "Free-GPU")
    pytorch = found.rows[1]
    assert pytorch.machines == ("A4000", "A6000", "Free-GPU")
    assert "C5" not in pytorch.tiles
    a6000 = pytorch.tiles["A6000"]
    assert a6000.latest.run_id == "9029/1"  # the last night
    assert [r.run_id for r in a6000.strip] == ["9026/1", "9027/1", "9028/1", "9029/1"]
    assert [r.status for r in a6000.strip] == [
        CellStatus.PASSED,
        CellStatus.FAILED,
        CellStatus.PASSED,
        CellStatus.PASSED,
    ]
    tensorflow = found.rows[2]
    assert tensorflow.tiles["A6000"].latest.reused_from is not None
    assert tensorflow.tiles["C5"].latest.status == CellStatus.ERROR


def test_board_costs_per_runtime_and_per_night_add_up_the_records() -> None:
    all_records = records()
    found = board(ordered(all_records))
    for row in found.rows:
        expected = sum(r.cost_usd or 0.0 for r in all_records if r.runtime == row.runtime)
        assert row.cost_usd == pytest.approx(expected)
        assert len(row.runs) == len({r.run_id for r in all_records if r.runtime == row.runtime})
    assert found.cost_usd == pytest.approx(sum(r.cost_usd or 0.0 for r in all_records))
    nights = {n.date: n for n in found.nights}
    assert list(nights) == sorted(nights, reverse=True)  # newest first
    night = nights["2026-11-29"]
    on_29 = [r for r in all_records if r.started_at.startswith("2026-11-29")]
    assert night.cost_usd == pytest.approx(sum(r.cost_usd or 0.0 for r in on_29))
    assert night.runs == 3  # one run of each runtime that night
    assert night.by_runtime["PyTorch 1.12"] == pytest.approx(
        sum(r.cost_usd or 0.0 for r in on_29 if r.runtime == "PyTorch 1.12")
    )
    # night 20: 1800 s billed on A4000 ($0.76/h), A6000 ($1.89/h) and Free-GPU (no price)
    assert nights["2026-11-20"].by_runtime == {"PyTorch 1.12": pytest.approx((0.76 + 1.89) / 2)}


def test_a_cost_is_unknown_only_when_no_machine_had_a_price() -> None:
    free = [r for r in records() if r.machine == "Free-GPU"]
    found = board(ordered(free))
    assert found.rows[0].cost_usd is None and found.nights[0].cost_usd is None


def test_machines_in_natural_order_and_colliding_slugs_get_their_own_pages() -> None:
    names = ["A6000x2", "A100", "a4000", "A6000", "A100-80G", "C5", "C10"]
    assert sorted(names, key=machine_order) == [
        "A100",
        "A100-80G",
        "a4000",
        "A6000",
        "A6000x2",
        "C5",
        "C10",
    ]
    twins = [
        Record("1", name, "C5", CellStatus.PASSED, "2026-11-29T03:00:00Z", "2026-11-29T03:00:00Z")
        for name in ("PyTorch 1.12", "pytorch-1-12", "PyTorch_1.12")
    ]
    pages = [row.page for row in board(ordered(twins)).rows]
    assert len(set(pages)) == 3
    assert set(pages) == {f"runtimes/pytorch-1-12{s}.html" for s in ("", "-2", "-3")}


# -- the pages ---------------------------------------------------------------------------------


def test_index_shows_every_runtime_and_machine_with_symbol_word_and_colour(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    tree = parse(text)
    shown = " ".join(tree.text)
    for name in ("PyTorch 1.12", "TensorFlow 2.9.1", "A4000", "A6000", "C5", "Free-GPU"):
        assert name in shown
    grid = text[text.index('<table class="grid">') : text.index("</table>")]
    rows = re.findall(r"<tr>.*?</tr>", grid, re.S)
    assert len(rows) == 4  # header + 3 runtimes
    for status in (CellStatus.PASSED, CellStatus.FAILED, CellStatus.ERROR, CellStatus.CANCELLED):
        symbol, css = LOOK[status]
        badge = re.search(
            rf'<span class="badge {css}"><span class="sym" aria-hidden="true">{re.escape(symbol)}'
            rf"</span> {status.value}",
            grid,
        )
        assert badge, f"{status}: no badge with its symbol and word"
    assert "passed (reused)" in grid
    assert "$0.49" in grid and "2026-11-29 03:41 UTC" in grid
    assert 'href="https://github.com/acme/runtimes/actions/runs/9029"' in grid
    # every strip item says in words what its symbol and colour say
    for item in re.findall(r'<ol class="strip".*?</ol>', grid, re.S):
        for label in re.findall(r'<span class="sr">([^<]*)</span>', item):
            assert re.match(r"(passed|failed|error|unavailable|cancelled|skipped)", label)
    assert re.search(r'<ol class="strip" aria-label="Last 10 results, oldest first">', grid)


def test_pages_are_accessible_tables_with_headers_and_captions(site: Path) -> None:
    for path in [site / "index.html", *sorted((site / "runtimes").glob("*.html"))]:
        tree = parse(path.read_text(encoding="utf-8"))
        tags = [tag for tag, _ in tree.elements]
        assert ("html", {"lang": "en"}) in tree.elements
        assert tags.count("table") == tags.count("caption") > 0, path.name
        assert all(a.get("scope") in ("col", "row") for t, a in tree.elements if t == "th")
        assert any(t == "meta" and a.get("name") == "viewport" for t, a in tree.elements), (
            "not readable on a phone"
        )
        regions = [a for t, a in tree.elements if a.get("role") == "region"]
        assert regions and all(a.get("tabindex") == "0" for a in regions)


def test_pages_are_self_contained_and_allow_nothing_but_their_style(site: Path) -> None:
    for path in [site / "index.html", *sorted((site / "runtimes").glob("*.html"))]:
        text = path.read_text(encoding="utf-8")
        tree = parse(text)
        for tag, attrs in tree.elements:
            assert tag not in ("script", "link", "iframe", "img", "object"), (path.name, tag)
            assert not any(k.startswith("on") for k in attrs), (path.name, tag, attrs)
            for key in ("src", "srcset", "action"):
                assert key not in attrs
        assert not re.search(r"url\(|@import", text)
        policy = [a["content"] for t, a in tree.elements if a.get("http-equiv")]
        assert policy == [csp()]
        assert f"<style>{CSS}</style>" in text  # exactly what the policy's hash allows
        links = [a["href"] for t, a in tree.elements if t == "a"]
        assert all(
            re.match(r"(https://|\.\./index\.html$|runtimes/[a-z0-9-]+\.html$)", h) for h in links
        )


def test_hostile_history_text_is_escaped_everywhere(site: Path) -> None:
    pages = [site / "index.html", *sorted((site / "runtimes").glob("*.html"))]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text and "<img" not in text and "\x1b" not in text
        assert 'href="javascript' not in text
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in index
    hostile_page = next(p for p in pages if p.name.startswith("script-alert"))
    parse(hostile_page.read_text(encoding="utf-8"))


def test_a_runtime_page_lists_its_runs_newest_first_with_failures(site: Path) -> None:
    text = (site / "runtimes" / "pytorch-1-12.html").read_text(encoding="utf-8")
    parse(text)
    runs = re.findall(r'<th scope="row"><a href="([^"]+)"><time', text)
    assert runs[0].endswith("/9029") and runs[-1].endswith("/9020") and len(runs) == 10
    assert "<code>notebooks/quick_start.ipynb</code>" not in text  # the latest A6000 passed
    assert "out of capacity" in text and 'href="../index.html"' in text
    tensorflow = (site / "runtimes" / "tensorflow-2-9-1.html").read_text(encoding="utf-8")
    assert "harness: bundle truncated" in tensorflow and "passed (reused)" in tensorflow


# -- the command -------------------------------------------------------------------------------


def test_grt_dashboard_writes_the_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hist = write(tmp_path / "history")
    out = tmp_path / "site"
    (out / "runtimes").mkdir(parents=True)
    (out / "runtimes" / "gone.html").write_text("a runtime no longer in history")
    (out / "notes.txt").write_text("not the dashboard's")
    assert main(["dashboard", "--history", str(hist), "--out", str(out), "--last", "3"]) == 0
    assert "3 runtimes, 43 records" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "runtimes").iterdir()) == [
        "pytorch-1-12.html",
        "script-alert-x-script-img-src-x-onerror-alert-1-quotes-31mred.html",
        "tensorflow-2-9-1.html",
    ]
    assert (out / "notes.txt").exists()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'aria-label="Last 3 results, oldest first"' in index
    assert (out / "index.html").stat().st_mode & 0o777 == 0o644


def test_an_empty_history_makes_a_page_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "x.jsonl").write_text("not json\n")
    assert (
        main(["dashboard", "--history", str(tmp_path / "history"), "--out", str(tmp_path / "s")])
        == 0
    )
    text = (tmp_path / "s" / "index.html").read_text(encoding="utf-8")
    assert "No runs recorded yet" in text and "1 history line could not be read" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--history", "{tmp}/missing"], "--history: '{tmp}/missing' is not a folder (valid:"),
        (
            ["--history", "{tmp}/history", "--last", "0"],
            "--last: 0 is out of range (valid: 1 to 100)",
        ),
        (
            ["--history", "{tmp}/history", "--out", "{tmp}/file"],
            "--out: '{tmp}/file' is not a folder",
        ),
        (
            ["--history", "{tmp}/history", "--out", "{tmp}/history"],
            "--out: the history folder itself",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    write(tmp_path / "history")
    (tmp_path / "file").write_text("")
    argv = ["dashboard", "--out", str(tmp_path / "site"), *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ERROR: " + message.format(tmp=tmp_path)) and err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "site").exists()
