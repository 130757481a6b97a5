"""`grt run`: plan one runtime's cells, run them through a provider, write the output folder."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import signal
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

from .errors import UsageError
from .jobs import make_job
from .matrix import Catalogue, Runtime
from .matrix_load import load_catalogue
from .matrix_reader import suggest
from .orchestrate import Orchestrator, Outcome, options_for
from .outputs import write_cell_files, write_results
from .plan import plan
from .progress import make_progress
from .providers.base import Provider
from .results import CellResult, CellStatus, RunResult, exit_code
from .settings import RunSettings

CHECKS_MARGIN_S = (
    900  # generic checks, kernel start-ups and the bundle, on top of notebook timeouts
)


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    settings = RunSettings.from_args(args, env)
    catalogue = load_catalogue(settings.matrices)
    runtime = _runtime(catalogue, settings.runtime)
    cells = plan(catalogue, [runtime], settings.machines).cells
    workspace = settings.workspace or runtime.workspace
    ref = settings.workspace_ref or runtime.workspace_ref
    _check_provider_inputs(settings, runtime, workspace)
    provider = _make_provider(settings, catalogue)
    run_id = uuid.uuid4().hex[:10]
    jobs = [
        make_job(
            cell,
            provider=provider,
            run_id=run_id,
            keep=settings.keep,
            workspace=workspace,
            ref=ref,
            project_id=settings.paperspace.project_id,
            cluster_id=settings.cluster_id,
        )
        for cell in cells
    ]
    if settings.dry_run:
        requests = [job.launch.request() for job in jobs]
        headers = {
            "X-API-Key": "***" if settings.paperspace.api_key else "(PAPERSPACE_API_KEY is not set)"
        }
        print(
            json.dumps(
                {"provider": provider.name, "headers": headers, "creates": requests}, indent=2
            ),
            file=out,
        )
        provider.close()
        return 0
    try:
        _prepare_out(settings.out)
    except UsageError:
        provider.close()
        raise
    options = options_for(
        settings.poll_interval_s,
        max_parallel=settings.max_parallel or provider.default_max_parallel,
        keep=settings.keep,
        unavailable_delay_s=settings.unavailable_delay_s,
        startup_timeout_s=settings.startup_timeout_s,
    )
    cancel = threading.Event()
    started = _now()
    publishing = settings.in_actions or settings.comment or settings.check_run
    actions = live = None
    if publishing:
        from .publishing import live_updates, make_actions

        # The API key is not masked from here: `::add-mask::KEY` would print the key itself on
        # stderr, which may be saved to a file (`2> log`). The action masks it before grt starts,
        # and the runner masks every secret it passes.
        actions = make_actions(env)
        if settings.comment:
            live = live_updates(runtime.name, env, actions)

    def snapshot(cells: dict[str, CellResult]) -> RunResult:
        return RunResult(
            runtime=runtime.name,
            workspace_url=workspace,
            workspace_ref=ref,
            started_at=started,
            finished_at=_now(),
            cells=tuple(cells.values()),
            container=runtime.container,
            provider=provider.name,
        )

    board = {job.machine: CellResult(machine=job.machine, status=CellStatus.QUEUED) for job in jobs}
    if live is not None:
        live.start(snapshot(board))
    printer = make_progress(
        [job.machine for job in jobs], sys.stderr, in_actions=settings.in_actions
    )

    with _signals(cancel) as received:
        orchestrator = Orchestrator(provider, options, cancel=cancel)

        def progress(machine: str, status: CellStatus, detail: str) -> None:
            printer(machine, status, detail)
            done = orchestrator.outcome(machine)
            board[machine] = (
                done.result if done else CellResult(machine=machine, status=status, reason=detail)
            )
            if live is not None:
                live.update(snapshot(board))

        orchestrator.progress = progress
        try:
            outcomes = orchestrator.run(jobs)
        finally:
            printer.close()
            provider.close()
    result = snapshot({o.result.machine: o.result for o in outcomes})
    paths = _write(settings.out, result, outcomes)
    for left in orchestrator.leftovers:
        message = (
            f"notebook {left.notebook_id} ({left.machine}) {left.what}: "
            "`grt sweep` stops and deletes it"
        )
        if actions is not None and settings.in_actions:
            actions.warning(message)
        else:
            print(f"WARNING: {message}", file=sys.stderr)
    from .report.markdown import terminal_table

    if actions is not None and settings.in_actions:
        for outcome in outcomes:
            with actions.group(f"{outcome.result.machine}: {outcome.result.status.value} (log)"):
                for line in _visible(outcome.log)[-500:]:
                    actions.info(line)
    print(terminal_table(result), file=out)
    print(f"Results: {settings.out}/", file=out)
    if publishing:
        from .publishing import publish_runs

        publish_runs(
            [result],
            paths,
            env,
            comment=settings.comment,
            check_run=settings.check_run,
            actions=actions,
            live=live,
        )
    if received:
        return 128 + received[0]
    return exit_code([result], args.fail_on)


def _visible(log: Sequence[str]) -> list[str]:
    return [line for line in log if "GRT-BUNDLE" not in line]


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
        from .providers.gradient import GradientProvider

        return GradientProvider(
            settings.paperspace, dry_run=settings.dry_run, backoff_s=settings.retry_backoff_s
        )
    from .providers.local import LocalProvider

    return LocalProvider(base_env=settings.env, matrices_root=catalogue.root)


def _write(out: Path, result: RunResult, outcomes: Sequence[Outcome]) -> dict[str, Path]:
    paths = write_results(out, [result])
    for outcome in outcomes:
        write_cell_files(out, outcome.result.machine, outcome.log, outcome.notebooks)
    return paths


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


@contextlib.contextmanager
def _signals(cancel: threading.Event) -> Iterator[list[int]]:
    """SIGINT/SIGTERM set `cancel` (the orchestrator then stops every notebook); yields the
    signals received, so the exit code can be 130/143."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        cancel.set()

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
