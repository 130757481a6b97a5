"""HTTP plumbing of the fake: the request log's records, the handler, the (TLS) server."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import sys
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from . import endpoints

if TYPE_CHECKING:
    from .server import FakePaperspace


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received; ``command`` is the decoded command of a ``createNotebook``."""

    server: str  # "api" | "logs" | "metrics"
    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    body_json: Any
    command: str | None
    at: float  # time.monotonic()

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    @property
    def api_key(self) -> str | None:
        return self.header("X-API-Key")

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


def _decode_command(path: str, body_json: Any) -> str | None:
    if not path.endswith("/createNotebook") or not isinstance(body_json, dict):
        return None
    spec = endpoints._spec_from(body_json)
    return None if isinstance(spec, endpoints.Response) else spec.command


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _handle(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(self.path)
        try:
            body_json = json.loads(raw) if raw else None
        except ValueError:
            body_json = None
        request = RecordedRequest(
            server=self.server.role,
            method=self.command,
            path=split.path,
            raw_query=split.query,
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers=tuple(self.headers.items()),
            body=raw,
            body_json=body_json,
            command=_decode_command(split.path, body_json),
            at=time.monotonic(),
        )
        fake._record(request)
        if not self._wait_while_stalled():
            return self._drop()
        rule = fake.faults.take_rule(split.path)
        if rule is not None and not rule.after_processing:
            if rule.kind == "stall":
                fake.closing.wait()
                return self._drop()
            if rule.kind == "drop":
                return self._drop()
            return self._send(
                endpoints.Response(rule.status, raw=rule.body, headers=tuple(rule.headers.items()))
            )
        response = fake._dispatch(request)
        if rule is not None:
            return self._drop()
        return self._send(response)

    def _wait_while_stalled(self) -> bool:
        """Hold the request while its server is stalled; False when the fake closed meanwhile."""
        fake = self.server.fake
        while self.server.role in fake.faults.stalled_servers:
            if fake.closing.wait(0.05):
                return False
        return True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: endpoints.Response) -> None:
        payload = response.encode()
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if response.status != 204:
            self.wfile.write(payload)


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = (
        128  # socketserver's 5 overflows under bursts; the real API has no such wait
    )

    def __init__(
        self, fake: FakePaperspace, role: str, port: int, tls: ssl.SSLContext | None = None
    ) -> None:
        self.fake, self.role, self.tls = fake, role, tls
        super().__init__((fake.host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, or gave up) is not an error of the fake: no
        traceback on stderr for it."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:  # handshake here, in the request's thread, not in the accept loop
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return None
        try:
            return super().finish_request(wrapped, client_address)
        finally:
            with contextlib.suppress(OSError):
                wrapped.shutdown(socket.SHUT_RDWR)
            wrapped.close()
