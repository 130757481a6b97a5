"""`grt validate`: check every matrix file and report all problems at once.

Beyond the files' own shape, it checks what a run of each runtime would need: the notebook
command within the platform's cap on every machine, and a local workspace folder that exists.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from ..command import MAX_COMMAND_CHARS, command_size
from ..errors import MatrixError
from ..matrix.load import load_catalogue, runtime_problem
from ..matrix.model import Catalogue, Runtime
from ..settings import matrices_dir
from ..sources.workspace import is_url, local_folder
from .arguments import add_matrices

HELP = "check every matrix file; report all problems at once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_matrices(parser)


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    root = matrices_dir(args.matrices, env)
    catalogue = load_catalogue(root)
    problems = list(_run_problems(catalogue))
    if problems:
        raise MatrixError(problems)
    print(
        f"OK: {len(catalogue.runtimes)} runtimes and {len(catalogue.machines)} machines in {root}",
        file=out,
    )
    return 0


def _run_problems(catalogue: Catalogue) -> Iterator[str]:
    for runtime in catalogue.runtimes:
        workspace = runtime.workspace
        if workspace is not None and not is_url(workspace):
            folder = local_folder(workspace, catalogue.root)
            if not folder.is_dir():
                yield _problem(
                    catalogue.root,
                    runtime,
                    "workspace",
                    f"local folder {folder} not found (valid: an existing folder, relative to"
                    " the matrices folder, or an https:// git URL)",
                )
        size, machine = max(
            (command_size(runtime, catalogue.machines[name], exact=False), name)
            for name in runtime.machines
        )
        if size > MAX_COMMAND_CHARS:  # the bound is over: the exact size decides
            size = command_size(runtime, catalogue.machines[machine])
        if size > MAX_COMMAND_CHARS:
            yield _problem(
                catalogue.root,
                runtime,
                "notebooks",
                f"runtime {runtime.name!r}: the notebook command would be {size:,} characters"
                f" on {machine} (valid: at most {MAX_COMMAND_CHARS:,}); split the runtime into"
                " several matrix files with fewer notebooks each, or deliver the harness by URL"
                " (`grt run --harness-from URL`)",
            )


def _problem(root: Path, runtime: Runtime, field: str, message: str) -> str:
    return runtime_problem(root, runtime.slug, (field,), message)
