"""Arguments that several subcommands share."""

from __future__ import annotations

import argparse
from pathlib import Path

FAIL_ON = ("error", "failed", "never")


def add_matrices(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--matrices",
        metavar="DIR",
        type=Path,
        help="folder with machines.yaml and runtimes/ (default: ./matrices, or $GRT_MATRICES)",
    )


def add_fail_on(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="error",
        help="exit 1 when a cell errored or failed (error, the default), only when one failed, or never",
    )


def add_publishing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--comment", action="store_true", help="keep the PR status comment up to date"
    )
    parser.add_argument("--check-run", action="store_true", help="publish a check run")
