"""`grt validate`: check every matrix file and report all problems at once.

Beyond the files' own shape, it checks what a run of each runtime would need: the notebook
command within the platform's cap on every machine, and a local workspace folder that exists.
"""

from __future__ import annotations

import argparse
import functools
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from ..command import MAX_COMMAND_CHARS, notebook_command, notebook_spec
from ..errors import MatrixError
from ..harness.protocol import Keep, Spec, encode_spec_arg, to_json
from ..matrix.load import load_catalogue, runtime_problem
from ..matrix.model import Catalogue, Machine, Runtime
from ..providers.naming import CELL_ID_CHARS
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
        if size > MAX_COMMAND_CHARS:
            size = command_size(runtime, catalogue.machines[machine])
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


def command_size(runtime: Runtime, machine: Machine, *, exact: bool = True) -> int:
    """The length of the notebook command a run of `runtime` on `machine` creates on Gradient:
    the spec and the Jupyter command added to what every command carries (`_fixed_size`).
    With `exact=False`, an upper bound that needs no harness archive (validation stays fast):
    `FIXED_CHARS_BOUND` stands for the fixed part."""
    spec = notebook_spec(runtime, machine, bundle_id=_BUNDLE_ID, keep=Keep.FAILED)
    jupyter = len(shlex.quote(runtime.command)) - len(shlex.quote(""))
    fixed = _fixed_size() if exact else FIXED_CHARS_BOUND
    return fixed + len(encode_spec_arg(to_json(spec))) + jupyter


_BUNDLE_ID = "x" * CELL_ID_CHARS
# More than the harness and the shell around it take in any command (tests hold it).
FIXED_CHARS_BOUND = 50_000


@functools.cache
def _fixed_size() -> int:
    """What a notebook command holds besides its spec and Jupyter command (the harness, the
    shell around it), measured once on `command.notebook_command`: the spec travels as one base64
    word, which shell quoting leaves as it is, and the Jupyter command is quoted last."""
    empty = Spec(bundle_id=_BUNDLE_ID)
    return len(notebook_command(empty, "")) - len(encode_spec_arg(to_json(empty)))
