"""`grt doctor`: ask the Gradient API whether a run would trip, creating nothing.

One paged notebook list proves the key (and answers the running count and the leftovers), one
project lookup, one machine types list per cluster a run would use. Every call goes through the
provider's timeouts and retries and is timed (the latency finding). A key the API refuses is bad
input (exit 2, one line, the key never echoed); any other answer is a finding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ProviderError, UsageError
from ..plan import Cell
from ..providers import naming
from .findings import Finding, Level

if TYPE_CHECKING:
    from ..providers.gradient import GradientProvider
    from ..providers.gradient_api import NotebookInfo

T = TypeVar("T")
SLOW_S = 5.0  # an answer slower than a run's poll interval (5 s) is worth a warning


@dataclasses.dataclass(frozen=True)
class Target:
    """What a run would use: the planned cells, and `--cluster-id` (else each runtime's own)."""

    cells: tuple[Cell, ...]
    cluster_id: str | None = None

    def cluster(self, cell: Cell) -> str | None:
        return self.cluster_id or cell.runtime.cluster_id


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...]
    data: Mapping[str, Any]  # what the JSON format adds to the findings


class Timer:
    """Provider calls with retries, each one timed under a name."""

    def __init__(self, provider: GradientProvider, clock: Callable[[], float]) -> None:
        self.provider = provider
        self.clock = clock
        self.latencies: dict[str, float] = {}

    def call(self, name: str, call: Callable[[], T]) -> T:
        started = self.clock()
        try:
            return self.provider.call(call)
        finally:
            self.latencies[name] = self.clock() - started


def platform_words(error: ProviderError) -> str:
    """The platform's own words in an API error: without our operation and the SDK's prefix."""
    operation = getattr(error, "operation", "")
    text = error.message.removeprefix(f"{operation}: ") if operation else error.message
    for prefix in _SDK_PREFIXES:
        if text.startswith(prefix):
            return text.removeprefix(prefix).removeprefix(": ")
    return text


_SDK_PREFIXES = (
    "Failed to create resource",
    "Failed to fetch data",
    "Unable to stop instance",
    "Failed to delete resource",
)


def key_refused(error: ProviderError) -> UsageError:
    """The one line for a key the API refused: its words, never the key."""
    words = platform_words(error)
    return UsageError(
        f"PAPERSPACE_API_KEY: the Gradient API refused the key ({words})"
        " (valid: an API key of the Gradient team, as the console shows it)"
    )


def diagnose(
    provider: GradientProvider,
    target: Target,
    *,
    project_id: str | None,
    running_limit: int | None,
    clock: Callable[[], float] = time.monotonic,
    now: dt.datetime | None = None,
) -> Diagnosis:
    from ..providers.gradient_api import AuthenticationError

    timer = Timer(provider, clock)
    try:
        notebooks = timer.call("list notebooks", provider.api.list_all)
    except AuthenticationError as error:
        raise key_refused(error) from None
    except ProviderError as error:
        lost = Finding("api key", Level.ERROR, f"the Gradient API did not answer: {error.message}")
        return Diagnosis((lost,), {"latency_ms": _ms(timer.latencies)})
    findings = [Finding("api key", Level.OK, f"accepted ({_count(len(notebooks))} visible)")]
    project, found = _project(timer, project_id)
    machines, offered = _machines(timer, target)
    running = _running(notebooks, running_limit, len(target.cells))
    leftovers = _leftovers(notebooks, now or dt.datetime.now(dt.UTC))
    findings += [project, *machines, running, *leftovers, _latency(timer.latencies)]
    planned = sorted({c.machine.name for c in target.cells})
    data = {
        "project": found,
        "machines": {
            "planned": planned,
            "offered": offered,
            "missing": sorted({f.subject for f in machines if f.subject}),
        },
        "running": {"count": _active(notebooks), "limit": running_limit},
        "leftovers": [
            {"id": nb.id, "name": nb.name, "state": nb.raw_state, "run": _run_of(nb)}
            for nb in notebooks
            if _ours(nb)
        ],
        "latency_ms": _ms(timer.latencies),
    }
    return Diagnosis(tuple(findings), data)


def _count(n: int) -> str:
    return f"{n} notebook{'s' if n != 1 else ''}"


def _ms(latencies: Mapping[str, float]) -> dict[str, float]:
    return {name: round(seconds * 1000, 1) for name, seconds in latencies.items()}


# --- the project ---------------------------------------------------------------------------------


def _project(timer: Timer, project_id: str | None) -> tuple[Finding, dict[str, Any] | None]:
    from ..providers.gradient_api import NotFoundError

    if not project_id:
        return Finding(
            "project",
            Level.ERROR,
            "no project: a run needs one (pass --project-id ID or set PAPERSPACE_PROJECT_ID)",
        ), None
    try:
        project = timer.call("get project", lambda: timer.provider.api.project(project_id))
    except NotFoundError:
        return Finding(
            "project",
            Level.ERROR,
            f"{project_id}: this key's team has no such project (notebooks could not be created"
            " in it)",
            subject=project_id,
        ), None
    except ProviderError as error:
        return Finding(
            "project", Level.ERROR, f"{project_id}: could not be looked up: {error}"
        ), None
    name = f" ({project.name})" if project.name else ""
    return Finding("project", Level.OK, f"{project.id}{name} answers"), {
        "id": project.id,
        "name": project.name,
    }


# --- machines ------------------------------------------------------------------------------------


def _machines(timer: Timer, target: Target) -> tuple[list[Finding], list[str]]:
    """One finding per planned machine that is not offered and available now (in the cluster
    the run would use), or one that says they all are; and every label the API offered."""
    if not target.cells:
        return [Finding("machines", Level.OK, "no cells planned: nothing to look up")], []
    api = timer.provider.api
    findings: list[Finding] = []
    offered: set[str] = set()
    users: dict[tuple[str, str | None], list[str]] = {}
    for cell in target.cells:
        cluster = target.cluster(cell)
        if cell.runtime.cluster_required and not cluster:
            findings.append(
                Finding(
                    "machines",
                    Level.ERROR,
                    f"runtime {cell.runtime.name!r} needs a cluster on its machines (pass"
                    " --cluster-id ID)",
                    subject=cell.machine.name,
                )
            )
        users.setdefault((cell.machine.name, cluster), []).append(cell.runtime.name)
    by_cluster: dict[str | None, set[str]] = {}
    for cluster in sorted({c for _, c in users}, key=lambda c: c or ""):
        try:
            types = timer.call("list machine types", functools.partial(api.machine_types, cluster))
        except ProviderError as error:
            findings.append(Finding("machines", Level.ERROR, f"could not be listed: {error}"))
            return findings, sorted(offered)
        by_cluster[cluster] = {t.label for t in types}
        offered |= by_cluster[cluster]
    missing = [(m, c) for (m, c) in users if m not in by_cluster[c]]
    for machine, cluster in sorted(missing, key=lambda mc: (mc[0], mc[1] or "")):
        where = f" in cluster {cluster}" if cluster else ""
        findings.append(
            Finding(
                "machines",
                Level.ERROR,
                f"{machine}: not offered to this team, or not available now{where} (used by"
                f" {', '.join(sorted(set(users[machine, cluster])))})",
                subject=machine,
            )
        )
    available = sorted({m for (m, c) in users if m in by_cluster[c]})
    if available:
        findings.append(
            Finding(
                "machines",
                Level.OK,
                f"{len(available)} of {len({m for m, _ in users})} planned machines offered and"
                f" available now: {', '.join(available)}",
            )
        )
    return findings, sorted(offered)


# --- running notebooks and leftovers -------------------------------------------------------------


def _active(notebooks: Sequence[NotebookInfo]) -> int:
    return sum(not nb.state.ended for nb in notebooks)  # starting, running, stopping, unknown


def _running(notebooks: Sequence[NotebookInfo], limit: int | None, cells: int) -> Finding:
    running = _active(notebooks)
    now = f"{_count(running)} running now"
    if limit is None:
        return Finding(
            "running",
            Level.OK,
            f"{now} (the team plan's limit is not known here: pass --running-limit N, e.g. 1 or"
            " 10, to check it)",
        )
    if running >= limit:
        return Finding(
            "running",
            Level.ERROR,
            f"{now}, the plan's limit is {limit}: a run would wait until one of them ends",
        )
    room = limit - running
    queue = f"; its {cells} cells would take turns" if cells > room else ""
    return Finding(
        "running", Level.OK, f"{now}, the plan's limit is {limit}: room for {room} more{queue}"
    )


def _ours(nb: NotebookInfo) -> bool:
    return naming.TAG in nb.tags or naming.is_ours(nb.name)


def _run_of(nb: NotebookInfo) -> str | None:
    tag = naming.run_tag(nb.tags)
    return tag.removeprefix(naming.RUN_TAG_PREFIX) if tag else None


def _leftovers(notebooks: Sequence[NotebookInfo], now: dt.datetime) -> list[Finding]:
    """One finding per run that left notebooks (error while any is up, warning when all have
    stopped), with the `grt sweep` line that ends them."""
    runs: dict[str | None, list[NotebookInfo]] = {}
    for nb in notebooks:
        if _ours(nb):
            runs.setdefault(_run_of(nb), []).append(nb)
    if not runs:
        return [Finding("leftovers", Level.OK, "no grt notebook left behind")]
    findings = []
    for run, left in sorted(runs.items(), key=lambda item: item[0] or ""):
        up = sum(not nb.state.ended for nb in left)
        states = ", ".join(sorted({nb.raw_state or nb.state.value for nb in left}))
        if run is not None:
            whose, sweep = f"of run {run}", f"grt sweep --run {run}"
        else:
            whose, sweep = "without a run tag", f"grt sweep --older-than {_youngest(left, now)}"
        findings.append(
            Finding(
                "leftovers",
                Level.ERROR if up else Level.WARNING,
                f"{_count(len(left))} {whose} ({states}); unless that run is still going, end"
                f" them with `{sweep}`",
                subject=run or "",
            )
        )
    return findings


def _youngest(notebooks: Sequence[NotebookInfo], now: dt.datetime) -> str:
    ages = [(now - nb.created_at).total_seconds() for nb in notebooks if nb.created_at]
    if len(ages) < len(notebooks) or min(ages) < 60:
        return "0s"
    return f"{int(min(ages) // 60)}m"


def _latency(latencies: Mapping[str, float]) -> Finding:
    parts = ", ".join(f"{name} {s * 1000:.0f} ms" for name, s in latencies.items())
    slowest = max(latencies.values(), default=0.0)
    if slowest >= SLOW_S:
        return Finding(
            "latency",
            Level.WARNING,
            f"slow answers ({parts}): a run polls every 5 s and waits at most 30 s for an answer",
        )
    return Finding("latency", Level.OK, parts)
