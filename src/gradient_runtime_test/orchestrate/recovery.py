"""What the orchestrator does when the platform misbehaves: an API that stops answering, a create
refused in words nobody recognises, a log whose lines arrive late or twice. Small records the
loop consults; provider calls only in :func:`read_whole_log`."""

from __future__ import annotations

from ..providers.base import Handle, Provider

MAX_LOG_PAGES = 1000  # a whole-log read stops after this many reads


class Outage:
    """How long the provider's API has failed without a break (failed polls and creates whose
    error is transient); once that reaches ``limit_s``, ``reason`` says so and the run gives up
    on every cell that is left."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.since: float | None = None
        self.reason: str | None = None

    def answered(self) -> None:
        if self.reason is None:
            self.since = None

    def failed(self, started: float, now: float, provider: str, error: str) -> bool:
        """A call begun at ``started`` failed at ``now``; True once the outage is declared."""
        if self.since is None:
            self.since = started
        if self.reason is None and now - self.since >= self.limit_s:
            self.reason = (
                f"the {provider} API failed for {now - self.since:.0f} s without a break, so the"
                f" run gave up (last error: {error})"
            )
        return self.reason is not None


class SlotWaits:
    """Creates refused in words the provider does not recognise while notebooks of this run are
    up: maybe a running limit worded in an unknown way. Each job then waits, once, until one of
    this run's notebooks has ended (stopped, so the platform counts it no more), and is tried
    again."""

    def __init__(self) -> None:
        self.finished = 0  # notebooks of this run ended (stopped and settled) so far
        self._marks: dict[str, int] = {}  # machine -> `finished` when it began to wait
        self._refusals: dict[str, str] = {}  # machine -> the refusal it waited after, verbatim

    def wait(self, machine: str, busy: int, refusal: str) -> bool:
        """Whether the refused job waits for a slot (not when nothing of ours runs, nor twice)."""
        if busy == 0 or machine in self._refusals:
            return False
        self._refusals[machine] = refusal
        self._marks[machine] = self.finished
        return True

    def waiting(self, machine: str) -> bool:
        mark = self._marks.get(machine)
        if mark is None or self.finished > mark:
            self._marks.pop(machine, None)
            return False
        return True

    def first_refusal(self, machine: str) -> str | None:
        """The refusal the job waited after, verbatim (None: it never waited)."""
        return self._refusals.get(machine)

    def note(self, machine: str) -> str:
        """For a cell created after waiting: the refusal it got first (results.json keeps it)."""
        first = self._refusals.get(machine)
        return f"created after waiting for a slot; first refused: {first}" if first else ""


def read_whole_log(provider: Provider, handle: Handle) -> list[str]:
    """The notebook's log from its first line, every page of it (the handle's read offset is back
    at the start when a read fails, so the next try starts over)."""
    handle.log_offset = 0
    lines: list[str] = []
    try:
        for _ in range(MAX_LOG_PAGES):
            page = provider.logs(handle)
            if not page:
                break
            lines.extend(page)
    except Exception:
        handle.log_offset = 0
        raise
    return lines
