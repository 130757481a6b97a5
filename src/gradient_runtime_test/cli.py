"""Command-line interface: `grt` / `gradient-runtime-test`.

Only `main` catches errors. `validate` and `plan` import nothing heavy (no gradient SDK, PyGithub,
nbclient or jupyter_client): those imports live inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .commands import init
from .errors import GrtError, MatrixError, UsageError

if TYPE_CHECKING:
    from .matrix import Runtime

PROVIDERS = ("local", "gradient")
KEEP = ("never", "failed", "always")
FAIL_ON = ("error", "failed", "never")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grt",
        description="Test Gradient notebook runtimes on every machine type they are offered on.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def matrices(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--matrices",
            metavar="DIR",
            type=Path,
            help="folder with machines.yaml and runtimes/ (default: ./matrices, or $GRT_MATRICES)",
        )

    p = sub.add_parser("validate", help="check every matrix file; report all problems at once")
    matrices(p)

    p = sub.add_parser("plan", help="show the cells (runtime x machine) a run would create")
    matrices(p)
    p.add_argument("--runtime", action="append", default=[], metavar="NAME", help="repeatable")
    p.add_argument("--machine", action="append", default=[], metavar="NAME", help="repeatable")
    p.add_argument(
        "--repository", metavar="OWNER/NAME", help="runtimes whose workspace is this repo"
    )
    p.add_argument(
        "--changed-file",
        action="append",
        default=[],
        metavar="PATH",
        help="runtimes whose matrix file changed (repeatable, paths from the repository root)",
    )
    p.add_argument(
        "--base-ref",
        metavar="REF",
        help="git ref to compare machines.yaml with, so only runtimes using a changed machine are planned",
    )
    p.add_argument("--format", choices=("table", "json", "github-matrix"), default="table")
    p.add_argument(
        "--check-sources",
        action="store_true",
        help="check that each workspace ref, listed notebook and container image exists (exit 1 if not)",
    )
    p.add_argument(
        "--workspace-ref", metavar="REF", help="plan with this ref instead of each matrix's own"
    )
    p.add_argument(
        "--expected-duration",
        default="30m",
        metavar="DURATION",
        help="per cell, for the cost estimate (default 30m)",
    )

    p = sub.add_parser("run", help="run a runtime's cells and write the results folder")
    matrices(p)
    p.add_argument("--runtime", required=True, metavar="NAME")
    p.add_argument("--machine", action="append", default=[], metavar="NAME", help="repeatable")
    p.add_argument("--provider", choices=PROVIDERS, default="local")
    p.add_argument("--workspace", metavar="URL_OR_PATH", help="override the runtime's workspace")
    p.add_argument("--workspace-ref", metavar="REF", help="branch, tag or commit to test")
    p.add_argument(
        "--project-id", metavar="ID", help="Gradient project (or $PAPERSPACE_PROJECT_ID)"
    )
    p.add_argument("--cluster-id", metavar="ID")
    p.add_argument("--max-parallel", type=int, metavar="N", help="notebooks running at once")
    p.add_argument("--keep", choices=KEEP, default="never", help="keep notebooks after the run")
    p.add_argument("--out", type=Path, default=Path("grt-results"), metavar="DIR")
    p.add_argument(
        "--dry-run", action="store_true", help="print the create requests; create nothing"
    )
    p.add_argument("--comment", action="store_true", help="keep the PR status comment up to date")
    p.add_argument("--check-run", action="store_true", help="publish a check run")
    fail_on(p)

    p = sub.add_parser("report", help="merge results (fan-out jobs) and publish them")
    p.add_argument("--results", nargs="+", required=True, type=Path, metavar="PATH")
    p.add_argument("--out", type=Path, default=Path("grt-results"), metavar="DIR")
    p.add_argument("--comment", action="store_true")
    p.add_argument("--check-run", action="store_true")
    fail_on(p)

    init.add_arguments(sub.add_parser("init", help="write a runtime file from its workspace"))

    p = sub.add_parser("sweep", help="end notebooks left behind by a killed run")
    p.add_argument("--older-than", default="0s", metavar="DURATION", help="e.g. 90s, 30m, 6h")
    p.add_argument("--project-id", metavar="ID")
    p.add_argument("--dry-run", action="store_true")
    return parser


def fail_on(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="error",
        help="exit 1 when a cell errored or failed (error, the default), only when one failed, or never",
    )


def matrices_dir(arg: Path | None, env: Mapping[str, str]) -> Path:
    if arg is not None:
        return arg
    if env.get("GRT_MATRICES"):
        return Path(env["GRT_MATRICES"])
    return Path("matrices")


def cmd_validate(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from .matrix_load import load_catalogue

    root = matrices_dir(args.matrices, env)
    catalogue = load_catalogue(root)
    print(
        f"OK: {len(catalogue.runtimes)} runtimes and {len(catalogue.machines)} machines in {root}",
        file=out,
    )
    return 0


def cmd_plan(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from . import plan as planning
    from .durations import parse_duration
    from .matrix_load import load_catalogue

    hours = parse_duration(args.expected_duration, flag="--expected-duration") / 3600
    root = matrices_dir(args.matrices, env)
    catalogue = load_catalogue(root)
    changed_machines = None
    if args.base_ref and args.changed_file:
        from .gitfiles import machines_at_ref

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
        from .sources.check import SourceSettings, check_runtimes

        reports = check_runtimes(
            the_plan.runtimes, SourceSettings.from_env(env), matrices_root=root
        )
    if args.format == "json":
        data = planning.render_json(the_plan, hours)
        if reports is not None:
            data["sources"] = [r.to_json() for r in reports]
        print(json.dumps(data, indent=2), file=out)
    elif args.format == "github-matrix":
        print(json.dumps(planning.render_github_matrix(the_plan)), file=out)
    else:
        print(planning.render_table(the_plan, hours), file=out)
    if reports is None:
        return 0
    from .github.actions import Actions
    from .sources.report import print_reports

    table = args.format == "table"
    return print_reports(reports, table=table, out=out, actions=Actions(sys.stderr, env))


def _with_ref(runtimes: Sequence[Runtime], ref: str) -> tuple[Runtime, ...]:
    """--workspace-ref: every planned runtime with a workspace, at `ref`."""
    import dataclasses

    from .matrix import REF

    if not REF.match(ref):
        raise UsageError(f"--workspace-ref: {ref!r} is not valid (valid: a branch, tag or commit)")
    return tuple(dataclasses.replace(r, workspace_ref=ref) if r.workspace else r for r in runtimes)


def _repo_relative(root: Path) -> str:
    """The matrices folder as changed-file paths name it (relative to the current folder)."""
    try:
        return root.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return root.as_posix()


def cmd_run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from .run_command import run

    return run(args, env, out)


def cmd_report(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from .report_command import report

    return report(args, env, out)


def cmd_sweep(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from .sweep import sweep_command

    return sweep_command(args, env, out)


COMMANDS = {
    "validate": cmd_validate,
    "plan": cmd_plan,
    "run": cmd_run,
    "report": cmd_report,
    "sweep": cmd_sweep,
    "init": init.run,
}


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, env, sys.stdout)
    except MatrixError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found.", file=sys.stderr)
        return exc.exit_code
    except GrtError as exc:
        _report_error(exc, env)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _report_error(exc: GrtError, env: Mapping[str, str]) -> None:
    print(f"ERROR: {exc.message}", file=sys.stderr)
    if exc.tip:
        print(f"TIP: {exc.tip}", file=sys.stderr)
    if env.get("GITHUB_ACTIONS") == "true":
        text = exc.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::error::{text}", file=sys.stderr)


__all__ = ["UsageError", "main"]
