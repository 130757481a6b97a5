"""The orchestrator: launches cells through a provider, collects their bundles, ends notebooks.

Side effects come in as parameters: the provider, the clock, the cancel event and the progress
callback. Every notebook created here is stopped before `run` returns (unless the keep policy says
otherwise), on success, failure, timeout and cancellation alike.

Costs: one status request per poll whatever the number of live notebooks. A notebook's logs are
read when it ends (the harness ends its own notebook once its bundle is out), and while it runs
only now and then, as a safety net, unless the keep policy may keep it running. Creates, log reads
and the stop/metrics/delete of finished cells go out concurrently, and a slot freed by a cell is
refilled in the same poll.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import ProviderError
from .harness import bundle as bundle_codec
from .harness.protocol import Keep, keeps
from .providers.base import (
    CapacityError,
    Handle,
    Launch,
    NotebookState,
    Provider,
    RunningLimitError,
)
from .results import CellResult, CellStatus, TestResult, TestStatus, apply_expected_failures

LOG_TAIL_LINES = 30


@dataclasses.dataclass(frozen=True)
class Options:
    max_parallel: int = 1
    keep: Keep = Keep.NEVER
    poll_interval_s: float = 5.0
    log_interval_s: float = 15.0  # logs of a running notebook are read at most this often...
    # ...or this often when the harness ends the notebook itself (keep never): its logs are read
    # as it ends, so reading them while it runs is only a safety net. None: as log_interval_s.
    unattended_log_interval_s: float | None = None
    startup_timeout_s: float = 15 * 60
    unavailable_retries: int = 2
    unavailable_delay_s: float = 120.0
    running_limit_delay_s: float = 30.0
    stop_timeout_s: float = 3.0  # all stop requests on cancel are sent within this
    # An ended notebook whose logs cannot be read is kept (not deleted: its logs hold the
    # result) and asked again at each poll for this long before the cell is an error.
    log_retry_s: float = 120.0


def options_for(
    poll_interval_s: float,
    *,
    max_parallel: int,
    keep: Keep = Keep.NEVER,
    startup_timeout_s: float = 15 * 60,
    unavailable_delay_s: float = 120.0,
) -> Options:
    """The options `grt run` uses: every interval scales with the poll interval."""
    return Options(
        max_parallel=max_parallel,
        keep=keep,
        poll_interval_s=poll_interval_s,
        # Logs of a running notebook: every third poll at most (two requests each on Gradient),
        # or every twelfth when the harness ends the notebook itself (a safety net).
        log_interval_s=min(15.0, 3 * poll_interval_s),
        unattended_log_interval_s=min(60.0, 12 * poll_interval_s),
        unavailable_delay_s=unavailable_delay_s,
        # A full running-notebook limit frees up when a notebook ends: check again every few polls.
        running_limit_delay_s=min(30.0, 6 * poll_interval_s),
        startup_timeout_s=startup_timeout_s,
        # An ended notebook whose logs cannot be read yet is asked again for twelve polls.
        log_retry_s=min(120.0, 12 * poll_interval_s),
    )


@dataclasses.dataclass(frozen=True)
class Job:
    """One cell to run: what to create and how to judge it."""

    machine: str
    launch: Launch
    bundle_id: str
    run_timeout_s: float  # from Running to a complete bundle
    expected_failures: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A finished cell: its result plus what is written beside it."""

    result: CellResult
    log: tuple[str, ...] = ()
    notebooks: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Live:
    job: Job
    handle: Handle
    created_at: float
    state: NotebookState = NotebookState.STARTING
    running_since: float | None = None
    last_log_read: float = float("-inf")
    log: list[str] = dataclasses.field(default_factory=list)
    log_error: str | None = None  # why the last log read failed
    log_failing_since: float | None = None  # when reading the logs of the ended notebook failed


@dataclasses.dataclass
class _Settling:
    """A finished cell whose notebook is being stopped, measured and deleted in the background."""

    cell: _Live
    status: CellStatus
    reason: str
    fields: dict[str, Any]
    finished_at: float
    future: concurrent.futures.Future[_Settled]
    active: bool  # its notebook may still be running: it holds a slot until stopped


@dataclasses.dataclass(frozen=True)
class _Settled:
    metrics: dict[str, Any]
    stopped_at: float
    leftover: str | None  # what is left of the notebook, if it could not be deleted


@dataclasses.dataclass(frozen=True)
class Leftover:
    """A notebook that could not be stopped or deleted: `grt sweep` ends it."""

    machine: str
    notebook_id: str
    what: str  # "may still be running" | "was stopped but not deleted"

    @property
    def message(self) -> str:
        return f"notebook {self.notebook_id} ({self.machine}) {self.what}: `grt sweep` stops and deletes it"


Progress = Callable[[str, CellStatus, str], None]
IO_WORKERS = 16  # concurrent provider calls (creates, log reads, stops and deletes)
_ENDED = (NotebookState.STOPPED, NotebookState.FAILED, NotebookState.GONE)


def _no_progress(machine: str, status: CellStatus, detail: str) -> None:
    pass


class Orchestrator:
    def __init__(
        self,
        provider: Provider,
        options: Options,
        *,
        clock: Callable[[], float] = time.monotonic,
        cancel: threading.Event | None = None,
        progress: Progress = _no_progress,
    ) -> None:
        self.provider = provider
        self.options = options
        self.clock = clock
        self.cancel = cancel or threading.Event()
        self.progress = progress
        self._live: dict[str, _Live] = {}  # by machine
        self._settling: dict[str, _Settling] = {}  # by machine
        self._done: dict[str, Outcome] = {}
        self.leftovers: list[Leftover] = []
        self._io: concurrent.futures.ThreadPoolExecutor | None = None

    def outcome(self, machine: str) -> Outcome | None:
        """The finished cell on `machine`, if it has finished."""
        return self._done.get(machine)

    # --- the loop -------------------------------------------------------------------------------

    def run(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Run every job; return one outcome per job, in the jobs' order."""
        queue: collections.deque[tuple[Job, int, float]] = collections.deque(
            (j, 0, 0.0) for j in jobs
        )
        for job in jobs:
            self.progress(job.machine, CellStatus.QUEUED, "")
        blocked_until = 0.0
        self._io = concurrent.futures.ThreadPoolExecutor(
            max_workers=IO_WORKERS, thread_name_prefix="grt-io"
        )
        try:
            while (queue or self._live or self._settling) and not self.cancel.is_set():
                blocked_until = self._launch(queue, blocked_until)
                if self._live:
                    self._poll()
                self._reap()
                if not self.cancel.is_set():
                    blocked_until = self._launch(queue, blocked_until)  # refill freed slots now
                if (queue or self._live or self._settling) and not self.cancel.is_set():
                    self._wait()
        finally:
            self._end_everything(queue)
            self._io.shutdown(wait=False)
        return [self._done[j.machine] for j in jobs]

    def _wait(self) -> None:
        settling = [s.future for s in self._settling.values()]
        if self._live or not settling:
            self.cancel.wait(self.options.poll_interval_s)
        else:  # only stops and deletes in flight: go on as soon as one is done
            concurrent.futures.wait(
                settling,
                timeout=self.options.poll_interval_s,
                return_when=concurrent.futures.FIRST_COMPLETED,
            )

    def _busy(self) -> int:
        """Slots in use: live cells, and finished ones whose notebook may still be running."""
        return len(self._live) + sum(s.active for s in self._settling.values())

    def _map(self, call: Callable[[Any], Any], items: Sequence[Any]) -> list[tuple[Any, Any]]:
        """`call(item)` for each item, concurrently; (result, None) or (None, exception) each."""

        def guarded(item: Any) -> tuple[Any, Any]:
            try:
                return call(item), None
            except Exception as exc:
                return None, exc

        if len(items) <= 1 or self._io is None:
            return [guarded(item) for item in items]
        return list(self._io.map(guarded, items))

    def _launch(
        self, queue: collections.deque[tuple[Job, int, float]], blocked_until: float
    ) -> float:
        now = self.clock()
        if now < blocked_until:
            return blocked_until
        batch: list[tuple[Job, int, float]] = []
        deferred = []
        free = self.options.max_parallel - self._busy()
        while queue and len(batch) < free:
            job, attempts, not_before = queue.popleft()
            if now < not_before:
                deferred.append((job, attempts, not_before))
                continue
            batch.append((job, attempts, not_before))
        for job, _, _ in batch:
            self.progress(job.machine, CellStatus.STARTING, "creating notebook")
        created = self._map(lambda item: self.provider.create(item[0].launch), batch)
        limited = []
        for (job, attempts, not_before), (handle, error) in zip(batch, created, strict=True):
            if error is None:
                self._live[job.machine] = _Live(job=job, handle=handle, created_at=self.clock())
            elif isinstance(error, RunningLimitError):
                limited.append((job, attempts, not_before))
                self.progress(job.machine, CellStatus.QUEUED, f"waiting: {error.message}")
            elif isinstance(error, CapacityError):
                if attempts < self.options.unavailable_retries:
                    deferred.append((job, attempts + 1, now + self.options.unavailable_delay_s))
                    self.progress(
                        job.machine, CellStatus.QUEUED, f"retrying later: {error.message}"
                    )
                else:
                    self._finish_without_notebook(job, CellStatus.UNAVAILABLE, error.message)
            elif isinstance(error, ProviderError):
                self._finish_without_notebook(
                    job, CellStatus.ERROR, f"create failed: {error.message}"
                )
            else:
                raise error
        if limited:
            queue.extendleft(reversed(limited))
            blocked_until = now + self.options.running_limit_delay_s
        queue.extend(deferred)
        return blocked_until

    def _log_interval(self) -> float:
        unattended = self.options.unattended_log_interval_s
        if self.options.keep == Keep.NEVER and unattended is not None:
            return unattended
        return self.options.log_interval_s

    def _poll(self) -> None:
        live = list(self._live.values())
        try:
            states = self.provider.states([cell.handle for cell in live])
        except ProviderError:
            now = self.clock()  # transient: the next poll asks again; timeouts still apply
            for cell in live:
                self._check_timeouts(cell, now)
            return
        now = self.clock()
        due = []
        for cell in live:
            state = states.get(cell.handle.notebook_id, NotebookState.GONE)
            if state == NotebookState.RUNNING and cell.running_since is None:
                cell.running_since = now
                cell.last_log_read = now  # nothing worth reading yet: first read an interval on
                self.progress(cell.job.machine, CellStatus.RUNNING, "")
            cell.state = state
            running_due = now - cell.last_log_read >= self._log_interval()
            if state in _ENDED or (state == NotebookState.RUNNING and running_due):
                due.append(cell)
        self._read_logs(due, now)
        for cell in live:
            if cell in due and self._collect(cell):
                continue
            if cell.state not in _ENDED:
                self._check_timeouts(cell, now)
                continue
            if cell.log_error is not None:
                if cell.log_failing_since is None:
                    cell.log_failing_since = now
                if now - cell.log_failing_since < self.options.log_retry_s:
                    continue  # its logs may still hold the result: ask again next poll
            state = cell.state
            what = "ended in Error" if state == NotebookState.FAILED else f"is {state.value}"
            unread = (
                f" (its logs could not be read: {cell.log_error})"
                if cell.log_error is not None
                else ""
            )
            self._finish(
                cell,
                CellStatus.ERROR,
                f"notebook {what} before the harness reported a result{unread}",
            )

    def _read_logs(self, cells: Sequence[_Live], now: float) -> None:
        for cell in cells:
            cell.last_log_read = now
        read = self._map(lambda cell: self.provider.logs(cell.handle), cells)
        for cell, (lines, error) in zip(cells, read, strict=True):
            if error is None:
                cell.log.extend(lines)
                cell.log_error = None
            elif isinstance(error, ProviderError):
                cell.log_error = error.message
            else:
                raise error

    def _collect(self, cell: _Live) -> bool:
        """Finish the cell if its log holds a complete bundle; True when finished."""
        if not _bundle_ended(cell.log, cell.job.bundle_id):
            return False
        try:
            payload = bundle_codec.decode(cell.log, cell.job.bundle_id)
        except bundle_codec.BundleError as exc:
            self._finish(cell, CellStatus.ERROR, f"result bundle unusable: {exc}")
            return True
        self._finish_with_payload(cell, payload)
        return True

    def _check_timeouts(self, cell: _Live, now: float) -> None:
        if cell.running_since is None:
            if now - cell.created_at > self.options.startup_timeout_s:
                self._finish(
                    cell,
                    CellStatus.ERROR,
                    f"notebook did not start within {self.options.startup_timeout_s:.0f} s",
                )
        elif now - cell.running_since > cell.job.run_timeout_s:
            self._finish(
                cell,
                CellStatus.ERROR,
                f"no result within {cell.job.run_timeout_s:.0f} s of start-up",
            )

    # --- finishing ------------------------------------------------------------------------------

    def _finish_with_payload(self, cell: _Live, payload: Mapping[str, Any]) -> None:
        tests = tuple(TestResult.from_json(t) for t in payload.get("tests", ()))
        statuses = {t.status for t in tests}
        if TestStatus.FAILED in statuses:
            status = CellStatus.FAILED
        elif TestStatus.ERROR in statuses:
            status = CellStatus.ERROR
        else:
            status = CellStatus.PASSED
        self._finish(
            cell,
            status,
            "",
            harness_s=_harness_seconds(payload),
            tests=tests,
            environment=payload.get("environment") or {},
            metrics=payload.get("metrics") or {},
            notebooks=payload.get("notebooks") or {},
        )

    def _finish(
        self,
        cell: _Live,
        status: CellStatus,
        reason: str,
        *,
        tests: tuple[TestResult, ...] = (),
        environment: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        notebooks: Mapping[str, Any] | None = None,
        settle: bool = True,
        harness_s: float | None = None,
    ) -> None:
        """Take the cell off the live list; its notebook is stopped, measured and deleted in the
        background (unless `settle` is false), and its result recorded once that is done."""
        self._live.pop(cell.job.machine, None)
        fields: dict[str, Any] = {
            "tests": tests,
            "environment": environment,
            "metrics": metrics,
            "notebooks": notebooks,
            "harness_s": harness_s,
        }
        now = self.clock()
        if not settle or self._io is None:
            settled = self._settle(cell, status) if settle else _Settled({}, now, None)
            self._record(cell, status, reason, fields=fields, finished_at=now, settled=settled)
            return
        self._settling[cell.job.machine] = _Settling(
            cell=cell,
            status=status,
            reason=reason,
            fields=fields,
            finished_at=now,
            future=self._io.submit(self._settle, cell, status),
            active=cell.state not in _ENDED and not self._keeps(status),
        )

    def _reap(self) -> None:
        """Record the cells whose notebook is settled."""
        for machine, settling in list(self._settling.items()):
            if settling.future.done():
                del self._settling[machine]
                self._record_settled(settling)

    def _record_settled(self, settling: _Settling) -> None:
        future = settling.future
        if future.done() and future.exception() is None:
            settled = future.result()
        else:  # still going, or broken: say what may be left
            settled = _Settled({}, self.clock(), "may still be running")
        self._record(
            settling.cell,
            settling.status,
            settling.reason,
            fields=settling.fields,
            finished_at=settling.finished_at,
            settled=settled,
        )

    def _record(
        self,
        cell: _Live,
        status: CellStatus,
        reason: str,
        *,
        fields: Mapping[str, Any],
        finished_at: float,
        settled: _Settled,
    ) -> None:
        if settled.leftover is not None:
            self._left(cell, settled.leftover)
        all_metrics = dict(fields["metrics"] or {})
        if settled.metrics:
            all_metrics["platform"] = settled.metrics
        started = cell.running_since if cell.running_since is not None else finished_at
        harness_s = fields["harness_s"]
        result = CellResult(
            machine=cell.job.machine,
            status=status,
            reason=reason,
            notebook_id=cell.handle.notebook_id,
            url=cell.handle.url,
            duration_s=harness_s if harness_s is not None else finished_at - started,
            billed_s=settled.stopped_at - cell.created_at,
            environment=dict(fields["environment"] or {}),
            metrics=all_metrics,
            tests=fields["tests"],
            log_tail=tuple(_log_tail(cell.log))
            if status in (CellStatus.ERROR, CellStatus.CANCELLED)
            else (),
        )
        result = apply_expected_failures(result, cell.job.expected_failures)
        self._done[cell.job.machine] = Outcome(
            result=result, log=tuple(cell.log), notebooks=fields["notebooks"] or {}
        )
        self.progress(cell.job.machine, result.status, reason)

    def _keeps(self, status: CellStatus) -> bool:
        return keeps(self.options.keep, status in (CellStatus.FAILED, CellStatus.ERROR))

    def _settle(self, cell: _Live, status: CellStatus) -> _Settled:
        """Stop the notebook (unless kept), read its platform metrics, delete it (unless kept).
        Runs in a worker thread: provider calls only, no orchestrator state."""
        keep = self._keeps(status)
        stopped = keep or self._attempt(lambda: self.provider.stop(cell.handle))
        stopped_at = self.clock()
        metrics = self._safe(lambda: self.provider.metrics(cell.handle)) or {}
        deleted = keep or self._attempt(lambda: self.provider.delete(cell.handle))
        leftover = None
        if not deleted:
            leftover = "was stopped but not deleted" if stopped else "may still be running"
        return _Settled(dict(metrics), stopped_at, leftover)

    def _left(self, cell: _Live, what: str) -> None:
        self.leftovers.append(Leftover(cell.job.machine, cell.handle.notebook_id, what))

    @staticmethod
    def _attempt(call: Callable[[], Any]) -> bool:
        try:
            call()
        except ProviderError:
            return False
        return True

    def _finish_without_notebook(self, job: Job, status: CellStatus, reason: str) -> None:
        self._done[job.machine] = Outcome(
            result=CellResult(machine=job.machine, status=status, reason=reason)
        )
        self.progress(job.machine, status, reason)

    @staticmethod
    def _safe(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ProviderError:
            return None

    def _end_everything(self, queue: collections.deque[tuple[Job, int, float]]) -> None:
        """On cancel (or any early exit): stop every live notebook concurrently, whatever the
        keep policy, within `stop_timeout_s`; then delete them unless kept. Cells that never
        started are cancelled; finished cells being settled are waited for (a while)."""
        reason = "run cancelled" if self.cancel.is_set() else "run ended early"
        live = list(self._live.values())
        if live:
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(live)))
            stops = [pool.submit(self._stop_quietly, cell.handle) for cell in live]
            concurrent.futures.wait(stops, timeout=self.options.stop_timeout_s)
            deletes = []
            if not self._keeps(CellStatus.CANCELLED):
                deletes = [pool.submit(self._delete_quietly, cell.handle) for cell in live]
                concurrent.futures.wait(deletes, timeout=self.options.stop_timeout_s * 2)
            pool.shutdown(wait=False)
            for i, cell in enumerate(live):
                stopped = _succeeded(stops[i])
                if deletes and not _succeeded(deletes[i]):
                    self._left(
                        cell, "was stopped but not deleted" if stopped else "may still be running"
                    )
                elif not deletes and not stopped:
                    self._left(cell, "may still be running")
                self._finish(cell, CellStatus.CANCELLED, reason, settle=False)
        if self._settling:
            concurrent.futures.wait(
                [s.future for s in self._settling.values()],
                timeout=self.options.stop_timeout_s * 2,
            )
            for machine, settling in list(self._settling.items()):
                del self._settling[machine]
                self._record_settled(settling)
        for job, _, _ in queue:
            if job.machine not in self._done:
                self._finish_without_notebook(job, CellStatus.CANCELLED, reason)

    def _stop_quietly(self, handle: Handle) -> bool:
        return self._attempt(lambda: self.provider.stop(handle))

    def _delete_quietly(self, handle: Handle) -> bool:
        return self._attempt(lambda: self.provider.delete(handle))


def _succeeded(future: concurrent.futures.Future[bool]) -> bool:
    """True when the call finished in time and worked (a late answer counts as a failure)."""
    return (
        future.done() and not future.cancelled() and future.exception() is None and future.result()
    )


def _harness_seconds(payload: Mapping[str, Any]) -> float | None:
    """How long the harness ran, by its own clock (polling would blur it by an interval)."""
    try:
        start = dt.datetime.fromisoformat(str(payload["started_at"]).replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(str(payload["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds >= 0 else None


def _bundle_ended(lines: Sequence[str], bundle_id: str) -> bool:
    marker = f"{bundle_codec.END} {bundle_id}"
    return any(marker in line for line in reversed(lines))


def _log_tail(lines: Sequence[str]) -> list[str]:
    return bundle_codec.without_frames(lines)[-LOG_TAIL_LINES:]
