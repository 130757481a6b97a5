"""`grt sweep`: stop and delete notebooks left behind by a run killed with SIGKILL: those carrying
our tag, and untagged ones with our name (killed between create and tagging).

Concurrent runs (a fan-out runs many jobs at once) must not lose their live notebooks to a sweep,
so by default only notebooks older than the longest possible run are ended: the largest
`shutdown_timeout` among the runtimes of the matrices (the platform ends a notebook then anyway),
or 6 h when no matrices are at hand. `--run ID` ends one run's notebooks whatever their age;
`--older-than` sets the age."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..durations import parse_duration
from ..errors import MatrixError, ProviderError, UsageError
from ..matrix.load import load_catalogue
from ..providers import naming
from ..providers.base import Handle
from .arguments import add_matrices

if TYPE_CHECKING:
    from ..providers.gradient import GradientProvider
    from ..providers.gradient_api import NotebookInfo

HELP = "end notebooks left behind by a killed run"
DEFAULT_AGE_S = 6 * 3600.0  # without matrices: free machines cap a notebook's life at 6 h
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--older-than",
        metavar="DURATION",
        help="e.g. 90s, 30m, 6h (default: the longest shutdown_timeout in the matrices, else 6h;"
        " with --run: any age)",
    )
    parser.add_argument("--run", metavar="ID", help="only this run's notebooks (tag grt-run-ID)")
    parser.add_argument("--project-id", metavar="ID")
    parser.add_argument("--dry-run", action="store_true")
    add_matrices(parser)


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from ..settings import paperspace_settings

    run_id = _run_id(args.run)
    older_than, why = _age_limit(args, env, run_id)
    settings = paperspace_settings(env, project_id=args.project_id)
    if not settings.api_key:
        raise UsageError("PAPERSPACE_API_KEY is not set (valid: an API key of the Gradient team)")
    from ..providers.gradient import GradientProvider

    provider = GradientProvider(settings)
    print(f"Sweeping {why}.", file=out)
    failures = sweep(
        provider,
        older_than_s=older_than,
        project_id=settings.project_id,
        run_id=run_id,
        dry_run=args.dry_run,
        say=lambda s: print(s, file=out),
    )
    return 1 if failures else 0


def _run_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not _RUN_ID.match(value):
        raise UsageError(f"--run: {value!r} is not valid (valid: a run id like 3f9a1c0b7e)")
    return value


def _age_limit(
    args: argparse.Namespace, env: Mapping[str, str], run_id: str | None
) -> tuple[float, str]:
    """Seconds a notebook must have lived to be swept, and a phrase saying why."""
    what = f"notebooks of run {run_id}" if run_id else "grt's notebooks"
    if args.older_than is not None:
        seconds = parse_duration(args.older_than, flag="--older-than")
        return seconds, f"{what} older than {args.older_than}"
    if run_id is not None:
        return 0.0, f"{what}, whatever their age"
    hours = _longest_shutdown_h(args.matrices, env)
    if hours is None:
        return DEFAULT_AGE_S, f"{what} older than 6h (no matrices here to say how long a run lasts)"
    return hours * 3600.0, f"{what} older than {hours}h (the longest shutdown_timeout)"


def _longest_shutdown_h(given: Path | None, env: Mapping[str, str]) -> int | None:
    """The largest shutdown_timeout (hours) among the matrices' runtimes; None without matrices.
    Matrices named by --matrices or $GRT_MATRICES must load; ./matrices may be absent."""
    named = given
    if named is None and env.get("GRT_MATRICES"):
        named = Path(env["GRT_MATRICES"])
    try:
        catalogue = load_catalogue(named if named is not None else Path("matrices"))
    except MatrixError:
        if named is not None:
            raise
        return None
    return max((r.shutdown_timeout for r in catalogue.runtimes), default=None)


def sweep(
    provider: GradientProvider,
    *,
    older_than_s: float,
    project_id: str | None,
    dry_run: bool,
    say: Callable[[str], None],
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """End our notebooks older than `older_than_s` (of run `run_id`, when given); return how many
    could not be ended. Every list is read page by page."""
    now = now or dt.datetime.now(dt.UTC)
    api = provider.api
    if run_id is not None:
        ours = {nb.id: nb for nb in api.list_by_tag(f"{naming.RUN_TAG_PREFIX}{run_id}")}
    else:
        ours = {nb.id: nb for nb in api.list_by_tag(naming.TAG)}
        # A run killed between a create and its tag requests (tags are set after create) leaves
        # a notebook without tags: it is found by the name every cell's notebook gets.
        for nb in api.list_all():
            if nb.id not in ours and naming.is_ours(nb.name):
                ours[nb.id] = nb
    notebooks = [nb for nb in ours.values() if _eligible(nb, now, older_than_s, project_id)]
    if not notebooks:
        say("Nothing to sweep.")
        return 0
    if dry_run:
        for nb in notebooks:
            say(f"would stop and delete {_what(nb, now)}")
        return 0
    # Every stop first, then the deletes: by then most notebooks have stopped (the platform may
    # refuse to delete one that is still stopping: the provider then waits, bounded).
    problems: dict[str, str] = {}
    for nb in notebooks:
        if not nb.state.ended:
            try:
                provider.stop(Handle(notebook_id=nb.id, name=nb.name or ""))
            except ProviderError as exc:
                problems[nb.id] = exc.message
    for nb in notebooks:
        try:
            provider.delete(Handle(notebook_id=nb.id, name=nb.name or ""))
            problems.pop(nb.id, None)  # deleted: ended, whatever its stop said
            say(f"stopped and deleted {_what(nb, now)}")
        except ProviderError as exc:
            say(f"could not end {nb.id}: {problems.get(nb.id, exc.message)}")
            problems[nb.id] = exc.message
    return sum(nb.id in problems for nb in notebooks)


def _what(nb: NotebookInfo, now: dt.datetime) -> str:
    age = _age(nb, now)
    return f"{nb.id}  {nb.name or ''}  ({nb.raw_state or nb.state.value}, {age / 60:.0f} min old)"


def _age(nb: NotebookInfo, now: dt.datetime) -> float:
    return (now - nb.created_at).total_seconds() if nb.created_at else float("inf")


def _eligible(
    nb: NotebookInfo, now: dt.datetime, older_than_s: float, project_id: str | None
) -> bool:
    if project_id and nb.project_id and nb.project_id != project_id:
        return False
    return _age(nb, now) >= older_than_s
