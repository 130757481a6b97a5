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
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ProviderError
from ..harness import bundle as bundle_codec
from ..harness.protocol import ExpectedTests, keeps
from ..providers.base import CapacityError, NotebookState, Provider, RunningLimitError
from ..results import CellResult, CellStatus, TestStatus, apply_expected_failures
from . import budget
from .cells import Findings, Job, Leftover, Live, Outcome, Settled
from .ending import STILL_RUNNING, Ender
from .options import Options

LOG_TAIL_LINES = 30
IO_WORKERS = 16  # concurrent provider calls (creates, log reads, stops and deletes)
_ENDED = (NotebookState.STOPPED, NotebookState.FAILED, NotebookState.GONE)

Progress = Callable[[str, CellStatus, str], None]
Queue = collections.deque[tuple[Job, int, float]]  # (job, capacity retries so far, not before)


@dataclasses.dataclass
class _Settling:
    """A finished cell whose notebook is being stopped, measured and deleted in the background."""

    cell: Live
    status: CellStatus
    reason: str
    findings: Findings
    finished_at: float
    future: concurrent.futures.Future[Settled]
    active: bool  # its notebook may still be running: it holds a slot until stopped


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
        self._ender = Ender(provider, clock)
        self._live: dict[str, Live] = {}  # by machine
        self._settling: dict[str, _Settling] = {}  # by machine
        self._done: dict[str, Outcome] = {}
        self.leftovers: list[Leftover] = []
        self._io: concurrent.futures.ThreadPoolExecutor | None = None
        self._budget = None if options.max_cost_usd is None else budget.Budget(options.max_cost_usd)
        self._budget_looked: float | None = None  # when the budget was last looked at

    def outcome(self, machine: str) -> Outcome | None:
        """The finished cell on `machine`, if it has finished."""
        return self._done.get(machine)

    # --- the loop -------------------------------------------------------------------------------

    def run(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Run every job; return one outcome per job, in the jobs' order."""
        queue: Queue = collections.deque((j, 0, 0.0) for j in jobs)
        for job in jobs:
            self.progress(job.machine, CellStatus.QUEUED, "")
        blocked_until = 0.0
        self._io = concurrent.futures.ThreadPoolExecutor(
            max_workers=IO_WORKERS, thread_name_prefix="grt-io"
        )
        try:
            while (queue or self._live or self._settling) and not self.cancel.is_set():
                self._hold_budget(queue)
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

    # --- launching ------------------------------------------------------------------------------

    def _launch(self, queue: Queue, blocked_until: float) -> float:
        """Create notebooks for queued jobs while slots are free; returns until when a full
        running limit blocks further creates."""
        now = self.clock()
        if now < blocked_until:
            return blocked_until
        batch: list[tuple[Job, int, float]] = []
        deferred: list[tuple[Job, int, float]] = []
        free = self.options.max_parallel - self._busy()
        while queue and len(batch) < free:
            item = queue.popleft()
            wait = now < item[2] or not self._affords(item[0], [j for j, _, _ in batch], now)
            (deferred if wait else batch).append(item)
        for job, _, _ in batch:
            self.progress(job.machine, CellStatus.STARTING, "creating notebook")
        created = self._map(lambda item: self.provider.create(item[0].launch), batch)
        limited = []
        for item, (handle, error) in zip(batch, created, strict=True):
            job, attempts, _ = item
            if error is None:
                self._live[job.machine] = Live(job=job, handle=handle, created_at=self.clock())
            elif isinstance(error, RunningLimitError):
                limited.append(item)
                self.progress(job.machine, CellStatus.QUEUED, f"waiting: {error.message}")
            elif isinstance(error, CapacityError):
                self._unavailable(job, attempts, error, deferred, now)
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

    def _unavailable(
        self,
        job: Job,
        attempts: int,
        error: CapacityError,
        deferred: list[tuple[Job, int, float]],
        now: float,
    ) -> None:
        """No capacity: try again later, a bounded number of times, then `unavailable`."""
        if attempts < self.options.unavailable_retries:
            deferred.append((job, attempts + 1, now + self.options.unavailable_delay_s))
            self.progress(job.machine, CellStatus.QUEUED, f"retrying later: {error.message}")
        else:
            self._finish_without_notebook(job, CellStatus.UNAVAILABLE, error.message)

    # --- polling --------------------------------------------------------------------------------

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
        due = [cell for cell in live if self._observe(cell, states, now)]
        self._read_logs(due, now)
        for cell in live:
            if cell in due and self._collect(cell):
                continue
            if cell.state not in _ENDED:
                self._check_timeouts(cell, now)
            else:
                self._ended_without_result(cell, now)

    def _observe(self, cell: Live, states: dict[str, NotebookState], now: float) -> bool:
        """Take in the cell's new state; True when its logs are due for a read."""
        state = states.get(cell.handle.notebook_id, NotebookState.GONE)
        if state == NotebookState.RUNNING and cell.running_since is None:
            cell.running_since = now
            cell.last_log_read = now  # nothing worth reading yet: first read an interval on
            self.progress(cell.job.machine, CellStatus.RUNNING, "")
        cell.state = state
        running_due = now - cell.last_log_read >= self.options.running_log_interval_s
        return state in _ENDED or (state == NotebookState.RUNNING and running_due)

    def _ended_without_result(self, cell: Live, now: float) -> None:
        """The notebook ended and its logs hold no complete bundle: an error, unless its logs
        could not be read (they may still hold the result: ask again for a while)."""
        if cell.log_error is not None:
            if cell.log_failing_since is None:
                cell.log_failing_since = now
            if now - cell.log_failing_since < self.options.log_retry_s:
                return
        state = cell.state
        what = "ended in Error" if state == NotebookState.FAILED else f"is {state.value}"
        unread = (
            f" (its logs could not be read: {cell.log_error})" if cell.log_error is not None else ""
        )
        self._finish(
            cell,
            CellStatus.ERROR,
            f"notebook {what} before the harness reported a result{unread}",
        )

    def _read_logs(self, cells: Sequence[Live], now: float) -> None:
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

    def _collect(self, cell: Live) -> bool:
        """Finish the cell if its log holds a complete bundle; True when finished."""
        if not _bundle_ended(cell.log, cell.job.bundle_id):
            return False
        try:
            payload = bundle_codec.decode(cell.log, cell.job.bundle_id)
        except bundle_codec.BundleError as exc:
            self._finish(cell, CellStatus.ERROR, f"result bundle unusable: {exc}")
            return True
        status, reason, findings = _verdict(payload, cell.job.expected_tests)
        self._finish(cell, status, reason, findings=findings)
        return True

    def _check_timeouts(self, cell: Live, now: float) -> None:
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

    def _finish(
        self,
        cell: Live,
        status: CellStatus,
        reason: str,
        *,
        findings: Findings | None = None,
        settle: bool = True,
        stop: bool = False,
    ) -> None:
        """Take the cell off the live list; its notebook is stopped, measured and deleted in the
        background (unless `settle` is false; with `stop`, whatever the keep policy), and its
        result recorded once that is done."""
        self._live.pop(cell.job.machine, None)
        findings = findings or Findings()
        now = self.clock()
        if not settle or self._io is None:
            settled = self._settle(cell, status, stop) if settle else Settled({}, now, None)
            self._record(cell, status, reason, findings, finished_at=now, settled=settled)
            return
        self._settling[cell.job.machine] = _Settling(
            cell=cell,
            status=status,
            reason=reason,
            findings=findings,
            finished_at=now,
            future=self._io.submit(self._settle, cell, status, stop),
            active=cell.state not in _ENDED and (stop or not self._keeps(status)),
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
            settled = Settled({}, self.clock(), STILL_RUNNING)
        self._record(
            settling.cell,
            settling.status,
            settling.reason,
            settling.findings,
            finished_at=settling.finished_at,
            settled=settled,
        )

    def _record(
        self,
        cell: Live,
        status: CellStatus,
        reason: str,
        findings: Findings,
        *,
        finished_at: float,
        settled: Settled,
    ) -> None:
        if settled.leftover is not None:
            self._left(cell, settled.leftover)
        metrics = dict(findings.metrics)
        if settled.metrics:
            metrics["platform"] = settled.metrics
        started = cell.running_since if cell.running_since is not None else finished_at
        result = CellResult(
            machine=cell.job.machine,
            status=status,
            reason=reason,
            notebook_id=cell.handle.notebook_id,
            url=cell.handle.url,
            duration_s=findings.harness_s
            if findings.harness_s is not None
            else finished_at - started,
            billed_s=settled.stopped_at - cell.created_at,
            price_per_hour=cell.job.price_per_hour,
            estimated_cost_usd=cell.job.estimated_cost_usd,
            environment=dict(findings.environment),
            metrics=metrics,
            tests=findings.tests,
            log_tail=tuple(_log_tail(cell.log))
            if status in (CellStatus.ERROR, CellStatus.CANCELLED)
            else (),
        )
        result = apply_expected_failures(result, cell.job.expected_failures)
        self._done[cell.job.machine] = Outcome(
            result=result, log=tuple(cell.log), notebooks=findings.notebooks
        )
        self.progress(cell.job.machine, result.status, reason)

    def _keeps(self, status: CellStatus) -> bool:
        return keeps(self.options.keep, status in (CellStatus.FAILED, CellStatus.ERROR))

    def _settle(self, cell: Live, status: CellStatus, stop: bool = False) -> Settled:
        """Runs in a worker thread: provider calls only, no orchestrator state."""
        return self._ender.settle(cell.handle, keep=not stop and self._keeps(status))

    def _left(self, cell: Live, what: str) -> None:
        self.leftovers.append(Leftover(cell.job.machine, cell.handle.notebook_id, what))

    def _finish_without_notebook(self, job: Job, status: CellStatus, reason: str) -> None:
        self._done[job.machine] = Outcome(
            result=CellResult(
                machine=job.machine,
                status=status,
                reason=reason,
                price_per_hour=job.price_per_hour,
                estimated_cost_usd=job.estimated_cost_usd,
            )
        )
        self.progress(job.machine, status, reason)

    def _end_everything(self, queue: Queue) -> None:
        """On cancel (or any early exit): stop every live notebook concurrently, whatever the
        keep policy, within `stop_timeout_s`; then delete them unless kept. Cells that never
        started are cancelled; finished cells being settled are waited for (a while)."""
        reason = "run cancelled" if self.cancel.is_set() else "run ended early"
        live = list(self._live.values())
        left = self._ender.end_all(
            [cell.handle for cell in live],
            keep=self._keeps(CellStatus.CANCELLED),
            timeout_s=self.options.stop_timeout_s,
        )
        for cell, what in zip(live, left, strict=True):
            if what is not None:
                self._left(cell, what)
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

    # --- budget (--max-cost) --------------------------------------------------------------------

    def _billed(self) -> float:
        return sum(o.result.cost_usd or 0.0 for o in self._done.values())

    def _affords(self, job: Job, batch: Sequence[Job], now: float) -> bool:
        """Whether the budget leaves room for `job` next to what runs and the `batch` so far."""
        if self._budget is None:
            return True
        ending = [s.cell for s in self._settling.values()]
        committed = self._budget.committed(self._billed(), self._live.values(), ending, now)
        return self._budget.affords(committed, [*batch, job])

    def _hold_budget(self, queue: Queue) -> None:
        """Once the run would spend past its budget before the next poll, cancel every running
        cell (stopped and deleted whatever the keep policy) and the queue. When nothing runs,
        queued cells that do not fit never will: cancel them."""
        if self._budget is None:
            return
        now = self.clock()
        # The next look comes a poll later, or as late as this one came (a slow API): look ahead.
        gap = 0.0 if self._budget_looked is None else now - self._budget_looked
        lookahead = max(self.options.poll_interval_s, gap)
        self._budget_looked = now
        up = [*self._live.values(), *(s.cell for s in self._settling.values())]
        if self._budget.exhausted(self._billed(), up, now, lookahead):
            for cell in list(self._live.values()):
                self._finish(cell, CellStatus.CANCELLED, budget.REASON, stop=True)
            over = list(queue)
        elif not up:
            over = [item for item in queue if not self._affords(item[0], [], now)]
        else:
            return
        for item in over:
            queue.remove(item)
            self._finish_without_notebook(item[0], CellStatus.CANCELLED, budget.REASON)


def _verdict(payload: Any, expected: ExpectedTests) -> tuple[CellStatus, str, Findings]:
    """The cell's status, reason and findings from the harness's payload. A payload that does
    not answer the spec (a test missing, extra, repeated or without a status) is an error, and
    so is one where an error stands in for missing tests (whatever else failed: the expected
    failures of the matrix cannot turn such a cell green)."""
    if not isinstance(payload, dict):
        return CellStatus.ERROR, "result unusable: the payload is not an object", Findings()
    problems = expected.problems(payload.get("tests"))
    try:
        findings = Findings.from_payload(payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        findings = None
    if problems:
        return CellStatus.ERROR, "incomplete result: " + "; ".join(problems), findings or Findings()
    if findings is None:
        return CellStatus.ERROR, "result unusable: a test's fields are unreadable", Findings()
    if expected.stood_in(payload["tests"]):  # a harness step broke: what it owed has no verdict
        return CellStatus.ERROR, "", findings
    statuses = {t.status for t in findings.tests}
    if TestStatus.FAILED in statuses:
        return CellStatus.FAILED, "", findings
    if TestStatus.ERROR in statuses:
        return CellStatus.ERROR, "", findings
    return CellStatus.PASSED, "", findings


def _bundle_ended(lines: Sequence[str], bundle_id: str) -> bool:
    marker = f"{bundle_codec.END} {bundle_id}"
    return any(marker in line for line in reversed(lines))


def _log_tail(lines: Sequence[str]) -> list[str]:
    return bundle_codec.without_frames(lines)[-LOG_TAIL_LINES:]
