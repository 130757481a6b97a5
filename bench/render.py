"""P7: rendering a result full of huge texts (2 MB reasons, messages and logs) stays cheap.

    uv run python -m bench.render

The reports (status table, failure details, summary, terminal table, JUnit) cut every text to a
few hundred characters, but first clean it (ANSI, control characters, whitespace): a few linear
regex passes over each text. Baseline, run side by side: `json.dumps` of the same result (one
pass, in C). Target: every renderer within 30x the baseline, i.e. linear in the text with a small
constant; a renderer that measured display width over the whole text (as the terminal table did
before) took 40x. This replaced a timed unit test (tests/report/test_markdown.py keeps the size
bounds).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from bench.common import Series, header, table

COMMAND = "uv run python -m bench.render"
TARGET_RATIO = 30.0


def huge_run() -> object:
    from gradient_runtime_test.results import (
        CellResult,
        CellStatus,
        RunResult,
        TestResult,
        TestStatus,
    )

    huge = ("word " * 40_000 + "\n") * 10  # 2 MB, 10 lines
    cell = CellResult(
        "A" * 5_000,
        CellStatus.ERROR,
        reason=huge,
        tests=(TestResult("t" * 5_000, TestStatus.FAILED, 1, huge, huge),),
        log_tail=(huge,) * 3,
    )
    return RunResult(
        runtime="R" * 5_000,
        workspace_url=None,
        workspace_ref=None,
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:10:00Z",
        cells=(cell,),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    header("P7 — rendering huge texts", COMMAND)
    from gradient_runtime_test.report import junit, markdown

    run = huge_run()
    methods: dict[str, Callable[[], object]] = {
        "baseline: json.dumps of the result": lambda: json.dumps(run.to_json()),  # type: ignore[attr-defined]
        "status table": lambda: markdown.status_table(run),  # type: ignore[arg-type]
        "failure details": lambda: markdown.failure_details(run),  # type: ignore[arg-type]
        "summary (50,000 chars)": lambda: markdown.summary([run], max_chars=50_000),  # type: ignore[list-item]
        "terminal table": lambda: markdown.terminal_table(run),  # type: ignore[arg-type]
        "junit.xml": lambda: junit.render([run]),  # type: ignore[list-item]
    }
    series = {name: Series(name) for name in methods}
    for _ in range(args.rounds):
        for name, call in methods.items():
            start = time.perf_counter()
            call()
            series[name].values.append(time.perf_counter() - start)
    base = series["baseline: json.dumps of the result"].median
    rows = []
    for name, s in series.items():
        ratio = s.median / base
        verdict = (
            "" if name.startswith("baseline") else ("met" if ratio <= TARGET_RATIO else "MISSED")
        )
        rows.append([name, f"{s.median * 1000:.1f}", s.spread("{:.3f}"), f"{ratio:.2f}", verdict])
    print(table(["what", "median ms", "min–max s", "÷ baseline", f"≤ {TARGET_RATIO}"], rows))


if __name__ == "__main__":
    main()
