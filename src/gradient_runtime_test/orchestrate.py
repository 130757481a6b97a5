"""The orchestrator: launches cells through a provider, collects their bundles, ends notebooks.

Side effects come in as parameters: the provider, the clock, the cancel event and the progress
callback. Every notebook created here is stopped before `run` returns (unless the keep policy says
otherwise), on success, failure, timeout and cancellation alike.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import enum
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import ProviderError
from .harness import bundle as bundle_codec
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


class Keep(enum.StrEnum):
    NEVER = "never"
    FAILED = "failed"
    ALWAYS = "always"


@dataclasses.dataclass(frozen=True)
class Options:
    max_parallel: int = 1
    keep: Keep = Keep.NEVER
    poll_interval_s: float = 5.0
    log_interval_s: float = 15.0  # logs of a running notebook are read at most this often
    startup_timeout_s: float = 15 * 60
    unavailable_retries: int = 2
    unavailable_delay_s: float = 120.0
    running_limit_delay_s: float = 30.0
    stop_timeout_s: float = 3.0  # all stop requests on cancel are sent within this
    # An ended notebook whose logs cannot be read is kept (not deleted: its logs hold the
    # result) and asked again at each poll for this long before the cell is an error.
    log_retry_s: float = 120.0


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


@dataclasses.dataclass(frozen=True)
class Leftover:
    """A notebook that could not be stopped or deleted: `grt sweep` ends it."""

    machine: str
    notebook_id: str
    what: str  # "may still be running" | "was stopped but not deleted"


Progress = Callable[[str, CellStatus, str], None]


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
        self._done: dict[str, Outcome] = {}
        self.leftovers: list[Leftover] = []

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
        try:
            while (queue or self._live) and not self.cancel.is_set():
                blocked_until = self._launch(queue, blocked_until)
                if self._live:
                    self._poll()
                if (queue or self._live) and not self.cancel.is_set():
                    self.cancel.wait(self.options.poll_interval_s)
        finally:
            self._end_everything(queue)
        return [self._done[j.machine] for j in jobs]

    def _launch(
        self, queue: collections.deque[tuple[Job, int, float]], blocked_until: float
    ) -> float:
        now = self.clock()
        deferred = []
        while queue and len(self._live) < self.options.max_parallel and now >= blocked_until:
            job, attempts, not_before = queue.popleft()
            if now < not_before:
                deferred.append((job, attempts, not_before))
                continue
            self.progress(job.machine, CellStatus.STARTING, "creating notebook")
            try:
                handle = self.provider.create(job.launch)
            except RunningLimitError as exc:
                queue.appendleft((job, attempts, not_before))
                blocked_until = now + self.options.running_limit_delay_s
                self.progress(job.machine, CellStatus.QUEUED, f"waiting: {exc.message}")
                break
            except CapacityError as exc:
                if attempts < self.options.unavailable_retries:
                    deferred.append((job, attempts + 1, now + self.options.unavailable_delay_s))
                    self.progress(job.machine, CellStatus.QUEUED, f"retrying later: {exc.message}")
                else:
                    self._finish_without_notebook(job, CellStatus.UNAVAILABLE, exc.message)
                continue
            except ProviderError as exc:
                self._finish_without_notebook(
                    job, CellStatus.ERROR, f"create failed: {exc.message}"
                )
                continue
            self._live[job.machine] = _Live(job=job, handle=handle, created_at=self.clock())
            if self.cancel.is_set():
                break
        queue.extend(deferred)
        return blocked_until

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
        for cell in live:
            state = states.get(cell.handle.notebook_id, NotebookState.GONE)
            if state == NotebookState.RUNNING and cell.running_since is None:
                cell.running_since = now
                self.progress(cell.job.machine, CellStatus.RUNNING, "")
            cell.state = state
            ended = state in (NotebookState.STOPPED, NotebookState.FAILED, NotebookState.GONE)
            due = now - cell.last_log_read >= self.options.log_interval_s
            if ended or (state == NotebookState.RUNNING and due):
                self._read_logs(cell, now)
                if self._collect(cell):
                    continue
            if ended:
                self._read_logs(cell, now)
                if self._collect(cell):
                    continue
                if cell.log_error is not None:
                    if cell.log_failing_since is None:
                        cell.log_failing_since = now
                    if now - cell.log_failing_since < self.options.log_retry_s:
                        continue  # its logs may still hold the result: ask again next poll
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
                continue
            self._check_timeouts(cell, now)

    def _read_logs(self, cell: _Live, now: float) -> None:
        cell.last_log_read = now
        try:
            cell.log.extend(self.provider.logs(cell.handle))
        except ProviderError as exc:
            cell.log_error = exc.message
        else:
            cell.log_error = None

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
        self._live.pop(cell.job.machine, None)
        all_metrics = dict(metrics or {})
        if settle:
            platform_metrics = self._settle(cell, status)
            if platform_metrics:
                all_metrics["platform"] = platform_metrics
        now = self.clock()
        started = cell.running_since if cell.running_since is not None else now
        result = CellResult(
            machine=cell.job.machine,
            status=status,
            reason=reason,
            notebook_id=cell.handle.notebook_id,
            url=cell.handle.url,
            duration_s=harness_s if harness_s is not None else now - started,
            billed_s=now - cell.created_at,
            environment=dict(environment or {}),
            metrics=all_metrics,
            tests=tests,
            log_tail=tuple(_log_tail(cell.log))
            if status in (CellStatus.ERROR, CellStatus.CANCELLED)
            else (),
        )
        result = apply_expected_failures(result, cell.job.expected_failures)
        self._done[cell.job.machine] = Outcome(
            result=result, log=tuple(cell.log), notebooks=notebooks or {}
        )
        self.progress(cell.job.machine, result.status, reason)

    def _keeps(self, status: CellStatus) -> bool:
        keep = self.options.keep
        return keep == Keep.ALWAYS or (
            keep == Keep.FAILED and status in (CellStatus.FAILED, CellStatus.ERROR)
        )

    def _settle(self, cell: _Live, status: CellStatus) -> dict[str, Any]:
        """Stop the notebook (unless kept), read its platform metrics, delete it (unless kept)."""
        keep = self._keeps(status)
        stopped = keep or self._attempt(lambda: self.provider.stop(cell.handle))
        metrics = self._safe(lambda: self.provider.metrics(cell.handle)) or {}
        deleted = keep or self._attempt(lambda: self.provider.delete(cell.handle))
        if not deleted:
            self._left(cell, "was stopped but not deleted" if stopped else "may still be running")
        return dict(metrics)

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
        started are cancelled."""
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
    visible = [line for line in lines if "GRT-BUNDLE" not in line]
    return visible[-LOG_TAIL_LINES:]
