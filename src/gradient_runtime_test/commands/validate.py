"""`grt validate`: check every matrix file and report all problems at once."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from ..matrix.load import load_catalogue
from ..settings import matrices_dir
from .arguments import add_matrices

HELP = "check every matrix file; report all problems at once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_matrices(parser)


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    root = matrices_dir(args.matrices, env)
    catalogue = load_catalogue(root)
    print(
        f"OK: {len(catalogue.runtimes)} runtimes and {len(catalogue.machines)} machines in {root}",
        file=out,
    )
    return 0
