"""`grt plan`: show the cells (runtime x machine) a run would create, and what they may cost."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .. import plan as planning
from ..durations import parse_duration
from ..matrix.load import load_catalogue
from ..settings import matrices_dir
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
        "--expected-duration",
        default="30m",
        metavar="DURATION",
        help="per cell, for the cost estimate (default 30m)",
    )


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    hours = parse_duration(args.expected_duration, flag="--expected-duration") / 3600
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
    the_plan = planning.plan(catalogue, runtimes, args.machine)
    if args.format == "json":
        print(json.dumps(planning.render_json(the_plan, hours), indent=2), file=out)
    elif args.format == "github-matrix":
        print(json.dumps(planning.render_github_matrix(the_plan)), file=out)
    else:
        print(planning.render_table(the_plan, hours), file=out)
    return 0


def _repo_relative(root: Path) -> str:
    """The matrices folder as changed-file paths name it (relative to the current folder)."""
    try:
        return root.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return root.as_posix()
