"""`grt sweep`: stop and delete notebooks carrying our tag, left behind by a run killed with SIGKILL."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from .durations import parse_duration
from .errors import ProviderError, UsageError

if TYPE_CHECKING:
    from .providers.gradient_api import GradientApi, NotebookInfo

OUR_TAG = "grt"


def sweep_command(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    older_than = parse_duration(args.older_than, flag="--older-than")
    api_key = env.get("PAPERSPACE_API_KEY", "")
    if not api_key:
        raise UsageError("PAPERSPACE_API_KEY is not set (valid: an API key of the Gradient team)")
    from .providers.gradient_api import GradientApi

    api = GradientApi(
        api_key,
        config_host=env.get("PAPERSPACE_CONFIG_HOST") or None,
        log_host=env.get("PAPERSPACE_CONFIG_LOG_HOST") or None,
    )
    project = args.project_id or env.get("PAPERSPACE_PROJECT_ID") or None
    failures = sweep(
        api,
        older_than_s=older_than,
        project_id=project,
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
    notebooks = [
        nb for nb in api.list_by_tag(OUR_TAG) if _eligible(nb, now, older_than_s, project_id)
    ]
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
