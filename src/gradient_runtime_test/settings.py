"""One frozen settings object per command, built once at the edge from CLI flags and an env mapping.

Nothing deeper reads os.environ; tests pass `env={...}`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from collections.abc import Mapping
from pathlib import Path

from .durations import parse_duration
from .errors import UsageError
from .harness.protocol import Keep
from .matrix.model import CLUSTER, REF, WORKSPACE_URL

PROVIDERS = ("local", "gradient")
KEEP = tuple(k.value for k in Keep)

_PROJECT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HOST = re.compile(r"^https?://[^\s'\"`$;|&<>\\]+$")
_API_KEY = re.compile(r"^[\x21-\x7e]{1,1000}$")  # printable ASCII, no whitespace: an HTTP header
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclasses.dataclass(frozen=True)
class PaperspaceSettings:
    api_key: str = dataclasses.field(repr=False)
    config_host: str | None = None
    log_host: str | None = None
    project_id: str | None = None
    connect_timeout_s: float = 10.0  # per request: to connect...
    read_timeout_s: float = 30.0  # ...and for each read of the answer


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
    retry_after_max_s: float = 60.0  # the longest Retry-After honoured
    api_outage_s: float = 120.0  # the platform API silent this long: the run gives up
    env: Mapping[str, str] = dataclasses.field(repr=False, default_factory=dict)
    harness_from: str | None = None  # a URL the notebooks download the harness archive from
    max_cost_usd: float | None = None  # --max-cost
    expected_s: float = 1800.0  # --expected-duration: what a cell is expected to bill
    history: Path | None = None  # --history DIR
    reuse_max_age_s: float | None = None  # --reuse-passed DURATION

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str]) -> RunSettings:
        if args.max_parallel is not None and not 1 <= args.max_parallel <= 100:
            raise UsageError(
                f"--max-parallel: {args.max_parallel} is out of range (valid: 1 to 100)"
            )
        # Gradient is polled every 5 s (one list request each); a local process far more often.
        poll_s = _seconds(
            env, "GRT_POLL_INTERVAL", 5.0 if args.provider == "gradient" else 0.1, 0.05, 300
        )
        unavailable_s = _seconds(env, "GRT_UNAVAILABLE_DELAY", 120.0, 0.0, 3600)
        startup_s = _seconds(env, "GRT_STARTUP_TIMEOUT", 900.0, 1.0, 6 * 3600)
        backoff_s = retry_backoff(env)
        retry_after_max_s = _seconds(env, "GRT_RETRY_AFTER_MAX", 60.0, 0.0, 3600)
        outage_s = _seconds(env, "GRT_API_OUTAGE", 120.0, 0.1, 3600)
        github_timeout_s(env)  # checked now: publishing comes after the notebooks
        workspace = args.workspace or None
        if workspace is not None and (_CONTROL.search(workspace) or workspace.startswith("-")):
            raise UsageError(
                f"--workspace: {workspace!r} is not valid (valid: a git URL or a folder, on one line, not starting with '-')"
            )
        if (
            args.provider == "gradient"
            and workspace is not None
            and workspace.startswith(("https://", "http://"))
            and not WORKSPACE_URL.match(workspace)
        ):
            raise UsageError(
                f"--workspace: {workspace!r} is not valid (valid: an https:// git URL without spaces or shell characters)"
            )
        paperspace = paperspace_settings(env, project_id=args.project_id)
        reuse_s = None
        if args.reuse_passed is not None:
            if args.history is None:
                raise UsageError(
                    "--reuse-passed: it reuses results recorded in a history folder (valid: add --history DIR)"
                )
            reuse_s = parse_duration(args.reuse_passed, flag="--reuse-passed")
        if args.history is not None and args.history.exists() and not args.history.is_dir():
            raise UsageError(
                f"--history: {str(args.history)!r} is not a folder (valid: a folder, new or made by an earlier run)"
            )
        return cls(
            matrices=matrices_dir(args.matrices, env),
            runtime=args.runtime,
            machines=tuple(args.machine),
            provider=args.provider,
            workspace=workspace,
            workspace_ref=_checked(
                args.workspace_ref, "--workspace-ref", REF, "a branch, tag or commit"
            ),
            cluster_id=_checked(
                args.cluster_id, "--cluster-id", CLUSTER, "a cluster id like clg07azjl"
            ),
            max_parallel=args.max_parallel,
            keep=Keep(args.keep),
            out=args.out,
            dry_run=args.dry_run,
            comment=args.comment,
            check_run=args.check_run,
            paperspace=paperspace,
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            poll_interval_s=poll_s,
            unavailable_delay_s=unavailable_s,
            startup_timeout_s=startup_s,
            retry_backoff_s=backoff_s,
            retry_after_max_s=retry_after_max_s,
            api_outage_s=outage_s,
            env=env,
            harness_from=_harness_from(getattr(args, "harness_from", None)),
            max_cost_usd=money(args.max_cost, "--max-cost"),
            expected_s=parse_duration(args.expected_duration, flag="--expected-duration"),
            history=args.history,
            reuse_max_age_s=reuse_s,
        )


_HARNESS_URL = re.compile(r"^https?://[^\s'\"`$;|&<>\\#]+$")


def _harness_from(url: str | None) -> str | None:
    if url is None:
        return None
    if not _HARNESS_URL.match(url):
        raise UsageError(
            f"--harness-from: {url!r} is not valid (valid: an https:// or http:// URL of the"
            " file `grt harness` writes, without spaces, '#' or shell characters; its sha256 is"
            " checked either way)"
        )
    return url


def matrices_dir(arg: Path | None, env: Mapping[str, str]) -> Path:
    """`--matrices`, else $GRT_MATRICES, else ./matrices."""
    if arg is not None:
        return arg
    if env.get("GRT_MATRICES"):
        return Path(env["GRT_MATRICES"])
    return Path("matrices")


def paperspace_settings(env: Mapping[str, str], *, project_id: str | None) -> PaperspaceSettings:
    """The Paperspace key, hosts and project from the environment (and `--project-id`), checked
    before any request is made. The key is never echoed in a message."""
    api_key = env.get("PAPERSPACE_API_KEY", "").strip()
    if api_key and not _API_KEY.match(api_key):
        raise UsageError(
            "PAPERSPACE_API_KEY contains a space, a line break or another character no API key has"
            " (valid: the key exactly as Paperspace shows it)"
        )
    hosts = {}
    for name in ("PAPERSPACE_CONFIG_HOST", "PAPERSPACE_CONFIG_LOG_HOST"):
        value = env.get(name) or None
        if value is not None and not _HOST.match(value):
            raise UsageError(
                f"{name}: {value!r} is not valid (valid: a URL like https://api.paperspace.io)"
            )
        hosts[name] = value
    if project_id:
        project = _checked(
            project_id, "--project-id", _PROJECT, "a Gradient project id like pr1234abcd"
        )
    else:
        project = _checked(
            env.get("PAPERSPACE_PROJECT_ID"),
            "PAPERSPACE_PROJECT_ID",
            _PROJECT,
            "a Gradient project id like pr1234abcd",
        )
    return PaperspaceSettings(
        api_key=api_key,
        config_host=hosts["PAPERSPACE_CONFIG_HOST"],
        log_host=hosts["PAPERSPACE_CONFIG_LOG_HOST"],
        project_id=project,
        connect_timeout_s=_seconds(env, "GRT_API_CONNECT_TIMEOUT", 10.0, 0.01, 600),
        read_timeout_s=_seconds(env, "GRT_API_READ_TIMEOUT", 30.0, 0.01, 600),
    )


def money(text: str | None, flag: str) -> float | None:
    """US dollars as a user types them ('25', '$12.50'); None when not given."""
    if text is None:
        return None
    raw = text.strip().removeprefix("$").strip()
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 1_000_000 or not raw[:1].isdigit():
        raise UsageError(
            f"{flag}: {text!r} is not an amount (valid: US dollars from 0 to 1000000, e.g. 25 or 12.50)"
        )
    return value


def retry_backoff(env: Mapping[str, str]) -> float:
    """`GRT_RETRY_BACKOFF`: seconds before the first retry of a transient failure (default 2)."""
    return _seconds(env, "GRT_RETRY_BACKOFF", 2.0, 0.0, 60)


def probe_pacing(env: Mapping[str, str]) -> tuple[float, float]:
    """`grt doctor --probe`'s poll interval and start-up timeout: the knobs of a run on Gradient
    (`GRT_POLL_INTERVAL`, default 5 s; `GRT_STARTUP_TIMEOUT`, default 900 s)."""
    poll = _seconds(env, "GRT_POLL_INTERVAL", 5.0, 0.05, 300)
    return poll, _seconds(env, "GRT_STARTUP_TIMEOUT", 900.0, 1.0, 6 * 3600)


def github_timeout_s(env: Mapping[str, str]) -> float:
    """Seconds each GitHub request may take to connect, and to answer (GRT_GITHUB_TIMEOUT; PyGithub
    rounds it up to whole seconds)."""
    return _seconds(env, "GRT_GITHUB_TIMEOUT", 15.0, 1, 600)


def _checked(value: str | None, name: str, pattern: re.Pattern[str], valid: str) -> str | None:
    """`value` when it matches `pattern`; None when absent or empty; else a UsageError."""
    if not value:
        return None
    if not pattern.match(value):
        raise UsageError(f"{name}: {value!r} is not valid (valid: {valid})")
    return value


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
