"""`grt dashboard --history DIR --out SITE`: a static site of the run history (docs/history.md):
the latest result of every runtime on every machine, the last results of each, cost per runtime
and per night, and a page per runtime. Self-contained: no script, no external resource."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ..errors import UsageError

HELP = "write a static dashboard site from the run history"
MAX_STRIP = 100  # a history keeps at most 100 runs per runtime


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history", type=Path, required=True, metavar="DIR", help="a folder written by --history"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="SITE", help="the site folder")
    parser.add_argument(
        "--last",
        type=int,
        default=10,
        metavar="N",
        help="results shown per runtime and machine in the strip (default 10)",
    )
    parser.add_argument("--title", default="Gradient runtime tests", metavar="TEXT")


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    history_dir: Path = args.history
    site: Path = args.out
    if not history_dir.is_dir():
        raise UsageError(
            f"--history: {str(history_dir)!r} is not a folder (valid: a folder written by"
            " `grt run --history DIR` or `grt history pull --dir DIR`)"
        )
    if not 1 <= args.last <= MAX_STRIP:
        raise UsageError(f"--last: {args.last} is out of range (valid: 1 to {MAX_STRIP})")
    if site.exists() and not site.is_dir():
        raise UsageError(f"--out: {str(site)!r} is not a folder (valid: a new or existing folder)")
    if site.resolve() == history_dir.resolve():
        raise UsageError("--out: the history folder itself (valid: another folder)")
    from .. import history
    from ..dashboard import write_site

    found = history.load(history_dir)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        written = write_site(found, site, generated=generated, title=args.title, strip=args.last)
    except OSError as exc:
        raise UsageError(
            f"--out: {str(site)!r} cannot hold the site ({exc.strerror or exc})"
            " (valid: a folder this user can write)"
        ) from None
    runtimes = len(found.runtimes())
    print(
        f"Dashboard: {written[0]} ({runtimes} runtime{'s' if runtimes != 1 else ''},"
        f" {len(found.records)} record{'s' if len(found.records) != 1 else ''})",
        file=out,
    )
    if found.skipped:
        print(f"WARNING: {found.skipped} history lines were not records: left out", file=out)
    return 0
