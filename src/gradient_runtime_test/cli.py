"""Command-line interface: `grt` / `gradient-runtime-test`.

Parses arguments and dispatches to `commands/<name>.py` (one module per subcommand, each with
`HELP`, `add_arguments` and `run`). Only `main` catches errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Protocol, TextIO, cast

from . import __version__
from .errors import GrtError, MatrixError
from .github.actions import Actions

COMMANDS = (
    "validate",
    "plan",
    "run",
    "report",
    "init",
    "sweep",
    "history",
    "doctor",
    "harness",
    "dashboard",
)


class Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int: ...


def command(name: str) -> Command:
    return cast(Command, importlib.import_module(f"{__package__}.commands.{name}"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grt",
        description="Test Gradient notebook runtimes on every machine type they are offered on.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = command(name)
        module.add_arguments(sub.add_parser(name, help=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    args = _parser().parse_args(argv)
    try:
        return command(args.command).run(args, env, sys.stdout)
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
    actions = Actions(sys.stderr, env)
    if actions.in_actions:
        actions.error(exc.message)
