"""One frozen settings object per command, built once at the edge from CLI flags and an env mapping.

Nothing deeper reads os.environ; tests pass `env={...}`.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from pathlib import Path

from .errors import UsageError
from .orchestrate import Keep


@dataclasses.dataclass(frozen=True)
class PaperspaceSettings:
    api_key: str = dataclasses.field(repr=False)
    config_host: str | None = None
    log_host: str | None = None
    project_id: str | None = None


@dataclasses.dataclass(frozen=True)
class RunSettings:
    matrices: Path
    runtime: str
    machines: tuple[str, ...]
    provider: str
    workspace: str | None
    workspace_ref: str | None
    cluster_id: str | None
    max_parallel: int | None
    keep: Keep
    out: Path
    dry_run: bool
    comment: bool
    check_run: bool
    paperspace: PaperspaceSettings
    in_actions: bool
    poll_interval_s: float
    unavailable_delay_s: float
    startup_timeout_s: float
    retry_backoff_s: float
    env: Mapping[str, str] = dataclasses.field(repr=False, default_factory=dict)

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str]) -> RunSettings:
        from .cli import matrices_dir

        if args.max_parallel is not None and not 1 <= args.max_parallel <= 100:
            raise UsageError(
                f"--max-parallel: {args.max_parallel} is out of range (valid: 1 to 100)"
            )
        # Gradient is polled every 5 s (one list request each); a local process far more often.
        poll_s = _seconds(
            env, "GRT_POLL_INTERVAL", 5.0 if args.provider == "gradient" else 0.25, 0.05, 300
        )
        unavailable_s = _seconds(env, "GRT_UNAVAILABLE_DELAY", 120.0, 0.0, 3600)
        startup_s = _seconds(env, "GRT_STARTUP_TIMEOUT", 900.0, 1.0, 6 * 3600)
        backoff_s = _seconds(env, "GRT_RETRY_BACKOFF", 2.0, 0.0, 60)
        return cls(
            matrices=matrices_dir(args.matrices, env),
            runtime=args.runtime,
            machines=tuple(args.machine),
            provider=args.provider,
            workspace=args.workspace,
            workspace_ref=args.workspace_ref,
            cluster_id=args.cluster_id,
            max_parallel=args.max_parallel,
            keep=Keep(args.keep),
            out=args.out,
            dry_run=args.dry_run,
            comment=args.comment,
            check_run=args.check_run,
            paperspace=PaperspaceSettings(
                api_key=env.get("PAPERSPACE_API_KEY", ""),
                config_host=env.get("PAPERSPACE_CONFIG_HOST") or None,
                log_host=env.get("PAPERSPACE_CONFIG_LOG_HOST") or None,
                project_id=args.project_id or env.get("PAPERSPACE_PROJECT_ID") or None,
            ),
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            poll_interval_s=poll_s,
            unavailable_delay_s=unavailable_s,
            startup_timeout_s=startup_s,
            retry_backoff_s=backoff_s,
            env=env,
        )


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """A number of seconds from the environment (tuning knobs; documented in the README)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise UsageError(f"{name}: {raw!r} is not valid (valid: seconds from {low:g} to {high:g})")
    return value
