"""`grt plan`: show the cells (runtime x machine) a run would create, and what they may cost."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from .. import plan as planning
from ..durations import parse_duration
from ..errors import UsageError
from ..matrix.load import load_catalogue
from ..matrix.model import REF, Runtime
from ..settings import matrices_dir, money
from . import ledger
from .arguments import add_matrices

HELP = "show the cells (runtime x machine) a run would create"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_matrices(parser)
    parser.add_argument("--runtime", action="append", default=[], metavar="NAME", help="repeatable")
    parser.add_argument("--machine", action="append", default=[], metavar="NAME", help="repeatable")
    parser.add_argument(
        "--repository", metavar="OWNER/NAME", help="runtimes whose workspace is this repo"
    )
    parser.add_argument(
        "--changed-file",
        action="append",
        default=[],
        metavar="PATH",
        help="runtimes whose matrix file changed (repeatable, paths from the repository root)",
    )
    parser.add_argument(
        "--base-ref",
        metavar="REF",
        help="git ref to compare machines.yaml with, so only runtimes using a changed machine are planned",
    )
    parser.add_argument("--format", choices=("table", "json", "github-matrix"), default="table")
    parser.add_argument(
        "--check-sources",
        action="store_true",
        help="check that each workspace ref, listed notebook and container image exists (exit 1 if not)",
    )
    parser.add_argument(
        "--workspace-ref", metavar="REF", help="plan with this ref instead of each matrix's own"
    )
    ledger.add_cost_arguments(parser)


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    hours = parse_duration(args.expected_duration, flag="--expected-duration") / 3600
    max_cost = money(args.max_cost, "--max-cost")
    root = matrices_dir(args.matrices, env)
    catalogue = load_catalogue(root)
    changed_machines = None
    if args.base_ref and args.changed_file:
        from ..matrix.git import machines_at_ref

        old = machines_at_ref(root, args.base_ref)
        if old is not None:
            changed_machines = planning.changed_machine_names(old, catalogue.machines)
    runtimes = planning.select_runtimes(
        catalogue,
        names=args.runtime,
        repository=args.repository,
        changed_files=args.changed_file,
        changed_machines=changed_machines,
        matrices_prefix=_repo_relative(root),
    )
    if args.workspace_ref:
        runtimes = _with_ref(runtimes, args.workspace_ref)
    the_plan = planning.plan(catalogue, runtimes, args.machine)
    reports = None
    if args.check_sources:
        from ..sources.check import SourceSettings, check_runtimes

        reports = check_runtimes(
            the_plan.runtimes, SourceSettings.from_env(env), matrices_root=root
        )
    over = None
    if max_cost is not None:
        over = ledger.budget_problem(
            the_plan.cells, provider="gradient", expected_s=hours * 3600, max_cost_usd=max_cost
        )
    if args.format == "json":
        data = planning.render_json(the_plan, hours)
        if max_cost is not None:
            data.update(max_cost_usd=max_cost, within_budget=over is None, budget_problem=over)
        if reports is not None:
            data["sources"] = [r.to_json() for r in reports]
        print(json.dumps(data, indent=2), file=out)
    elif args.format == "github-matrix":
        print(json.dumps(planning.render_github_matrix(the_plan)), file=out)
    else:
        print(planning.render_table(the_plan, hours), file=out)
        if max_cost is not None:
            print(_budget_line(max_cost, over), file=out)
    from ..github.actions import Actions

    actions = Actions(sys.stderr, env)
    if over is not None:
        actions.error(f"--max-cost: {over}")
    if reports is None:
        return 1 if over else 0
    from ..sources.report import print_reports

    table = args.format == "table"
    found = print_reports(reports, table=table, out=out, actions=actions)
    return 1 if over else found


def _budget_line(max_cost: float, over: str | None) -> str:
    if over is None:
        return f"Within the budget of ${max_cost:.2f}."
    return f"Over the budget of ${max_cost:.2f}: {over.split(' (valid: ')[0]}."


def _with_ref(runtimes: Sequence[Runtime], ref: str) -> tuple[Runtime, ...]:
    """--workspace-ref: every planned runtime with a workspace, at `ref`."""
    if not REF.match(ref):
        raise UsageError(f"--workspace-ref: {ref!r} is not valid (valid: a branch, tag or commit)")
    return tuple(dataclasses.replace(r, workspace_ref=ref) if r.workspace else r for r in runtimes)


def _repo_relative(root: Path) -> str:
    """The matrices folder as changed-file paths name it (relative to the current folder)."""
    try:
        return root.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return root.as_posix()
