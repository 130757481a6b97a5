"""The orchestrator: launches cells through a provider, collects their bundles, ends notebooks.

Side effects come in as parameters: the provider, the clock, the cancel event and the progress
callback. Every notebook created here is stopped before `run` returns (unless the keep policy says
otherwise), on success, failure, timeout and cancellation alike.

Costs: one status request per poll whatever the number of live notebooks. A notebook's logs are
read when it ends (the harness ends its own notebook once its bundle is out), and while it runs
only now and then, as a safety net, unless the keep policy may keep it running. Creates, log reads
and the stop/metrics/delete of finished cells go out concurrently, and a slot freed by a cell is
refilled in the same poll.

The platform as it really behaves (recovery.py): an API failing without a break for
`api_outage_s` ends every cell left as an error; a preempted notebook's job runs again like one
without capacity; a state the provider does not know is treated as ended after `unknown_state_s`;
a bundle short of chunks is read again from the log's first line once; a create refused in words
nobody recognises waits once for a slot while notebooks of the run are up.
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
from ..providers import naming
from ..providers.base import (
    CapacityError,
    NotebookState,
    Provider,
    RefusedError,
    RunningLimitError,
    TransientError,
)
from ..results import CellResult, CellStatus, TestStatus, apply_expected_failures
from . import budget
from .cells import Findings, Job, Leftover, Live, Outcome, Settled
from .ending import STILL_RUNNING, Ender
from .options import Options
from .recovery import Outage, SlotWaits, read_whole_log

LOG_TAIL_LINES = 30
IO_WORKERS = 16  # concurrent provider calls (creates, log reads, stops and deletes)
_ENDED = (
    NotebookState.STOPPED,
    NotebookState.FAILED,
    NotebookState.PREEMPTED,
    NotebookState.GONE,
)

Progress = Callable[[str, CellStatus, str], None]
# (job, tries so far the platform had no machine for (capacity, preemption), not before)
Queue = collections.deque[tuple[Job, int, float]]


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
        self._queue: Queue = collections.deque()
        self._outage = Outage(options.api_outage_s)
        self._slots = SlotWaits()
        # notebooks ended without a result to record (preempted: the job runs again)
        self._discarded: list[tuple[Live, concurrent.futures.Future[Settled]]] = []

    def outcome(self, machine: str) -> Outcome | None:
        """The finished cell on `machine`, if it has finished."""
        return self._done.get(machine)

    # --- the loop -------------------------------------------------------------------------------

    def run(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Run every job; return one outcome per job, in the jobs' order."""
        queue: Queue = collections.deque((j, 0, 0.0) for j in jobs)
        self._queue = queue
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
        if self._outage.reason is not None:
            self._give_up_queued(queue, self._outage.reason)
            return blocked_until
        if now < blocked_until:
            return blocked_until
        batch: list[tuple[Job, int, float]] = []
        deferred: list[tuple[Job, int, float]] = []
        free = self.options.max_parallel - self._busy()
        while queue and len(batch) < free:
            item = queue.popleft()
            waiting = (
                now < item[2]
                or self._slots.waiting(item[0].machine)
                or not self._affords(item[0], [j for j, _, _ in batch], now)
            )
            (deferred if waiting else batch).append(item)
        for job, _, _ in batch:
            self.progress(job.machine, CellStatus.STARTING, "creating notebook")
        created = self._map(lambda item: self.provider.create(item[0].launch), batch)
        limited, refused = [], []
        for item, (handle, error) in zip(batch, created, strict=True):
            job, attempts, _ = item
            if not isinstance(error, TransientError):
                self._outage.answered()
            if error is None:
                live = Live(job=job, handle=handle, created_at=self.clock(), attempts=attempts)
                self._live[job.machine] = live
            elif isinstance(error, RunningLimitError):
                limited.append(item)
                self.progress(job.machine, CellStatus.QUEUED, f"waiting: {error.message}")
            elif isinstance(error, CapacityError):
                self._unavailable(job, attempts, error, deferred, now)
            elif isinstance(error, RefusedError):
                refused.append((item, error))
            elif isinstance(error, ProviderError):
                if isinstance(error, TransientError):
                    self._outage.failed(now, self.clock(), self.provider.name, error.message)
                self._finish_without_notebook(
                    job, CellStatus.ERROR, f"create failed: {error.message}"
                )
            else:
                raise error
        for item, error in refused:  # once this batch's notebooks count as ours
            self._refused(item, error, self._busy(), deferred)
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

    def _refused(
        self,
        item: tuple[Job, int, float],
        error: RefusedError,
        busy: int,
        deferred: list[tuple[Job, int, float]],
    ) -> None:
        """A create refused in words not recognised: while notebooks of this run are up it may be
        a running limit, so wait once for one of them to finish; else an error, the platform's
        words kept verbatim in the reason."""
        job = item[0]
        if self._slots.wait(job.machine, busy, error.message):
            deferred.append(item)
            self.progress(job.machine, CellStatus.QUEUED, f"waiting for a slot: {error.message}")
            return
        first = self._slots.first_refusal(job.machine)
        if first is None:
            reason = f"create refused: {error.message}"
        else:
            reason = f"create refused (again, after waiting for a slot): {error.message}"
            reason += f" (first: {first})" if first != error.message else ""
        self._finish_without_notebook(job, CellStatus.ERROR, reason)

    def _give_up_queued(self, queue: Queue, reason: str) -> None:
        while queue:
            job, _, _ = queue.popleft()
            if job.machine not in self._done:
                self._finish_without_notebook(job, CellStatus.ERROR, reason)

    # --- polling --------------------------------------------------------------------------------

    def _poll(self) -> None:
        live = list(self._live.values())
        started = self.clock()
        try:
            states = self.provider.states([cell.handle for cell in live])
        except ProviderError as error:
            now = self.clock()  # the next poll asks again; timeouts still apply
            if self._outage.failed(started, now, self.provider.name, error.message):
                self._give_up_live()
                return
            for cell in live:
                self._check_timeouts(cell, now)
            return
        self._outage.answered()
        now = self.clock()
        due = [cell for cell in live if self._observe(cell, states, now)]
        self._read_logs(due, now)
        for cell in live:
            if cell in due and self._collect(cell, now):
                continue
            if not self._over(cell, now):
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
        if state != NotebookState.UNKNOWN:
            cell.unknown_since = None
        elif cell.unknown_since is None:
            cell.unknown_since = now
        if state in _ENDED and cell.ended_since is None:
            cell.ended_since = now
        cell.state = state
        running_due = now - cell.last_log_read >= self.options.running_log_interval_s
        may_run = state in (NotebookState.RUNNING, NotebookState.UNKNOWN)
        rereading = cell.rewind or cell.truncated_since is not None
        return state in _ENDED or (may_run and running_due) or rereading

    def _over(self, cell: Live, now: float) -> bool:
        """The notebook has ended, or stayed too long in a state the provider does not know."""
        if cell.state == NotebookState.UNKNOWN and cell.unknown_since is not None:
            return now - cell.unknown_since >= self.options.unknown_state_s
        return cell.state in _ENDED

    def _ended_without_result(self, cell: Live, now: float) -> None:
        """The notebook ended and its logs hold no complete bundle: an error (preempted: the job
        runs again), unless its logs could not be read (they may still hold the result: ask
        again for a while)."""
        if cell.log_error is not None:
            if cell.log_failing_since is None:
                cell.log_failing_since = now
            if now - cell.log_failing_since < self.options.log_retry_s:
                return
        if cell.ended_since is None:
            cell.ended_since = now
        log_coming = cell.state in _ENDED and cell.handle.log_ended is False
        if log_coming and now - cell.ended_since < self.options.log_retry_s:
            return  # the log's end marker is not in yet: its last lines may be on their way
        state = cell.state
        if state == NotebookState.PREEMPTED:
            self._preempted(cell, now)
            return
        what = _ended_how(cell, now)
        unread = (
            f" (its logs could not be read: {cell.log_error})" if cell.log_error is not None else ""
        )
        self._finish(
            cell,
            CellStatus.ERROR,
            f"notebook {what} before the harness reported a result{unread}",
        )

    def _preempted(self, cell: Live, now: float) -> None:
        """The platform took the machine back: like no capacity, the job runs again later (a
        bounded number of times), then the cell is `unavailable`, with the platform's words."""
        reason = f"notebook preempted by the platform ({cell.handle.detail or 'Preempted'})"
        if cell.attempts >= self.options.unavailable_retries or self._io is None:
            self._finish(cell, CellStatus.UNAVAILABLE, reason)
            return
        self._live.pop(cell.job.machine, None)
        future = self._io.submit(self._settle, cell, CellStatus.UNAVAILABLE)
        self._discarded.append((cell, future))
        self._queue.append((cell.job, cell.attempts + 1, now + self.options.unavailable_delay_s))
        self.progress(cell.job.machine, CellStatus.QUEUED, f"retrying later: {reason}")

    def _give_up_live(self) -> None:
        for cell in list(self._live.values()):
            self._finish(cell, CellStatus.ERROR, self._outage.reason or "the API failed")

    def _read_logs(self, cells: Sequence[Live], now: float) -> None:
        for cell in cells:
            cell.last_log_read = now
        read = self._map(self._read_log, cells)
        for cell, (lines, error) in zip(cells, read, strict=True):
            if error is None and cell.rewind:  # the whole log, read again
                cell.log, cell.rewind, cell.rewound = list(lines), False, True
                cell.log_error = None
            elif error is None:
                cell.log.extend(lines)
                cell.log_error = None
            elif isinstance(error, ProviderError):
                cell.log_error = error.message
            else:
                raise error

    def _read_log(self, cell: Live) -> list[str]:
        if cell.rewind:
            return read_whole_log(self.provider, cell.handle)
        return self.provider.logs(cell.handle)

    def _collect(self, cell: Live, now: float) -> bool:
        """Finish the cell if its log holds a complete bundle; True when that is settled: it
        finished, or its log is to be read again (see `_read_again`)."""
        if not _bundle_ended(cell.log, cell.job.bundle_id):
            return False
        try:
            payload = bundle_codec.decode(cell.log, cell.job.bundle_id)
        except bundle_codec.BundleTruncated as exc:
            if not self._read_again(cell, now):
                self._finish(cell, CellStatus.ERROR, f"result bundle unusable: {exc}")
            return True
        except bundle_codec.BundleError as exc:
            self._finish(cell, CellStatus.ERROR, f"result bundle unusable: {exc}")
            return True
        status, reason, findings = _verdict(payload, cell.job.expected_tests)
        self._finish(cell, status, reason, findings=findings)
        return True

    def _read_again(self, cell: Live, now: float) -> bool:
        """The bundle ended with chunks missing: log lines may arrive late, or out of order
        (past the read cursor). Once the notebook has ended and its log too (the provider saw
        the end marker), or after `log_retry_s`, the whole log is read again from its first
        line, once. True while that is still to come."""
        if cell.rewound:
            return False
        if cell.truncated_since is None:
            cell.truncated_since = now
        log_over = cell.state in _ENDED and cell.handle.log_ended is not False
        if log_over or now - cell.truncated_since >= self.options.log_retry_s:
            cell.rewind = True
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
        for cell, future in list(self._discarded):
            if future.done():
                self._discarded.remove((cell, future))
                self._record_discarded(cell, future)

    def _record_discarded(self, cell: Live, future: concurrent.futures.Future[Settled]) -> None:
        """Name what is left of a notebook whose result is not recorded (it was preempted)."""
        self._slots.finished += 1
        done = future.done() and future.exception() is None
        leftover = future.result().leftover if done else STILL_RUNNING
        if leftover is not None:
            self._left(cell, leftover)

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
        self._slots.finished += 1  # its notebook is stopped (or was never up): a slot is free
        if settled.leftover is not None:
            self._left(cell, settled.leftover)
        metrics = dict(findings.metrics)
        if settled.metrics:
            metrics["platform"] = settled.metrics
        started = cell.running_since if cell.running_since is not None else finished_at
        result = CellResult(
            machine=cell.job.machine,
            status=status,
            reason=reason or self._slots.note(cell.job.machine),
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
        run_tag = naming.run_tag(cell.job.launch.tags) or ""
        run_id = run_tag.removeprefix(naming.RUN_TAG_PREFIX)
        self.leftovers.append(Leftover(cell.job.machine, cell.handle.notebook_id, what, run_id))

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
        if self._settling or self._discarded:
            concurrent.futures.wait(
                [s.future for s in self._settling.values()] + [f for _, f in self._discarded],
                timeout=self.options.stop_timeout_s * 2,
            )
            for machine, settling in list(self._settling.items()):
                del self._settling[machine]
                self._record_settled(settling)
            for cell, future in self._discarded:
                self._record_discarded(cell, future)
            self._discarded.clear()
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


def _ended_how(cell: Live, now: float) -> str:
    """How the notebook ended, in the platform's words where it gave some."""
    detail = cell.handle.detail
    if cell.state == NotebookState.UNKNOWN:
        since = cell.unknown_since if cell.unknown_since is not None else now
        return f"stayed {now - since:.0f} s in a state not known here ({detail or 'none'}),"
    if cell.state == NotebookState.FAILED:
        return f"ended in {detail}," if detail else "ended in Error"
    return f"is {cell.state.value}"


def _bundle_ended(lines: Sequence[str], bundle_id: str) -> bool:
    marker = f"{bundle_codec.END} {bundle_id}"
    return any(marker in line for line in reversed(lines))


def _log_tail(lines: Sequence[str]) -> list[str]:
    return bundle_codec.without_frames(lines)[-LOG_TAIL_LINES:]
