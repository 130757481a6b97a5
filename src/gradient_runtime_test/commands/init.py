"""`grt init`: write a runtime file from what its workspace repository holds at a ref.

The notebooks come from the repository itself (listed at the ref with git, as `grt plan
--check-sources` lists them; a local folder is read as the local provider places it), the machines
from the catalogue by class or by name. The file written has the schema comment, a short header
and only what the defaults do not already say; it is validated before it is written, never
overwrites a file, and nothing is written when any input is wrong.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

RUNTIME_SCHEMA_URL = (
    "https://raw.githubusercontent.com/gradient-ai/gradient-runtime-test/v1/"
    "matrices/schema/runtime.schema.json"
)
CLASSES = ("gpu", "cpu", "ipu")
HELP = "write a runtime file from its workspace"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        required=True,
        metavar="URL",
        help="git URL of the workspace repository (or a folder, for the local provider)",
    )
    parser.add_argument("--ref", metavar="REF", help="branch, tag or commit (default: HEAD)")
    parser.add_argument("--container", required=True, metavar="IMAGE", help="the container image")
    parser.add_argument(
        "--name", metavar="NAME", help="as shown in the Gradient UI (default: the repository's)"
    )
    parser.add_argument(
        "--machines",
        default="gpu",
        metavar="gpu|cpu|ipu|LIST",
        help="a class of the catalogue's machines (its paid single-accelerator ones), or machine"
        " names and classes separated by commas (default: gpu)",
    )
    parser.add_argument(
        "--notebook",
        action="append",
        default=[],
        metavar="GLOB",
        help="keep the notebooks matching GLOB (repeatable; default: every notebook)",
    )
    parser.add_argument(
        "--matrices",
        metavar="DIR",
        help="folder with machines.yaml; the file goes to DIR/runtimes/ (default: ./matrices)",
    )


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from ..errors import UsageError
    from ..settings import matrices_dir
    from ..sources import scaffold
    from ..sources.errors import SourceError
    from ..sources.git import Git
    from ..sources.workspace import snapshot

    root = matrices_dir(Path(args.matrices) if args.matrices else None, env)
    request = scaffold.checked_request(args)
    machines = scaffold.load_machines(root)
    chosen = scaffold.pick_machines(args.machines, machines)
    target = scaffold.target(root, request.name)
    try:
        ws = snapshot(request.workspace, request.ref, git=Git(env=env), matrices_root=root)
    except SourceError as exc:
        raise UsageError(f"--workspace: {exc.message}") from None
    notebooks = scaffold.pick_notebooks(ws.notebooks, args.notebook, ws.at)
    text = scaffold.render(request, ws, notebooks, chosen, machines, schema=_schema_ref(root))
    scaffold.validate(text, target, machines)
    scaffold.write_new(target, text)
    shown = scaffold.display(target)
    total = len(ws.notebooks)
    print(
        f"Wrote {shown}: {len(notebooks.kept)} of {total} notebook{'s' if total != 1 else ''}"
        f" at {ws.at}, {len(chosen)} machine{'s' if len(chosen) != 1 else ''}.",
        file=out,
    )
    for path, why in notebooks.left_out:
        print(f"  left out {path!r}: {why}", file=out)
    folder = shlex.quote(scaffold.display(root))
    name = shlex.quote(request.name)
    print(
        "Next:\n"
        f"  grt validate --matrices {folder}\n"
        f"  grt plan --matrices {folder} --runtime {name} --check-sources\n"
        "  then, in the workspace repository, a workflow step (README: GitHub Action):\n"
        "    - uses: gradient-ai/gradient-runtime-test@v1\n"
        "      with:\n"
        "        api-key: ${{ secrets.PAPERSPACE_API_KEY }}\n"
        "        project-id: ${{ vars.PAPERSPACE_PROJECT_ID }}\n"
        f"        runtime: {scaffold.scalar(request.name)}",
        file=out,
    )
    shown_root = scaffold.display(root)
    if not Path(shown_root).is_absolute():
        print(
            f"        matrices: {scaffold.scalar(shown_root)}  # after actions/checkout", file=out
        )
    return 0


def _schema_ref(root: Path) -> str:
    """The schema next to the matrices when it is there (this repository), else its stable URL."""
    if (root / "schema" / "runtime.schema.json").is_file():
        return "../schema/runtime.schema.json"
    return RUNTIME_SCHEMA_URL
