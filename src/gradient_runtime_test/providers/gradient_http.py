"""Timeouts for the ``gradient`` SDK's HTTP requests, and what the SDK hides of an answer: its
status code and ``Retry-After``.

Why a hook. The SDK (2.99.4) sends every request through the module-level ``requests.get``,
``post``, ``put`` and ``delete`` of ``gradient.api_sdk.clients.http_client``, with no timeout, and
offers no way to pass one, nor a session or an adapter: ``http_client.API`` calls
``requests.<verb>(...)`` directly, and the repositories it serves are built inside the client's
methods (the metrics call even builds a second one internally). Its errors carry only the text of
the answer, never the status or the headers.

The hook. :func:`install` replaces one name, ``requests`` in that one SDK module, with a
:class:`Transport` that forwards each call to ``requests.request`` with the same arguments, so
for any caller outside :func:`scope` nothing changes. Inside ``with scope(timeouts, exchange):``
(which :class:`~.gradient_api.GradientApi` wraps around every SDK call, in the calling thread),
each request also gets ``timeout=(connect, read)`` and its answer's status and ``Retry-After`` are
noted in ``exchange``. No SDK code is copied or changed; the SDK's own requests (URLs, headers,
bodies) are untouched.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import email.utils
import importlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

SDK_HTTP_MODULE = "gradient.api_sdk.clients.http_client"


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and for each read of the answer."""

    connect_s: float = 10.0
    read_s: float = 30.0


@dataclasses.dataclass
class Exchange:
    """What the requests of one scope saw: the last answer's status and ``Retry-After`` (seconds),
    and whether any answer came back at all."""

    status: int | None = None
    retry_after_s: float | None = None
    answered: bool = False

    def saw(self, response: Any) -> None:
        self.answered = True
        self.status = int(response.status_code)
        self.retry_after_s = retry_after_seconds(response.headers.get("Retry-After"))


@dataclasses.dataclass(frozen=True)
class _Scope:
    timeouts: Timeouts
    exchange: Exchange
    on_answer: Callable[[], None]


_current: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "grt_gradient_http", default=None
)
_install_lock = threading.Lock()


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date; None when absent
    or unreadable. Never negative."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class Transport:
    """Stands in for ``requests`` inside the SDK's HTTP module (see the module doc)."""

    def __init__(self, requests_module: Any) -> None:
        self._requests = requests_module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._requests, name)  # anything else the module offers, unchanged

    def get(self, url: str, params: Any = None, **kwargs: Any) -> Any:
        return self._send("get", url, params=params, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        return self._send("post", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self._send("put", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self._send("delete", url, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        scope = _current.get()
        if scope is None:
            return self._requests.request(method, url, **kwargs)
        kwargs.setdefault("timeout", (scope.timeouts.connect_s, scope.timeouts.read_s))
        response = self._requests.request(method, url, **kwargs)
        scope.exchange.saw(response)
        scope.on_answer()
        return response


def install() -> None:
    """Put a :class:`Transport` in the SDK's HTTP module, once per process (idempotent)."""
    http_client: Any = importlib.import_module(SDK_HTTP_MODULE)
    with _install_lock:
        if not isinstance(http_client.requests, Transport):
            http_client.requests = Transport(http_client.requests)


@contextlib.contextmanager
def scope(
    timeouts: Timeouts, exchange: Exchange, on_answer: Callable[[], None] = lambda: None
) -> Iterator[Exchange]:
    """SDK requests made by this thread inside the block get ``timeouts``; ``exchange`` notes
    their answers, and ``on_answer`` is called for each one."""
    token = _current.set(_Scope(timeouts, exchange, on_answer))
    try:
        yield exchange
    finally:
        _current.reset(token)
