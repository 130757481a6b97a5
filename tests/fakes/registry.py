"""A fake container registry on 127.0.0.1: the HTTP API v2 with the anonymous Bearer token flow.

What it models, taking the stricter reading where registries differ:
- A manifest request without a token is answered 401 with
  `WWW-Authenticate: Bearer realm="<url>/token",service="fake-registry",scope="repository:<name>:pull"`
  (Docker Hub, GHCR, registry:2 with token auth).
- `GET /token?service=...&scope=repository:<name>:pull` gives `{"token", "access_token",
  "expires_in"}`. A token only opens the repositories its scope named; a private repository gets a
  token without access (Docker Hub's way), so the manifest is 401 `insufficient_scope` again.
- `HEAD`/`GET /v2/<name>/manifests/<tag or digest>` with a valid token: 200 with `Content-Type`,
  `Docker-Content-Digest` and `Content-Length` (no body for HEAD). A manifest list or OCI index is
  served only to a client whose `Accept` names its media type; otherwise 404 `MANIFEST_UNKNOWN`
  (what Docker Hub answers a client that does not accept OCI indexes). Unknown tag: 404
  `MANIFEST_UNKNOWN`; unknown repository: 404 `NAME_UNKNOWN`, or 401 like Docker Hub with
  `hub_unknown_repositories=True`.
- Faults: `manifest_status` answers every manifest request with that status (429, 500...),
  `head_allowed=False` answers HEAD with 405, `send_digest=False` leaves `Docker-Content-Digest` out.

Every request is logged as (method, path, headers).

    with FakeRegistry() as registry:
        digest = registry.add_image("org/img", "1.0")
        image = f"{registry.host}/org/img:1.0"   # or GRT_DOCKER_HUB_URL=registry.url, "org/img:1.0"
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
LISTS = (OCI_INDEX, DOCKER_LIST)
SERVICE = "fake-registry"
_MANIFEST_PATH = re.compile(r"^/v2/(?P<name>[a-z0-9._/-]+)/manifests/(?P<ref>[A-Za-z0-9_.:-]+)$")


@dataclasses.dataclass
class Manifest:
    media_type: str
    body: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.body).hexdigest()


class FakeRegistry:
    def __init__(
        self,
        *,
        manifest_status: int | None = None,
        head_allowed: bool = True,
        send_digest: bool = True,
        hub_unknown_repositories: bool = False,
    ) -> None:
        self.manifest_status = manifest_status
        self.head_allowed = head_allowed
        self.send_digest = send_digest
        self.hub_unknown_repositories = hub_unknown_repositories
        self.repositories: dict[str, dict[str, Manifest]] = {}
        self.private: set[str] = set()
        self.tokens: dict[str, frozenset[str]] = {}  # token -> repositories it may pull
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def __enter__(self) -> FakeRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add_image(
        self, name: str, tag: str, media_type: str = OCI_INDEX, *, private: bool = False
    ) -> str:
        """Publish `name:tag` (a multi-platform index by default); its digest."""
        if media_type in LISTS:
            payload: dict[str, Any] = {
                "schemaVersion": 2,
                "mediaType": media_type,
                "manifests": [{"digest": "sha256:" + "ab" * 32, "platform": {"os": "linux"}}],
            }
        else:
            payload = {"schemaVersion": 2, "mediaType": media_type, "layers": [], "tag": tag}
        manifest = Manifest(media_type, json.dumps(payload, sort_keys=True).encode())
        with self._lock:
            repo = self.repositories.setdefault(name, {})
            repo[tag] = manifest
            repo[manifest.digest] = manifest
            if private:
                self.private.add(name)
        return manifest.digest

    def log(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, path, headers))

    def manifest_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        with self._lock:
            return [r for r in self.requests if "/manifests/" in r[1]]

    # --- what the server answers -----------------------------------------------------------

    def challenge(self, name: str, error: str | None = None) -> str:
        value = (
            f'Bearer realm="{self.url}/token",service="{SERVICE}",scope="repository:{name}:pull"'
        )
        return value + (f',error="{error}"' if error else "")

    def issue_token(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if query.get("service") != [SERVICE]:
            return 400, {"details": "service is not fake-registry"}
        names = set()
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and "pull" in actions.split(","):
                with self._lock:
                    known = name in self.repositories
                    public = name not in self.private
                if public and (known or not self.hub_unknown_repositories):
                    names.add(name)
        token = secrets.token_hex(16)
        with self._lock:
            self.tokens[token] = frozenset(names)
        return 200, {"token": token, "access_token": token, "expires_in": 300}

    def may_pull(self, authorization: str, name: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            return scheme == "Bearer" and name in self.tokens.get(token, frozenset())


def _handler(registry: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve("HEAD")

        def do_GET(self) -> None:
            self._serve("GET")

        def _serve(self, method: str) -> None:
            registry.log(method, self.path, {k.lower(): v for k, v in self.headers.items()})
            parts = urllib.parse.urlsplit(self.path)
            if parts.path == "/token" and method == "GET":
                status, payload = registry.issue_token(urllib.parse.parse_qs(parts.query))
                self._json(method, status, payload)
                return
            if parts.path == "/v2/":
                self._json(
                    method,
                    401,
                    _errors("UNAUTHORIZED"),
                    {"WWW-Authenticate": registry.challenge("")},
                )
                return
            match = _MANIFEST_PATH.match(parts.path)
            if match is None:
                self._json(method, 404, {"errors": [{"code": "NOT_FOUND"}]})
                return
            self._manifest(method, match["name"], match["ref"])

        def _manifest(self, method: str, name: str, ref: str) -> None:
            if not registry.may_pull(self.headers.get("Authorization", ""), name):
                scoped = self.headers.get("Authorization") is not None
                error = "insufficient_scope" if scoped else None
                headers = {"WWW-Authenticate": registry.challenge(name, error)}
                self._json(method, 401, _errors("UNAUTHORIZED"), headers)
                return
            if registry.manifest_status is not None:
                self._json(method, registry.manifest_status, _errors("UNAVAILABLE"))
                return
            if method == "HEAD" and not registry.head_allowed:
                self._json(method, 405, _errors("UNSUPPORTED"))
                return
            with registry._lock:
                repository = registry.repositories.get(name)
                manifest = (repository or {}).get(ref)
            if repository is None:
                self._json(method, 404, _errors("NAME_UNKNOWN"))
                return
            accepted = {a.split(";")[0].strip() for a in self.headers.get("Accept", "").split(",")}
            if manifest is None or manifest.media_type not in accepted:
                self._json(method, 404, _errors("MANIFEST_UNKNOWN"))
                return
            headers = {"Content-Type": manifest.media_type}
            if registry.send_digest:
                headers["Docker-Content-Digest"] = manifest.digest
            self._send(method, 200, manifest.body, headers)

        def _json(
            self,
            method: str,
            status: int,
            payload: dict[str, Any],
            headers: dict[str, str] | None = None,
        ) -> None:
            body = json.dumps(payload).encode()
            self._send(
                method, status, body, {"Content-Type": "application/json", **(headers or {})}
            )

        def _send(self, method: str, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(body)

    return Handler


def _errors(code: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}
