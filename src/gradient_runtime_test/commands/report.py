"""`grt report`: merge results of fan-out jobs into one output folder, then publish them.

Results files are artifacts of other jobs: read with caps (`report.outputs.load_results`), and each
cell's status checked against its tests (`results.verified`) before anything is published."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ..errors import UsageError
from ..providers import naming
from ..report.outputs import Output, copy_cell_files, load_results
from ..results import RunResult, exit_code, merge, verified
from . import ledger
from .arguments import add_fail_on, add_publishing

HELP = "merge results (fan-out jobs) and publish them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", nargs="+", required=True, type=Path, metavar="PATH")
    parser.add_argument("--out", type=Path, default=Path("grt-results"), metavar="DIR")
    ledger.add_history_argument(parser)
    add_publishing(parser)
    add_fail_on(parser)


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    runs: list[RunResult] = []
    sources: list[tuple[Path, list[str]]] = []  # each results file's folder and its machines
    for path in args.results:
        files = sorted(path.rglob("results.json")) if path.is_dir() else [path]
        if not files:
            raise UsageError(
                f"--results: {path} holds no results.json (valid: a results.json or a folder of them)"
            )
        for file in files:
            try:
                found = [verified(r) for r in load_results(file)]
            except OSError as exc:
                raise UsageError(f"--results: {file}: cannot be read ({exc.strerror})") from None
            except ValueError as exc:  # also UnicodeDecodeError and JSONDecodeError
                raise UsageError(f"--results: {file}: not a results file ({exc})") from None
            runs.extend(found)
            sources.append((file.parent, [c.machine for r in found for c in r.cells]))
    history: Path | None = args.history
    if history is not None and history.exists() and not history.is_dir():
        raise UsageError(f"--history: {str(history)!r} is not a folder (valid: a folder)")
    merged = merge(runs)
    origin = ledger.origin(env, (merged[0].run_id if merged else "") or naming.new_run_id())
    if origin.run_url:  # in GitHub Actions: the fan-out's cells are this workflow run's
        merged = [
            dataclasses.replace(r, run_id=origin.run_id, run_url=origin.run_url) for r in merged
        ]
    else:  # results of an older grt carry no run id: the report is their run
        merged = [dataclasses.replace(r, run_id=r.run_id or origin.run_id) for r in merged]
    for folder, machines in sources:  # the pages results.json points at come along
        try:
            copy_cell_files(folder, args.out, machines)
        except OSError as exc:
            print(f"WARNING: {folder}: notebooks and logs not copied ({exc})", file=sys.stderr)
    output = Output(args.out)
    paths = output.results(merged)
    from ..report.markdown import terminal_table

    for run in merged:
        print(terminal_table(run), file=out)
    baselines = {}
    if history is not None:
        baselines = ledger.baselines(history, merged, run_id=origin.run_id)
        problem = ledger.record(history, merged, event=origin.event)
        if problem:
            print(f"WARNING: {problem}", file=sys.stderr)
    if args.comment or args.check_run or env.get("GITHUB_ACTIONS") == "true":
        from ..github.publishing import publish_runs

        publish_runs(
            merged,
            paths,
            env,
            comment=args.comment,
            check_run=args.check_run,
            baselines=baselines,
        )
    output.check()  # a file that could not be written: one line, exit 2, after all the rest
    return exit_code(merged, args.fail_on)
