"""`grt doctor`: before a run pays for anything, ask the Gradient API whether it would trip (the
key, the project, the machines, the running limit, leftovers, latency), creating nothing.

`grt doctor --probe` creates exactly one notebook on the cheapest CPU machine and records how the
platform behaves (docs/probe.md); without `--yes` it only says what it would do and cost."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..errors import UsageError
from ..matrix.model import CLUSTER
from .arguments import add_matrices

if TYPE_CHECKING:
    from ..preflight.doctor import Diagnosis
    from ..providers.gradient import GradientProvider
    from ..settings import PaperspaceSettings

HELP = "check, before paying, that a run would not trip (key, project, machines, limits, leftovers)"
DEFAULT_PROBE_OUT = Path("grt-probe.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_matrices(parser)
    parser.add_argument("--runtime", action="append", default=[], metavar="NAME", help="repeatable")
    parser.add_argument("--machine", action="append", default=[], metavar="NAME", help="repeatable")
    parser.add_argument("--project-id", metavar="ID", help="default: $PAPERSPACE_PROJECT_ID")
    parser.add_argument("--cluster-id", metavar="ID", help="the cluster a run would use")
    parser.add_argument(
        "--running-limit",
        metavar="N",
        help="the team plan's running-notebook limit, e.g. 1 or 10 (default: $GRT_RUNNING_LIMIT)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="create ONE notebook on the cheapest CPU machine and record how the platform behaves",
    )
    parser.add_argument("--yes", action="store_true", help="with --probe: create it (it costs)")
    parser.add_argument(
        "--probe-out",
        type=Path,
        metavar="FILE",
        help=f"where --probe writes its report (default: {DEFAULT_PROBE_OUT})",
    )


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from .. import plan as planning
    from ..matrix.load import load_catalogue
    from ..preflight.doctor import Target, diagnose
    from ..settings import matrices_dir, paperspace_settings

    limit = _running_limit(args.running_limit, env)
    cluster = _cluster(args.cluster_id)
    if args.probe_out is not None and not args.probe:
        raise UsageError("--probe-out: only --probe writes a report (valid: add --probe)")
    if args.yes and not args.probe:
        raise UsageError("--yes: only --probe creates anything (valid: add --probe)")
    settings = paperspace_settings(env, project_id=args.project_id)
    catalogue = load_catalogue(matrices_dir(args.matrices, env))
    runtimes = planning.select_runtimes(catalogue, names=args.runtime)
    target = Target(planning.plan(catalogue, runtimes, args.machine).cells, cluster_id=cluster)
    if not settings.api_key:
        raise UsageError("PAPERSPACE_API_KEY is not set (valid: an API key of the Gradient team)")
    provider = _provider(settings, env)
    if args.probe:
        from ..preflight.probe import ProbeOptions, probe
        from ..settings import probe_pacing

        poll_s, startup_s = probe_pacing(env)
        options = ProbeOptions(
            out_path=args.probe_out or DEFAULT_PROBE_OUT,
            create=args.yes,
            project_id=settings.project_id,
            cluster_id=cluster,
            machines=tuple(args.machine),
            poll_s=poll_s,
            startup_timeout_s=startup_s,
            secrets=(settings.api_key,),
        )
        selected = runtimes if args.runtime else ()
        return probe(provider, catalogue, selected, options, say=lambda s: print(s, file=out))
    diagnosis = diagnose(provider, target, project_id=settings.project_id, running_limit=limit)
    return _show(diagnosis, args.format, env, out)


def _running_limit(flag: str | None, env: Mapping[str, str]) -> int | None:
    name, raw = ("--running-limit", flag) if flag is not None else ("GRT_RUNNING_LIMIT", None)
    if raw is None:
        raw = env.get("GRT_RUNNING_LIMIT") or None
    if raw is None:
        return None
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 1000:
        raise UsageError(f"{name}: {raw!r} is not valid (valid: a number of notebooks, 1 to 1000)")
    return int(raw)


def _cluster(value: str | None) -> str | None:
    if value and not CLUSTER.match(value):
        raise UsageError(
            f"--cluster-id: {value!r} is not valid (valid: a cluster id like clg07azjl)"
        )
    return value or None


def _provider(settings: PaperspaceSettings, env: Mapping[str, str]) -> GradientProvider:
    from ..providers.gradient import GradientProvider
    from ..providers.retrying import RetryPolicy
    from ..settings import retry_backoff

    # Fewer tries than a run: an API that does not answer is itself the finding.
    retry = RetryPolicy(attempts=3, backoff_s=retry_backoff(env), budget_s=30.0)
    return GradientProvider(settings, retry=retry, poll_interval_s=1.0)


def _show(diagnosis: Diagnosis, fmt: str, env: Mapping[str, str], out: TextIO) -> int:
    from ..github.actions import Actions
    from ..preflight import findings as shown

    found = diagnosis.findings
    if fmt == "json":
        print(json.dumps(shown.to_json(found, dict(diagnosis.data)), indent=2), file=out)
        actions = Actions(sys.stderr, env)
        if actions.in_actions:
            shown.annotate(found, actions)
        return shown.exit_code(found)
    actions = Actions(out, env)
    if actions.in_actions:
        shown.annotate(found, actions)
        actions.append_summary(f"### grt doctor\n\n```text\n{shown.render_table(found)}\n```\n")
    else:
        print(shown.render_table(found), file=out)
        print("", file=out)
    actions.info(shown.summary(found))
    actions.info(
        "The notebooks and images a run would use: grt plan --check-sources."
        " How the platform itself behaves: grt doctor --probe (creates one notebook)."
    )
    return shown.exit_code(found)
