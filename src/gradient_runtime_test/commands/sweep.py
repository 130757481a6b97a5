"""`grt sweep`: stop and delete notebooks left behind by a run killed with SIGKILL: those carrying
our tag, and untagged ones with our name (killed between create and tagging)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from ..durations import parse_duration
from ..errors import ProviderError, UsageError
from ..providers import naming

if TYPE_CHECKING:
    from ..providers.gradient_api import GradientApi, NotebookInfo

HELP = "end notebooks left behind by a killed run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--older-than", default="0s", metavar="DURATION", help="e.g. 90s, 30m, 6h")
    parser.add_argument("--project-id", metavar="ID")
    parser.add_argument("--dry-run", action="store_true")


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from ..settings import paperspace_settings

    older_than = parse_duration(args.older_than, flag="--older-than")
    settings = paperspace_settings(env, project_id=args.project_id)
    if not settings.api_key:
        raise UsageError("PAPERSPACE_API_KEY is not set (valid: an API key of the Gradient team)")
    from ..providers.gradient_api import GradientApi

    api = GradientApi(
        settings.api_key, config_host=settings.config_host, log_host=settings.log_host
    )
    failures = sweep(
        api,
        older_than_s=older_than,
        project_id=settings.project_id,
        dry_run=args.dry_run,
        say=lambda s: print(s, file=out),
    )
    return 1 if failures else 0


def sweep(
    api: GradientApi,
    *,
    older_than_s: float,
    project_id: str | None,
    dry_run: bool,
    say: Callable[[str], None],
    now: dt.datetime | None = None,
) -> int:
    """End our notebooks older than `older_than_s`; return how many could not be ended."""
    now = now or dt.datetime.now(dt.UTC)
    ours = {nb.id: nb for nb in api.list_by_tag(naming.TAG)}
    # A run killed between a create and its tag requests (tags are set after create) leaves a
    # notebook without tags: it is found by the name every cell's notebook gets.
    for nb in api.list_all():
        if nb.id not in ours and naming.is_ours(nb.name):
            ours[nb.id] = nb
    notebooks = [nb for nb in ours.values() if _eligible(nb, now, older_than_s, project_id)]
    if not notebooks:
        say("Nothing to sweep.")
        return 0
    failures = 0
    for nb in notebooks:
        age = _age(nb, now)
        what = (
            f"{nb.id}  {nb.name or ''}  ({nb.raw_state or nb.state.value}, {age / 60:.0f} min old)"
        )
        if dry_run:
            say(f"would stop and delete {what}")
            continue
        try:
            if not nb.state.ended:
                api.stop(nb.id)
            api.delete(nb.id, missing_ok=True)
            say(f"stopped and deleted {what}")
        except ProviderError as exc:
            failures += 1
            say(f"could not end {nb.id}: {exc.message}")
    return failures


def _age(nb: NotebookInfo, now: dt.datetime) -> float:
    return (now - nb.created_at).total_seconds() if nb.created_at else float("inf")


def _eligible(
    nb: NotebookInfo, now: dt.datetime, older_than_s: float, project_id: str | None
) -> bool:
    if project_id and nb.project_id and nb.project_id != project_id:
        return False
    return _age(nb, now) >= older_than_s
