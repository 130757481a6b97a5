"""The comment text and its hidden state: pure functions."""

from __future__ import annotations

from gradient_runtime_test.github import comment_body, state
from gradient_runtime_test.results import CellResult, CellStatus, TestResult, TestStatus
from tests.github.helpers import HEAD, cell, run_of

HEADER = comment_body.Header(
    run_url="https://github.com/octo/runtimes/actions/runs/1",
    run_key="1/1",
    sha=HEAD,
    commit_url=f"https://github.com/octo/runtimes/commit/{HEAD}",
)


def test_marker_quotes_the_runtime() -> None:
    assert comment_body.marker("PyTorch 1.12 / CUDA -->") == (
        "<!-- gradient-runtime-test:runtime=PyTorch%201.12%20%2F%20CUDA%20--%3E -->"
    )


def test_state_round_trip_and_baseline() -> None:
    saved = state.State(
        run="2/1", cells={"A4000": ("failed", ("nb/a",))}, prev={"A4000": ("passed", ())}
    )
    body = f"text\n{state.encode(saved)}\n"
    assert state.decode(body) == saved
    assert state.decode(body + "more") is None  # the state is the last line, or there is none
    assert saved.baseline_for("2/1") == {"A4000": ("passed", ())}  # our own edit: keep its baseline
    assert saved.baseline_for("3/1") == {"A4000": ("failed", ("nb/a",))}  # a later run
    assert state.decode("no state") is None
    assert state.decode("<!-- grt-state:bm90IGpzb24= -->") is None  # not zlib
    assert state.decode("<!-- grt-state:eJzLyy9IBQAETgGz -->") is None  # zlib, but not JSON


def test_state_is_capped() -> None:
    cells = {
        f"m{i}": ("failed", tuple(f"notebooks/{j}" * 5 for j in range(30))) for i in range(200)
    }
    line = state.encode(state.State(run="1/1", cells=cells, prev=cells))
    assert 0 < len(line) <= state.STATE_LIMIT_CHARS
    decoded = state.decode(line)
    assert decoded is not None and set(decoded.cells) == set(cells)


def test_state_keeps_only_finished_cells() -> None:
    run = run_of(cell("A4000", CellStatus.RUNNING), cell("P5000", CellStatus.FAILED, "nb/x"))
    assert state.cells_of(run) == {"P5000": ("failed", ("nb/x",))}


def test_changes() -> None:
    before = {
        "a": ("passed", ()),
        "b": ("failed", ("t1", "t2")),
        "c": ("failed", ("t1",)),
        "d": ("error", ()),
        "e": ("passed", ()),
    }
    now = {
        "a": ("failed", ("t1",)),
        "b": ("failed", ("t2", "t3")),
        "c": ("passed", ()),
        "d": ("unavailable", ()),
        "new": ("failed", ("t1",)),
    }
    found = state.changes(before, now)
    assert found.new_failures == ("`a`: passed → failed (`t1`)", "`b`: newly failing (`t3`)")
    assert found.fixed == ("`b`: now passing (`t1`)", "`c`: failed → passed")


def test_body_parts() -> None:
    run = run_of(cell("A4000"), cell("P5000", CellStatus.FAILED, "notebooks/a.ipynb"))
    body = comment_body.render(run, HEADER, baseline={"P5000": ("passed", ())})
    assert body.startswith(comment_body.marker("PyTorch 1.12") + "\n")
    assert "### Gradient runtime test: PyTorch 1.12 — ❌ failed" in body
    assert f"commit [`1111111`]({HEADER.commit_url})" in body
    assert f"[workflow run]({HEADER.run_url})" in body
    assert "| P5000 | ❌ failed" in body
    assert "<details><summary>" in body
    assert "`P5000`: passed → failed (`notebooks/a.ipynb`)" in body
    assert "[!WARNING]" not in body
    saved = state.decode(body)
    assert saved is not None and saved.prev == {"P5000": ("passed", ())}


def test_live_title() -> None:
    run = run_of(cell("A4000"), cell("P5000", CellStatus.QUEUED), cell("V100", CellStatus.RUNNING))
    body = comment_body.render(run, HEADER)
    assert "⏳ running (1 of 3 machines finished)" in body


def _flood(machines: int, tests: int, detail_chars: int) -> list[CellResult]:
    return [
        CellResult(
            machine=f"machine-{i:03d}-with-a-long-name",
            status=CellStatus.FAILED,
            reason="x" * 70,
            tests=tuple(
                TestResult(
                    f"notebooks/n{j}.ipynb",
                    TestStatus.FAILED,
                    message="m" * 200,
                    details="d" * detail_chars,
                )
                for j in range(tests)
            ),
        )
        for i in range(machines)
    ]


def test_flood_drops_details_before_rows() -> None:
    run = run_of(*_flood(200, 5, 3000))
    body = comment_body.render(run, HEADER)
    assert len(body) <= comment_body.COMMENT_LIMIT
    assert body.count("| machine-") == 200  # every row kept
    assert body.rstrip().endswith("-->")  # the state survives


def test_table_is_cut_with_a_link_when_rows_alone_are_too_long() -> None:
    run = run_of(*_flood(200, 1, 10))
    body = comment_body.render(run, HEADER, limit=8_000)
    assert len(body) <= 8_000
    assert "Failure details are left out" in body
    assert "more machines are not shown here: see the [full summary](" + HEADER.run_url in body
    assert 10 < body.count("| machine-") < 200


def test_head_moved_warning() -> None:
    header = comment_body.Header(run_url="u", run_key="1/1", sha=HEAD, head_moved_to="9" * 40)
    body = comment_body.render(run_of(cell("A4000")), header)
    assert "> [!WARNING]\n> The pull request head moved to `9999999`" in body
