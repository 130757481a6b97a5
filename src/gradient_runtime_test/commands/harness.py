"""`grt harness`: write the harness archive that `grt run --harness-from URL` downloads.

Serve the file at a URL the notebooks can reach (e.g. as a release asset of the action). The
notebook command then carries only the URL and the archive's sha256, and refuses any other
bytes, so the file must come from this very version of grt.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ..errors import UsageError

HELP = "write the harness archive for `grt run --harness-from URL`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("grt-harness.pyz"), metavar="PATH", help="the file"
    )


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from ..command import harness_archive

    data = harness_archive()
    path: Path = args.out
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(
            f"--out: {str(path)!r} cannot be written ({exc.strerror or exc})"
            " (valid: a file path this user can write)"
        ) from None
    print(f"{hashlib.sha256(data).hexdigest()}  {path} ({len(data):,} bytes)", file=out)
    print(f"Serve it, then: grt run --harness-from https://.../{path.name} ...", file=out)
    return 0
