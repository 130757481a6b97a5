"""`grt doctor --probe`: create exactly one notebook on the cheapest CPU machine and record what the
platform does with it (docs/probe.md): the create answer for a command the size of ours, each
state seen and when, an unpaged list (count against total), how the log rows come back (longest
line kept, gaps, order, page size), stop on a stopped notebook, delete while stopping.

The notebook is created once, never twice: a create whose answer was lost is looked up by its
unique name, never sent again. It is ended in every case (success, failure, Ctrl-C, SIGTERM)
through the orchestrator's own ending path (`orchestrate.ending.Ender`: stop, then delete with
retries); it is named and tagged like a run's notebook, so `grt sweep` finds it after a SIGKILL,
and its command ends it by itself after the probe's longest possible life. The report holds no
secret: the key only travels in the SDK's header, and every text is scrubbed before it is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ProviderError, UsageError
from ..matrix.model import Catalogue, Machine, Runtime
from ..orchestrate.ending import cancel_on_signals
from ..providers import naming
from ..providers.base import Handle
from . import probe_plan, probe_report
from .doctor import key_refused

if TYPE_CHECKING:
    from ..providers.gradient import GradientProvider
    from ..providers.gradient_api import GradientApiError, NotebookInfo, RawLogRow

T = TypeVar("T")
LOG_WAIT_S = 120.0  # after Running, for the probe's lines to reach the logs API
STOP_WAIT_S = 120.0  # after a stop request, for the notebook to end
MAX_LOG_PAGES = 100  # a whole-log read stops after this many requests


@dataclasses.dataclass(frozen=True)
class ProbeOptions:
    out_path: Path
    create: bool  # --yes
    project_id: str | None
    cluster_id: str | None = None
    machines: tuple[str, ...] = ()  # --machine: choose among these CPU machines
    poll_s: float = 5.0
    startup_timeout_s: float = 900.0
    log_wait_s: float = LOG_WAIT_S
    stop_wait_s: float = STOP_WAIT_S
    secrets: tuple[str, ...] = dataclasses.field(default=(), repr=False)  # scrubbed from the report

    @property
    def lifetime_s(self) -> int:
        """The longest the notebook can live: start-up, logs, two stop waits and a minute."""
        return int(self.startup_timeout_s + self.log_wait_s + 2 * self.stop_wait_s + 60)


class Cancelled(Exception):
    """SIGINT or SIGTERM arrived: the probe stops where it is and ends its notebook."""


def our_command_size(runtime: Runtime, machine: Machine) -> int:
    """Characters of a real cell's notebook command for `runtime` on `machine` (at most grt's own
    cap: a run refuses a longer one before asking the platform)."""
    from ..command import MAX_COMMAND_CHARS, command_size

    return min(command_size(runtime, machine), MAX_COMMAND_CHARS)


def probe(
    provider: GradientProvider,
    catalogue: Catalogue,
    selected: Sequence[Runtime],
    options: ProbeOptions,
    *,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Print what the probe would create and cost; with `options.create`, create it, record, end
    it and write the report. Exit code: 0 the platform answered every step, 1 it did not (or
    something was left), 128 + the signal when interrupted."""
    from ..providers.gradient_api import AuthenticationError

    try:
        offered = provider.call(lambda: provider.api.machine_types(options.cluster_id))
    except AuthenticationError as error:
        raise key_refused(error) from None
    labels = [t.label for t in offered]
    machine = probe_plan.cheapest_cpu(catalogue, labels, options.machines)
    if machine is None:
        say(
            "No CPU machine of the matrices is offered to this team now (offered: "
            f"{', '.join(labels) or 'none'}): nothing to probe on."
        )
        return 1
    runtime = probe_plan.runtime_for(catalogue, machine, selected)
    if runtime is None:
        raise UsageError("--probe: the matrices hold no runtime (valid: at least one runtime file)")
    size = our_command_size(runtime, machine)
    command = probe_plan.probe_command(runtime.command, size=size, lifetime_s=options.lifetime_s)
    say(_plan_line(machine, runtime, len(command), options))
    if not options.create:
        say("Nothing was created: add --yes to create it.")
        return 0
    if not options.project_id:
        raise UsageError(
            "--project-id is not set (valid: a Gradient project id, or $PAPERSPACE_PROJECT_ID)"
        )
    probe_report.check_writable(options.out_path)
    run = Probe(provider, options, say=say, clock=clock)
    run.report.update(
        machine=machine.name,
        price_per_hour=machine.price_per_hour,
        runtime=runtime.name,
        container=runtime.container,
        estimated_cost_usd=_round(probe_plan.estimate(machine, options.lifetime_s)),
    )
    with cancel_on_signals(run.cancel) as received:
        try:
            run.run(_launch(machine, runtime, command, options), ours=size)
        finally:  # the report is written whatever happened, the notebook already ended
            if received:
                run.report["interrupted"] = signal.Signals(received[0]).name
            run.write()
    run.tell()
    return 128 + received[0] if received else probe_report.exit_code(run.report)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _plan_line(machine: Machine, runtime: Runtime, chars: int, options: ProbeOptions) -> str:
    minutes = options.lifetime_s / 60
    cost = probe_plan.estimate(machine, options.lifetime_s)
    price = (
        f"estimated at most ${cost:.2f} (${machine.price_per_hour:.2f}/h)"
        if cost is not None and machine.price_per_hour is not None
        else f"cost unknown ({machine.name} has no price_per_hour in machines.yaml)"
    )
    return (
        f"Probe: one notebook on {machine.name} (the cheapest CPU machine offered), image"
        f" {runtime.container}, a {chars:,}-character command, for at most {minutes:.0f} min:"
        f" {price}."
    )


@dataclasses.dataclass(frozen=True)
class _Launch:
    name: str
    machine: str
    container: str
    command: str
    tags: tuple[str, ...]
    project_id: str
    cluster_id: str | None


def _launch(machine: Machine, runtime: Runtime, command: str, options: ProbeOptions) -> _Launch:
    cell_id = naming.new_cell_id()
    return _Launch(
        name=naming.notebook_name("probe", machine.name, cell_id),
        machine=machine.name,
        container=runtime.container,
        command=command,
        tags=naming.tags(
            run_id=naming.new_run_id(), cell_id=cell_id, runtime_slug="probe", machine=machine.name
        ),
        project_id=options.project_id or "",
        cluster_id=options.cluster_id,
    )


class Probe:
    """One probe: its steps, the report they fill in, and the notebook it owns."""

    def __init__(
        self,
        provider: GradientProvider,
        options: ProbeOptions,
        *,
        say: Callable[[str], None],
        clock: Callable[[], float],
    ) -> None:
        self.provider = provider
        self.api = provider.api
        self.options = options
        self.say = say
        self.clock = clock
        self.cancel = threading.Event()
        self.t0 = clock()
        self.deleted = False
        self.report = probe_report.new()

    def at(self) -> float:
        return round(self.clock() - self.t0, 2)

    def wait(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise Cancelled

    def once(self, call: Callable[[], T]) -> tuple[T | None, GradientApiError | None]:
        """One request, no retry: its answer, or the error it got (recorded as it came)."""
        from ..providers.gradient_api import GradientApiError

        try:
            return call(), None
        except GradientApiError as error:
            return None, error

    def step(self, name: str, call: Callable[[], T]) -> T | None:
        """A step whose failure is recorded, not raised (the probe goes on to end its notebook)."""
        try:
            return call()
        except ProviderError as error:
            self.report["errors"].append({"step": name, "error": error.message})
            return None

    # --- the run ---------------------------------------------------------------------------------

    def run(self, launch: _Launch, *, ours: int) -> None:
        from ..providers.gradient_api import NotebookState

        def started(nb: NotebookInfo) -> bool:
            return nb.state is NotebookState.RUNNING or nb.state.ended

        try:
            handle = self.step("create", lambda: self.create(launch, ours=ours))
            if handle is None:
                return
            with self.owned(handle):
                timeout = self.options.startup_timeout_s
                last = self.step("start", lambda: self.follow(handle, started, timeout))
                self.step("list", self.list_unpaged)
                if last is not None and last.state is NotebookState.RUNNING:
                    self.step("logs", lambda: self.read_logs(handle, launch.command))
                elif last is not None:
                    why = "it ended" if last.state.ended else f"not Running after {timeout:g} s"
                    error = {"step": "start", "error": f"{why} ({last.raw_state})"}
                    self.report["errors"].append(error)
                self.step("stop", lambda: self.stop_and_delete(handle))
        except Cancelled:
            self.report["errors"].append({"step": "cancelled", "error": "interrupted by a signal"})
        finally:
            self.report["finished_at"] = probe_report.utc_now()

    def create(self, launch: _Launch, *, ours: int) -> Handle | None:
        started = self.clock()
        created, error = self.once(
            lambda: self.api.create(
                name=launch.name,
                machine_type=launch.machine,
                container=launch.container,
                project_id=launch.project_id,
                command=launch.command,
                cluster_id=launch.cluster_id,
                shutdown_timeout_hours=1,
                tags=launch.tags,
            )
        )
        record = {
            **probe_report.answer(error),
            "command_chars": len(launch.command),
            "ours_chars": ours,
            "seconds": round(self.clock() - started, 2),
            "adopted": False,
        }
        self.report["create"] = record
        notebook_id = created.id if created is not None else None
        if error is not None and error.maybe_applied:
            # The answer was lost: look the notebook up by its unique name, never create again.
            try:
                found = self.provider.call(
                    lambda: self.api.find_by_name(launch.name, launch.project_id)
                )
            except ProviderError as lookup:
                record["adopted"] = None  # it may exist: the summary says how to end it
                record["lookup_error"] = lookup.message
                return None
            notebook_id = found.id if found is not None else None
            record["adopted"] = found is not None
        if notebook_id is None:
            return None
        record["notebook_id"] = notebook_id
        return Handle(notebook_id=notebook_id, name=launch.name)

    @contextlib.contextmanager
    def owned(self, handle: Handle) -> Iterator[None]:
        """The notebook is ended when the block is left, however it is left (unless a step
        already deleted it): stop, then delete, each with retries (the orchestrator's path)."""
        try:
            yield
        finally:
            if not self.deleted:
                from ..orchestrate.ending import Ender

                settled = Ender(self.provider, self.clock).settle(handle, keep=False)
                self.deleted = settled.leftover is None
                self.report["cleanup"] = {"ended": self.deleted, "left": settled.leftover}
            self.report["ended"] = self.deleted

    def follow(
        self,
        handle: Handle,
        done: Callable[[NotebookInfo], bool],
        timeout_s: float,
        *,
        after_stop: bool = False,
    ) -> NotebookInfo | None:
        """Poll the notebook (one get each), recording each state change, until `done` or
        `timeout_s`; its last answer."""
        deadline = self.clock() + timeout_s
        info = None
        while True:
            info = self.provider.call(lambda: self.api.get(handle.notebook_id))
            self._seen(info, after_stop=after_stop)
            if done(info) or self.clock() >= deadline:
                return info
            self.wait(self.options.poll_s)

    def _seen(self, info: NotebookInfo, *, after_stop: bool) -> None:
        states = self.report["states"]
        raw = info.raw_state or ""
        if not states or states[-1]["state"] != raw:
            entry: dict[str, Any] = {"state": raw, "at_s": self.at()}
            if after_stop:
                entry["after_stop"] = True
            if info.job_error:
                entry["job_error"] = info.job_error
            states.append(entry)

    def list_unpaged(self) -> None:
        answer = self.provider.call(self.api.list_unpaged)
        count = len(answer.notebooks)
        self.report["list_unpaged"] = {
            "count": count,
            "total": answer.total,
            "running_total": answer.running_total,
            "capped": None if answer.total is None else count < answer.total,
        }

    def read_logs(self, handle: Handle, command: str) -> None:
        """Read the whole log until the probe's end line is in it (or the wait is over), then
        how one page of 100 and a read from line 200 come back."""
        deadline = self.clock() + self.options.log_wait_s
        started = self.at()
        while True:
            rows, pages = self.whole_log(handle)
            if any(r.message == f"{probe_plan.MARK}-END" for r in rows) or self.clock() >= deadline:
                break
            self.wait(self.options.poll_s)
        logs = probe_plan.analyse_logs(rows, pad_sent=probe_plan.pad_length(command))
        logs["end_seen_after_s"] = round(self.at() - started, 2) if logs["end_seen"] else None
        logs["pages_read"] = pages
        page = self.provider.call(lambda: self.api.log_rows(handle.notebook_id, 1, limit=100))
        logs["page"] = {"asked": 100, "got": len(page)}
        later = self.provider.call(lambda: self.api.log_rows(handle.notebook_id, 200, limit=50))
        lines = [r.line for r in later if r.line is not None]
        logs["from_line"] = {"asked": 200, "first": min(lines, default=None), "got": len(later)}
        self.report["logs"] = logs
        self.report["create"]["command_intact"] = logs["pad"]["command_intact"]

    def whole_log(self, handle: Handle) -> tuple[list[RawLogRow], int]:
        """Every row from line 1, page after page (an API may send fewer rows than asked), as the
        pages came; and how many requests that took."""
        rows: list[RawLogRow] = []
        start, pages = 1, 0
        while pages < MAX_LOG_PAGES:
            read = functools.partial(self.api.log_rows, handle.notebook_id, start)
            page = self.provider.call(read)
            pages += 1
            rows.extend(page)
            last = max((r.line for r in page if r.line is not None), default=None)
            if last is None or last < start:
                break
            start = last + 1
        return rows, pages

    def stop_and_delete(self, handle: Handle) -> None:
        """Stop; delete at once if it is still stopping; once stopped, stop again; delete."""
        _, error = self.once(lambda: self.api.stop(handle.notebook_id))
        self.report["stop"] = probe_report.answer(error)
        now = self.provider.call(lambda: self.api.get(handle.notebook_id))
        self._seen(now, after_stop=True)
        if now.state.ended:
            self.report["delete_while_stopping"] = {
                "tried": False,
                "why": f"it was already {now.raw_state} right after the stop request",
            }
        else:
            _, error = self.once(lambda: self.api.delete(handle.notebook_id))
            self.report["delete_while_stopping"] = {
                "tried": True,
                "state": now.raw_state,
                **probe_report.answer(error),
            }
            if error is None:
                self.deleted = True
                self.report["stop_stopped"] = {
                    "tried": False,
                    "why": "the delete while stopping was accepted",
                }
                return
            self.follow(
                handle, lambda nb: nb.state.ended, self.options.stop_wait_s, after_stop=True
            )
        rows = self.provider.call(lambda: self.api.log_rows(handle.notebook_id))
        self.report.setdefault("logs", {})["after_stop"] = {
            "rows": len(rows),
            "end_marker": any(r.message == probe_plan.END_OF_LOG for r in rows),
        }
        _, error = self.once(lambda: self.api.stop(handle.notebook_id))
        self.report["stop_stopped"] = {"tried": True, **probe_report.answer(error)}
        _, error = self.once(lambda: self.api.delete(handle.notebook_id))
        self.report["delete"] = probe_report.answer(error)
        self.deleted = error is None

    # --- the outcome -----------------------------------------------------------------------------

    def write(self) -> None:
        probe_report.write(self.options.out_path, self.report, secrets=self.options.secrets)

    def tell(self) -> None:
        for line in probe_report.summary_lines(self.report):
            self.say(line)
        self.say(f"Probe report: {self.options.out_path}")
