"""Ending notebooks: stop, read platform metrics, delete — each call guarded, so a provider error
leaves a named leftover instead of an exception. Provider calls only, no orchestrator state: these
run in worker threads."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

from ..errors import ProviderError
from ..providers.base import Handle, Provider
from .cells import Settled

STILL_RUNNING = "may still be running"
NOT_DELETED = "was stopped but not deleted"


class Ender:
    def __init__(self, provider: Provider, clock: Callable[[], float]) -> None:
        self.provider = provider
        self.clock = clock

    def settle(self, handle: Handle, *, keep: bool) -> Settled:
        """Stop the notebook (unless kept), read its platform metrics, delete it (unless kept)."""
        stopped = keep or _attempt(lambda: self.provider.stop(handle))
        stopped_at = self.clock()
        metrics = _safe(lambda: self.provider.metrics(handle)) or {}
        deleted = keep or _attempt(lambda: self.provider.delete(handle))
        return Settled(dict(metrics), stopped_at, None if deleted else _left(stopped))

    def end_all(
        self, handles: Sequence[Handle], *, keep: bool, timeout_s: float
    ) -> list[str | None]:
        """Stop every notebook at once (all stop requests out within `timeout_s`), then delete
        them unless kept. What is left of each notebook, or None."""
        if not handles:
            return []
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(handles)))
        stops = [pool.submit(self._stop, h) for h in handles]
        concurrent.futures.wait(stops, timeout=timeout_s)
        deletes = []
        if not keep:
            deletes = [pool.submit(self._delete, h) for h in handles]
            concurrent.futures.wait(deletes, timeout=timeout_s * 2)
        pool.shutdown(wait=False)
        left: list[str | None] = []
        for i in range(len(handles)):
            stopped = _succeeded(stops[i])
            if deletes:
                left.append(None if _succeeded(deletes[i]) else _left(stopped))
            else:
                left.append(None if stopped else STILL_RUNNING)
        return left

    def _stop(self, handle: Handle) -> bool:
        return _attempt(lambda: self.provider.stop(handle))

    def _delete(self, handle: Handle) -> bool:
        return _attempt(lambda: self.provider.delete(handle))


def _left(stopped: bool) -> str:
    return NOT_DELETED if stopped else STILL_RUNNING


def _attempt(call: Callable[[], Any]) -> bool:
    try:
        call()
    except ProviderError:
        return False
    return True


def _safe(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ProviderError:
        return None


def _succeeded(future: concurrent.futures.Future[bool]) -> bool:
    """True when the call finished in time and worked (a late answer counts as a failure)."""
    return (
        future.done() and not future.cancelled() and future.exception() is None and future.result()
    )


@contextlib.contextmanager
def cancel_on_signals(cancel: threading.Event) -> Iterator[list[int]]:
    """SIGINT/SIGTERM set `cancel` (whoever owns notebooks then ends them); yields the signals
    received, so the exit code can be 130/143. Off the main thread, signals are not touched."""
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
