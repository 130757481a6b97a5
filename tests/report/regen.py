"""Golden files for the report renderers, and the one command that rewrites them.

    uv run python -m tests.report.regen      (or: uv run python tests/report/regen.py)

Each case renders sample results from `data/*.json` (results.json files) into one file under
`golden/`; `test_golden.py` compares the renderers' output with these files. After a deliberate
change to the rendering, run the command and review the diff of `golden/`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from gradient_runtime_test.github import comment_body, state
from gradient_runtime_test.report import junit, markdown
from gradient_runtime_test.results import RunResult

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GOLDEN = HERE / "golden"
SAMPLES = ("pytorch", "hostile", "live")
RUN_URL = "https://github.com/acme/runtimes/actions/runs/123456789"


def load(name: str) -> RunResult:
    return RunResult.from_json(json.loads((DATA / f"{name}.json").read_text(encoding="utf-8")))


def _one(name: str, render: Callable[[RunResult], str]) -> Callable[[], str]:
    return lambda: render(load(name))


def _all(render: Callable[[list[RunResult]], str]) -> Callable[[], str]:
    return lambda: render([load(name) for name in SAMPLES])


def _cases() -> dict[str, Callable[[], str]]:
    cases: dict[str, Callable[[], str]] = {}
    for name in SAMPLES:
        cases[f"{name}.junit.xml"] = _one(name, lambda r: junit.render([r]))
        cases[f"{name}.table.md"] = _one(name, lambda r: markdown.status_table(r) + "\n")
        cases[f"{name}.details.md"] = _one(name, lambda r: markdown.failure_details(r) + "\n")
        cases[f"{name}.summary.md"] = _one(name, lambda r: markdown.summary([r], run_url=RUN_URL))
        cases[f"{name}.terminal.txt"] = _one(name, markdown.terminal_table)
    cases["all.junit.xml"] = _all(junit.render)
    cases["all.summary.md"] = _all(markdown.summary)
    cases["all.summary-6000.md"] = _all(
        lambda runs: markdown.summary(runs, run_url=RUN_URL, max_chars=6000)
    )
    cases["all.summary-2500.md"] = _all(
        lambda runs: markdown.summary(runs, run_url=RUN_URL, max_chars=2500)
    )
    cases["pytorch.details-limited.md"] = _one(
        "pytorch", lambda r: markdown.failure_details(r, max_chars=3000) + "\n"
    )
    cases["counts.txt"] = _all(lambda runs: "".join(markdown.counts_line(r) + "\n" for r in runs))
    for name in SAMPLES:
        cases[f"{name}.comment.md"] = _one(name, lambda r: comment_body.render(r, HEADER) + "\n")
    cases["pytorch.comment-changes.md"] = _one(
        "pytorch", lambda r: comment_body.render(r, MOVED, baseline=_all_passed(r)) + "\n"
    )
    cases["pytorch.summary-links.md"] = _one(
        "pytorch", lambda r: markdown.summary([r], run_url=RUN_URL, links=LINKS)
    )
    cases["pytorch.comment-links.md"] = _one(
        "pytorch", lambda r: comment_body.render(r, WITH_LINKS) + "\n"
    )
    cases["hostile.comment-2000.md"] = _one(
        "hostile", lambda r: comment_body.render(r, HEADER, limit=2000) + "\n"
    )
    return cases


SHA = "0123456789abcdef0123456789abcdef01234567"
HEADER = comment_body.Header(
    run_url=RUN_URL,
    run_key="123456789/1",
    commit_url=f"https://github.com/acme/runtimes/commit/{SHA}",
    sha=SHA,
)
MOVED = comment_body.Header(
    run_url=RUN_URL,
    run_key="123456789/2",
    commit_url=f"https://github.com/acme/runtimes/commit/{SHA}",
    sha=SHA,
    head_moved_to="fedcba9876543210fedcba9876543210fedcba98",
)


LINKS = markdown.Links(RUN_URL, "grt-results-PyTorch-1.12", "https://acme.github.io/runtimes/")
WITH_LINKS = dataclasses.replace(HEADER, links=LINKS)


def _all_passed(run: RunResult) -> state.Cells:
    """A previous run in which every machine passed (so this run's failures are new)."""
    return {machine: ("passed", ()) for machine in state.cells_of(run)}


CASES = _cases()


def main() -> int:
    GOLDEN.mkdir(exist_ok=True)
    stale = {p.name for p in GOLDEN.iterdir()} - set(CASES)
    for name in sorted(stale):
        (GOLDEN / name).unlink()
        print(f"removed {name}")
    for name, render in CASES.items():
        path = GOLDEN / name
        text = render()
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"{'updated' if old is not None else 'created'} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
