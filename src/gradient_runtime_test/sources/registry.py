"""Does a container image exist? Asked of its registry through the HTTP API v2, anonymously.

The token flow every registry speaks (Docker Hub, GHCR, Quay, a `registry:2` on localhost): a
manifest request answered 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`
is repeated with an anonymous token from the realm. The manifest is asked for with a HEAD (Docker
Hub does not count those against its pull limit), accepting manifest lists and OCI indexes as well
as single manifests; its `Docker-Content-Digest` is the image's digest.

Only a 404 says the image is missing. Anything else that prevents an answer (no network, a 5xx,
a rate limit, a private repository) is `unknown`: the caller reports it as a warning.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from http.client import HTTPException
from typing import Protocol

DOCKER_HUB = "docker.io"
DOCKER_HUB_URL = "https://registry-1.docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_BODY = 1024 * 1024
_AGENT = "gradient-runtime-test"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}$")
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?$")
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^",\s]+))')


@dataclasses.dataclass(frozen=True)
class ImageName:
    """`[host[:port]/]path[:tag][@digest]`, normalised as docker does."""

    registry: str  # "docker.io", or host[:port]
    repository: str  # "library/ubuntu", "org/img"
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What the manifest is asked for: the digest when pinned, else the tag (or latest)."""
        return self.digest or self.tag or "latest"


def parse_image(text: str) -> ImageName:
    """Parse an image reference; ValueError (one line) when it is not one."""
    name, _, digest = text.partition("@")
    tag = None
    head, sep, tail = name.rpartition(":")
    if sep and "/" not in tail:
        name, tag = head, tail
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if not _HOST.match(registry) or not _PATH.match(path):
        raise ValueError(f"{text!r} is not an image name (valid: [host/]org/name[:tag][@digest])")
    if tag is not None and not _TAG.match(tag):
        raise ValueError(f"{text!r}: tag {tag!r} is not valid")
    if digest and not _DIGEST.match(digest):
        raise ValueError(f"{text!r}: digest {digest!r} is not valid (valid: sha256:<hex>)")
    return ImageName(registry, path, tag, digest or None)


def registry_url(image: ImageName, docker_hub_url: str = DOCKER_HUB_URL) -> str:
    """Base URL of the image's registry: https, except plain http on the loopback interface
    (docker's default insecure registry range, where a `registry:2` container listens)."""
    if image.registry == DOCKER_HUB:
        return docker_hub_url.rstrip("/")
    host = urllib.parse.urlsplit(f"//{image.registry}").hostname or ""
    return f"{'http' if _loopback(host) else 'https'}://{image.registry}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- HTTP ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class Transport(Protocol):
    def request(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Reply:
        """One HTTP exchange; OSError when no answer came back."""
        ...


class UrllibTransport:
    """The standard library's HTTP client. Proxies come from the environment mapping given (the
    user's HTTPS_PROXY, HTTP_PROXY and NO_PROXY, either case), never for loopback addresses."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = env or {}
        proxies = {}
        for scheme in ("http", "https", "no"):
            value = env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY")
            if value:
                proxies[scheme] = value
        self._no_proxy = [
            e.strip().lstrip(".").lower() for e in proxies.pop("no", "").split(",") if e.strip()
        ]
        self._proxied = urllib.request.build_opener(urllib.request.ProxyHandler(proxies))
        self._direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _opener(self, host: str) -> urllib.request.OpenerDirector:
        host = host.lower()
        if _loopback(host) or any(
            e in ("*", host) or host.endswith(f".{e}") for e in self._no_proxy
        ):
            return self._direct
        return self._proxied

    def request(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Reply:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise OSError(f"not an http(s) URL: {url[:100]!r}")
        opener = self._opener(parts.hostname or "")
        req = urllib.request.Request(url, method=method, headers=dict(headers))  # noqa: S310 - http(s) only, checked above
        try:
            with opener.open(req, timeout=timeout) as resp:
                return Reply(resp.status, _lower(resp.headers.items()), resp.read(MAX_BODY))
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read(MAX_BODY) if exc.fp is not None else b""
                return Reply(exc.code, _lower(exc.headers.items()), body)
        except urllib.error.URLError as exc:
            reason = exc.reason
            raise OSError(
                str(reason.strerror if isinstance(reason, OSError) and reason.strerror else reason)
            ) from None
        except (HTTPException, ValueError) as exc:  # a garbled answer
            raise OSError(str(exc) or type(exc).__name__) from None


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        out.setdefault(str(name).lower(), str(value))
    return out


# --- the check -----------------------------------------------------------------------------------


class ImageStatus(enum.StrEnum):
    FOUND = "found"
    MISSING = "missing"
    UNKNOWN = "unknown"  # the registry could not be asked or would not say


@dataclasses.dataclass(frozen=True)
class ImageCheck:
    image: str
    registry: str  # the registry's host, for messages
    status: ImageStatus
    digest: str | None = None  # Docker-Content-Digest, when the registry sent one
    detail: str = ""


def check_image(
    image: str,
    *,
    transport: Transport,
    docker_hub_url: str = DOCKER_HUB_URL,
    timeout_s: float = 15,
) -> ImageCheck:
    """Whether `image` exists in its registry, and its digest."""
    try:
        name = parse_image(image)
    except ValueError as exc:
        return ImageCheck(image, "", ImageStatus.UNKNOWN, detail=str(exc))
    base = registry_url(name, docker_hub_url)
    host = urllib.parse.urlsplit(base).netloc
    url = f"{base}/v2/{name.repository}/manifests/{urllib.parse.quote(name.reference, safe=':')}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES), "User-Agent": _AGENT}

    def unknown(detail: str) -> ImageCheck:
        return ImageCheck(image, host, ImageStatus.UNKNOWN, detail=detail)

    try:
        reply = transport.request("HEAD", url, headers, timeout_s)
        if reply.status == 401:
            headers["Authorization"] = (
                f"Bearer {_anonymous_token(reply, name, transport, timeout_s)}"
            )
            reply = transport.request("HEAD", url, headers, timeout_s)
        if reply.status in (404, 405, 501):  # a GET says why it is missing; some refuse HEAD
            reply = transport.request("GET", url, headers, timeout_s)
    except _NoToken as exc:
        return unknown(f"{host}: {exc}")
    except OSError as exc:
        return unknown(f"{host} unreachable: {exc}")
    if 200 <= reply.status < 300:
        digest = reply.headers.get("docker-content-digest")
        return ImageCheck(
            image, host, ImageStatus.FOUND, digest if digest and _DIGEST.match(digest) else None
        )
    if reply.status == 404:
        code = _error_code(reply.body)
        what = (
            "no such repository"
            if code == "NAME_UNKNOWN"
            else f"no manifest for {name.reference!r}"
        )
        return ImageCheck(image, host, ImageStatus.MISSING, detail=f"{what} ({code or 'HTTP 404'})")
    if reply.status in (401, 403):
        return unknown(
            f"{host} refused an anonymous pull of {name.repository} (HTTP {reply.status}: a private"
            " repository, or one that does not exist)"
        )
    if reply.status == 429:
        return unknown(f"{host} rate-limited the request (HTTP 429)")
    return unknown(f"{host} answered HTTP {reply.status}")


class _NoToken(Exception):
    """The registry offers no anonymous token: why, in a few words."""


def _anonymous_token(reply: Reply, name: ImageName, transport: Transport, timeout_s: float) -> str:
    """The anonymous pull token the 401's Bearer challenge points to (_NoToken when none)."""
    challenge = reply.headers.get("www-authenticate", "")
    scheme = challenge.split(" ", 1)[0].lower()
    if scheme != "bearer":
        raise _NoToken(f"wants {scheme or 'unknown'} credentials (no anonymous pull)")
    params = {m[0].lower(): m[1] or m[2] for m in _CHALLENGE_PARAM.findall(challenge)}
    realm = params.get("realm", "")
    if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
        raise _NoToken(f"sent a bad token realm {realm[:100]!r}")
    query = {"scope": params.get("scope") or f"repository:{name.repository}:pull"}
    if params.get("service"):
        query["service"] = params["service"]
    sep = "&" if urllib.parse.urlsplit(realm).query else "?"
    answer = transport.request(
        "GET", realm + sep + urllib.parse.urlencode(query), {"User-Agent": _AGENT}, timeout_s
    )
    if answer.status != 200:
        raise _NoToken(f"its token service answered HTTP {answer.status}")
    try:
        data = json.loads(answer.body)
        token = data.get("token") or data.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token or not token.isascii() or not token.isprintable():
        raise _NoToken("its token service sent no token")
    return token


def _error_code(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        code = errors[0].get("code", "")
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""
    return code if isinstance(code, str) and code.isupper() and len(code) < 40 else ""
