"""`grt run`: plan one runtime's cells, run them through a provider, write the output folder."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..errors import UsageError
from ..harness.bundle import without_frames
from ..history.inputs import harness_version
from ..matrix.load import load_catalogue
from ..matrix.model import Catalogue, Runtime
from ..matrix.reader import suggest
from ..orchestrate import Job, Leftover, Orchestrator, Outcome, options_for
from ..orchestrate.ending import cancel_on_signals
from ..orchestrate.jobs import make_job
from ..plan import Cell, plan
from ..providers import naming
from ..providers.base import Launch, Provider
from ..report.html import Pages, with_pages
from ..report.outputs import Output
from ..report.progress import make_progress
from ..results import CellResult, CellStatus, RunResult, exit_code
from ..settings import KEEP, PROVIDERS, RunSettings
from . import ledger
from .arguments import add_fail_on, add_matrices, add_publishing

if TYPE_CHECKING:
    from ..github.actions import Actions
    from ..github.publishing import LiveUpdates
    from ..history.records import Cells

HELP = "run a runtime's cells and write the results folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_matrices(parser)
    parser.add_argument("--runtime", required=True, metavar="NAME")
    parser.add_argument("--machine", action="append", default=[], metavar="NAME", help="repeatable")
    parser.add_argument("--provider", choices=PROVIDERS, default="local")
    parser.add_argument(
        "--workspace", metavar="URL_OR_PATH", help="override the runtime's workspace"
    )
    parser.add_argument("--workspace-ref", metavar="REF", help="branch, tag or commit to test")
    parser.add_argument(
        "--project-id", metavar="ID", help="Gradient project (or $PAPERSPACE_PROJECT_ID)"
    )
    parser.add_argument("--cluster-id", metavar="ID")
    parser.add_argument("--max-parallel", type=int, metavar="N", help="notebooks running at once")
    parser.add_argument(
        "--keep", choices=KEEP, default="never", help="keep notebooks after the run"
    )
    parser.add_argument("--out", type=Path, default=Path("grt-results"), metavar="DIR")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the create requests and the size of their commands; create nothing",
    )
    parser.add_argument(
        "--harness-from",
        metavar="URL",
        help="notebooks download the harness from URL (the file `grt harness` writes) and check"
        " its sha256, instead of carrying it in their command",
    )
    ledger.add_cost_arguments(parser)
    ledger.add_history_argument(parser)
    parser.add_argument(
        "--reuse-passed",
        metavar="DURATION",
        help="with --history: report cells that passed on the same inputs within DURATION as passed, without running them",
    )
    add_publishing(parser)
    add_fail_on(parser)


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """One runtime's run, ready to go: nothing created yet."""

    settings: RunSettings
    runtime: Runtime
    workspace: str | None
    ref: str | None
    provider: Provider
    jobs: tuple[Job, ...]
    machines: tuple[str, ...]  # every planned cell's, in plan order
    origin: ledger.Origin
    ledger: ledger.Ledger


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    prepared = _prepare(RunSettings.from_args(args, env))
    for note in prepared.ledger.notes:
        print(f"WARNING: {note}", file=sys.stderr)
    for machine, cell in prepared.ledger.reused.items():
        if cell.reused_from is not None:
            print(
                f"{machine}: passed on the same inputs in run {cell.reused_from.run_id}"
                f" ({cell.reused_from.at}): not run again (--reuse-passed)",
                file=sys.stderr,
            )
    if prepared.settings.dry_run:
        _print_requests(prepared, out)
        return 0
    try:
        _prepare_out(prepared.settings.out)
    except UsageError:
        prepared.provider.close()
        raise
    publisher = _Publisher(prepared.settings, prepared.runtime.name, env, prepared.ledger.baseline)
    pages = Pages()
    pages.warm()  # nbconvert loads while the cells run
    done = _execute(prepared, publisher)
    output = Output(prepared.settings.out)
    result, paths = _write(output, done, pages, _injected(prepared.runtime))
    done = dataclasses.replace(done, result=result)
    if prepared.settings.history is not None:
        problem = ledger.record(
            prepared.settings.history, [done.result], event=prepared.origin.event
        )
        if problem:
            print(f"WARNING: {problem}", file=sys.stderr)
    _say_leftovers(done.leftovers, publisher.actions)
    _print_logs(done.outcomes, publisher.actions)
    from ..report.markdown import terminal_table

    print(terminal_table(done.result), file=out)
    print(f"Results: {prepared.settings.out}/", file=out)
    publisher.publish(done.result, paths)
    output.check()  # a file that could not be written: one line, exit 2, after all the rest
    if done.signals:
        return 128 + done.signals[0]
    return exit_code([done.result], args.fail_on)


def _prepare(settings: RunSettings) -> _Prepared:
    catalogue = load_catalogue(settings.matrices)
    runtime = _runtime(catalogue, settings.runtime)
    cells = plan(catalogue, [runtime], settings.machines).cells
    workspace = settings.workspace or runtime.workspace
    ref = settings.workspace_ref or runtime.workspace_ref
    _check_provider_inputs(settings, runtime, workspace)
    run_id = naming.new_run_id()
    origin = ledger.origin(settings.env, run_id)
    books = _open_ledger(
        settings, runtime, cells, workspace=workspace, ref=ref, origin=origin, root=catalogue.root
    )
    to_run = [c for c in cells if c.machine.name not in books.reused]
    ledger.check_budget(
        to_run,
        provider=settings.provider,
        expected_s=settings.expected_s,
        max_cost_usd=settings.max_cost_usd,
    )
    provider = _make_provider(settings, catalogue)
    jobs = tuple(
        make_job(
            cell,
            provider=provider,
            run_id=run_id,
            keep=settings.keep,
            workspace=workspace,
            ref=ref,
            project_id=settings.paperspace.project_id,
            cluster_id=settings.cluster_id,
            harness_from=settings.harness_from,
            price_per_hour=ledger.price(cell.machine, settings.provider),
            expected_s=settings.expected_s,
        )
        for cell in to_run
    )
    machines = tuple(c.machine.name for c in cells)
    return _Prepared(settings, runtime, workspace, ref, provider, jobs, machines, origin, books)


def _open_ledger(
    settings: RunSettings,
    runtime: Runtime,
    cells: Sequence[Cell],
    *,
    workspace: str | None,
    ref: str | None,
    origin: ledger.Origin,
    root: Path,
) -> ledger.Ledger:
    """With --history: the run's inputs pinned down, the cells a recent pass stands for, and
    the previous run. Nothing without it."""
    if settings.history is None:
        return ledger.Ledger()
    return ledger.open_ledger(
        settings.history,
        runtime,
        cells,
        workspace=workspace,
        ref=ref,
        provider=settings.provider,
        cluster_id=settings.cluster_id,
        run_id=origin.run_id,
        reuse_max_age_s=settings.reuse_max_age_s,
        env=settings.env,
        matrices_root=root,
        now=dt.datetime.now(dt.UTC),
    )


def _print_requests(prepared: _Prepared, out: TextIO) -> None:
    """`--dry-run`: the create requests, the API key redacted, and each command's size (the SDK
    sends it base64-encoded)."""
    api_key = prepared.settings.paperspace.api_key
    headers = {"X-API-Key": "***" if api_key else "(PAPERSPACE_API_KEY is not set)"}
    requests = [job.launch.request() for job in prepared.jobs]
    sizes = {
        job.machine: {"chars": len(job.launch.command), "base64_chars": _b64_len(job.launch)}
        for job in prepared.jobs
    }
    document = {
        "provider": prepared.provider.name,
        "headers": headers,
        "creates": requests,
        "command_sizes": sizes,
    }
    print(json.dumps(document, indent=2), file=out)
    for machine, size in sizes.items():
        print(
            f"{machine}: notebook command {size['chars']:,} characters"
            f" ({size['base64_chars']:,} base64-encoded, as sent)",
            file=sys.stderr,
        )
    prepared.provider.close()


def _b64_len(launch: Launch) -> int:
    return (len(launch.command.encode("utf-8")) + 2) // 3 * 4


class _Publisher:
    """Workflow commands, the live PR comment and the final publishing, when asked for."""

    def __init__(
        self,
        settings: RunSettings,
        runtime: str,
        env: Mapping[str, str],
        baseline: Cells | None = None,
    ) -> None:
        self.env = env
        self.settings = settings
        self.baselines = {runtime: baseline} if baseline is not None else {}
        self.actions: Actions | None = None
        self.live: LiveUpdates | None = None
        self.enabled = settings.in_actions or settings.comment or settings.check_run
        if self.enabled:
            from ..github.publishing import live_updates, make_actions

            # The API key is not masked here: `::add-mask::KEY` would print the key itself on
            # stderr, which may be saved to a file (`2> log`). The action masks it before grt
            # starts, and the runner masks every secret it passes.
            self.actions = make_actions(env)
            if settings.comment:
                self.live = live_updates(runtime, env, self.actions, baseline=baseline)

    def publish(self, result: RunResult, paths: Mapping[str, Path]) -> None:
        if not self.enabled:
            return
        from ..github.publishing import publish_runs

        publish_runs(
            [result],
            paths,
            self.env,
            comment=self.settings.comment,
            check_run=self.settings.check_run,
            actions=self.actions,
            live=self.live,
            baselines=self.baselines,
        )


class _Board:
    """Every cell's latest state, as the live comment shows it."""

    def __init__(self, prepared: _Prepared) -> None:
        self.prepared = prepared
        self.started = _now()
        self.jobs = {job.machine: job for job in prepared.jobs}
        reused = prepared.ledger.reused
        self.cells = {
            machine: reused.get(machine) or self.waiting(machine, CellStatus.QUEUED, "")
            for machine in prepared.machines
        }

    def waiting(self, machine: str, status: CellStatus, detail: str) -> CellResult:
        """A cell on its way, priced as its job is (so the live cost line counts it)."""
        job = self.jobs.get(machine)
        return CellResult(
            machine=machine,
            status=status,
            reason=detail,
            price_per_hour=job.price_per_hour if job else None,
            estimated_cost_usd=job.estimated_cost_usd if job else None,
        )

    def finish(self, outcomes: Sequence[Outcome]) -> RunResult:
        """The run: every planned cell in plan order, run or reused, with its input hash."""
        done = {o.result.machine: o.result for o in outcomes}
        hashes = self.prepared.ledger.hashes
        cells = [
            dataclasses.replace(cell, input_hash=hashes.get(machine, ""))
            for machine in self.prepared.machines
            if (cell := done.get(machine) or self.prepared.ledger.reused.get(machine))
        ]
        return self.snapshot(cells)

    def snapshot(self, cells: Sequence[CellResult] | None = None) -> RunResult:
        inputs = self.prepared.ledger.inputs
        return RunResult(
            runtime=self.prepared.runtime.name,
            workspace_url=self.prepared.workspace,
            workspace_ref=self.prepared.ref,
            started_at=self.started,
            finished_at=_now(),
            cells=tuple(self.cells.values()) if cells is None else tuple(cells),
            container=self.prepared.runtime.container,
            provider=self.prepared.provider.name,
            run_id=self.prepared.origin.run_id,
            run_url=self.prepared.origin.run_url,
            workspace_commit=inputs.commit if inputs else None,
            image_digest=inputs.image_digest if inputs else None,
            harness_version=inputs.harness_version if inputs else harness_version(),
            max_cost_usd=self.prepared.settings.max_cost_usd,
        )


@dataclasses.dataclass(frozen=True)
class _Done:
    result: RunResult
    outcomes: Sequence[Outcome]
    leftovers: Sequence[Leftover]
    signals: Sequence[int]  # SIGINT/SIGTERM received during the run


def _execute(prepared: _Prepared, publisher: _Publisher) -> _Done:
    """Run every job; every notebook created here is ended before this returns."""
    settings, provider = prepared.settings, prepared.provider
    options = options_for(
        settings.poll_interval_s,
        max_parallel=settings.max_parallel or provider.default_max_parallel,
        keep=settings.keep,
        unavailable_delay_s=settings.unavailable_delay_s,
        startup_timeout_s=settings.startup_timeout_s,
        max_cost_usd=settings.max_cost_usd,
        api_outage_s=settings.api_outage_s,
    )
    board = _Board(prepared)
    if publisher.live is not None:
        publisher.live.start(board.snapshot())
    printer = make_progress(
        [job.machine for job in prepared.jobs], sys.stderr, in_actions=settings.in_actions
    )
    cancel = threading.Event()
    with cancel_on_signals(cancel) as received:
        orchestrator = Orchestrator(provider, options, cancel=cancel)

        def progress(machine: str, status: CellStatus, detail: str) -> None:
            printer(machine, status, detail)
            done = orchestrator.outcome(machine)
            board.cells[machine] = done.result if done else board.waiting(machine, status, detail)
            if publisher.live is not None:
                publisher.live.update(board.snapshot())

        orchestrator.progress = progress
        try:
            outcomes = orchestrator.run(prepared.jobs)
        finally:
            printer.close()
            provider.close()
    return _Done(board.finish(outcomes), outcomes, orchestrator.leftovers, received)


def _say_leftovers(leftovers: Sequence[Leftover], actions: Actions | None) -> None:
    for left in leftovers:
        if actions is not None and actions.in_actions:
            actions.warning(left.message)
        else:
            print(f"WARNING: {left.message}", file=sys.stderr)


def _print_logs(outcomes: Sequence[Outcome], actions: Actions | None) -> None:
    """In Actions: each cell's log (its last 500 lines) in a collapsed group."""
    if actions is None or not actions.in_actions:
        return
    for outcome in outcomes:
        with actions.group(f"{outcome.result.machine}: {outcome.result.status.value} (log)"):
            for line in without_frames(outcome.log)[-500:]:
                actions.info(line)


def _runtime(catalogue: Catalogue, name: str) -> Runtime:
    try:
        return catalogue.runtime(name)
    except KeyError:
        raise UsageError(
            f"--runtime: {suggest('runtime', name, [r.name for r in catalogue.runtimes])}"
        ) from None


def _check_provider_inputs(settings: RunSettings, runtime: Runtime, workspace: str | None) -> None:
    if settings.provider != "gradient":
        return
    if workspace and not workspace.startswith(("https://", "http://")):
        raise UsageError(
            f"workspace {workspace!r}: the gradient provider clones a git URL (valid: https://...; pass --workspace URL)"
        )
    if runtime.cluster_required and not (settings.cluster_id or runtime.cluster_id):
        raise UsageError(
            f"runtime {runtime.name!r} needs a cluster on its machines (valid: pass --cluster-id ID)"
        )
    if settings.dry_run:
        return
    if not settings.paperspace.api_key:
        raise UsageError("PAPERSPACE_API_KEY is not set (valid: an API key of the Gradient team)")
    if not settings.paperspace.project_id:
        raise UsageError(
            "--project-id is not set (valid: a Gradient project id, or $PAPERSPACE_PROJECT_ID)"
        )


def _make_provider(settings: RunSettings, catalogue: Catalogue) -> Provider:
    if settings.provider == "gradient":
        from ..providers.gradient import GradientProvider
        from ..providers.retrying import RetryPolicy

        retry = RetryPolicy(
            backoff_s=settings.retry_backoff_s,
            retry_after_max_s=settings.retry_after_max_s,
            # a call stops retrying a silent API well before the run gives up on it
            budget_s=min(60.0, settings.api_outage_s / 2),
        )
        return GradientProvider(
            settings.paperspace,
            dry_run=settings.dry_run,
            retry=retry,
            poll_interval_s=min(1.0, settings.poll_interval_s),  # how a stopping one is watched
        )
    from ..providers.local import LocalProvider

    return LocalProvider(base_env=settings.env, matrices_root=catalogue.root)


def _write(
    output: Output, done: _Done, pages: Pages, injected: Collection[str]
) -> tuple[RunResult, dict[str, Path]]:
    """The output folder: each executed notebook and its HTML page (failing tests point at it),
    the logs, then results.json, junit.xml and summary.md. A page that cannot be made is a
    warning: the verdicts stand."""
    written = {}
    for outcome in done.outcomes:
        machine = outcome.result.machine
        output.cell_files(machine, outcome.log, outcome.notebooks)
        written[machine], problems = pages.write(
            output.root,
            machine,
            outcome.notebooks,
            outcome.result.tests,
            title=done.result.runtime,
            injected=injected,
        )
        for problem in problems:
            print(f"WARNING: {problem}", file=sys.stderr)
    result = with_pages(done.result, written)
    return result, output.results([result])


def _injected(runtime: Runtime) -> frozenset[str]:
    """Notebooks the harness injects a parameters cell into (those with parameters)."""
    return frozenset(entry.path for entry in runtime.notebooks if entry.parameters)


def _prepare_out(out: Path) -> None:
    """The output folder, made before anything is created: results must have somewhere to go."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".grt-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"--out: {str(out)!r} cannot hold the results ({exc.strerror or exc})"
            " (valid: a folder this user can write)"
        ) from None


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
