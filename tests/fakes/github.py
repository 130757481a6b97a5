"""A fake GitHub REST API on 127.0.0.1 that real PyGithub talks to.

Serves what the reporters use: the repository, issues, issue comments (paginated with `Link`
headers, `per_page` respected up to 100), pull requests, check runs, `GET /user`, and a release's assets (list, delete, and the upload that
GitHub serves at uploads.github.com: here at the same address, with a raw body). It enforces
GitHub's limits that matter here (65,536-character comment bodies, 50 annotations per check-run
request, 65,535-character check outputs) with GitHub's 422 validation-error shape.

Tokens: `installation` tokens of a GitHub App (403 on GET /user; author `<app_slug>[bot]`, of
type Bot: `github-actions[bot]` for an Actions GITHUB_TOKEN, the default), `personal` tokens (GET
/user gives the login; creating a check run is refused: only GitHub Apps may) and read-only tokens
(403 "Resource not accessible by integration" on every write). Any write token may edit or delete
any comment (as a repository writer can). Faults: bursts of 5xx on a path, a secondary rate limit
with `Retry-After`, 429 with or without `Retry-After`, a stall (the request is accepted and never
answered), and a barrier that holds the answers to the first N matching requests until all are
answered (to make races happen). Every request is logged, thread-safely.

    with FakeGitHub() as fake:
        token = fake.add_token("t", kind="installation")
        gh = Github(auth=Auth.Token(token), base_url=fake.url)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any, dict[str, str]]  # status, JSON payload (None: no body), headers

BODY_LIMIT = 65_536
OUTPUT_LIMIT = 65_535
ANNOTATION_LIMIT = 50
BOT = "github-actions[bot]"
DOCS = "https://docs.github.com/rest"
APP_ONLY = "You must authenticate via a GitHub App."  # GitHub's answer to a PAT's check run
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclasses.dataclass
class Token:
    value: str
    kind: str  # "installation" | "personal"
    login: str
    read_only: bool = False


@dataclasses.dataclass
class Comment:
    id: int
    issue: int
    body: str
    login: str
    user_type: str
    created: datetime
    updated: datetime


@dataclasses.dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    data: dict[str, Any]
    annotations: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    requests: int = 1


@dataclasses.dataclass
class ReleaseAsset:
    id: int
    release: int  # the release's id
    name: str
    content_type: str
    data: bytes
    label: str = ""


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    token: str | None
    status: int
    body: Any = None


@dataclasses.dataclass
class _Fault:
    method: str | None
    pattern: re.Pattern[str]
    times: int
    status: int
    headers: dict[str, str]
    payload: dict[str, Any]
    stall: bool = False


@dataclasses.dataclass
class _Hold:
    method: str
    pattern: re.Pattern[str]
    barrier: threading.Barrier
    remaining: int


class _Error(Exception):
    def __init__(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


def _message(status: int, message: str) -> _Error:
    return _Error(status, {"message": message, "documentation_url": DOCS})


def _validation(resource: str, field: str, message: str) -> _Error:
    return _Error(
        422,
        {
            "message": "Validation Failed",
            "errors": [
                {"resource": resource, "code": "custom", "field": field, "message": message}
            ],
            "documentation_url": DOCS,
        },
    )


class FakeGitHub:
    """The fake API's state and server. Use as a context manager; `url` is the API base URL."""

    def __init__(self, owner: str = "octo", repo: str = "runtimes") -> None:
        self.owner = owner
        self.repo = repo
        self.lock = threading.RLock()
        self.tokens: dict[str, Token] = {}
        self.comments: dict[int, Comment] = {}
        self.pulls: dict[int, dict[str, str]] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.releases: dict[int, str] = {}  # id -> tag
        self.assets: dict[int, ReleaseAsset] = {}
        self.log: list[Request] = []
        self._faults: list[_Fault] = []
        self._holds: list[_Hold] = []
        self._next_id = 1000
        self._tick = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.closing = threading.Event()  # set on exit: stalled requests give up

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(_Handler):
            api = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self.closing.set()
        for hold in self._holds:
            hold.barrier.abort()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    # -- set-up knobs --------------------------------------------------------------------------

    def add_token(
        self,
        value: str,
        *,
        kind: str = "installation",
        login: str = "",
        read_only: bool = False,
        app_slug: str = "github-actions",
    ) -> str:
        """A token; an installation token writes as `<app_slug>[bot]`."""
        if kind not in ("installation", "personal"):
            raise ValueError(kind)
        login = f"{app_slug}[bot]" if kind == "installation" else (login or "octocat")
        with self.lock:
            self.tokens[value] = Token(value, kind, login, read_only)
        return value

    def add_pull(self, number: int, head_sha: str, *, head_repo: str | None = None) -> None:
        with self.lock:
            self.pulls[number] = {"sha": head_sha, "repo": head_repo or self.full_name}

    def add_release(self, tag: str) -> int:
        """A published release of `tag`; its id."""
        with self.lock:
            self._next_id += 1
            self.releases[self._next_id] = tag
            return self._next_id

    def add_asset(self, release: int, name: str, data: bytes) -> int:
        """An asset already on a release (as one uploaded by hand); its id."""
        with self.lock:
            self._next_id += 1
            self.assets[self._next_id] = ReleaseAsset(
                self._next_id, release, name, "application/octet-stream", data
            )
            return self._next_id

    def release_urls(self, release: int) -> dict[str, str]:
        """The URLs of a release as a `release` event's payload gives them."""
        base = f"{self.url}/repos/{self.full_name}/releases/{release}"
        return {
            "url": base,
            "assets_url": f"{base}/assets",
            "upload_url": f"{base}/assets{{?name,label}}",
        }

    def assets_of(self, release: int) -> dict[str, ReleaseAsset]:
        with self.lock:
            return {a.name: a for a in self.assets.values() if a.release == release}

    def seed_comment(self, issue: int, body: str, *, login: str, user_type: str = "User") -> int:
        with self.lock:
            return self._add_comment(issue, body, login, user_type).id

    def fail(
        self, path_regex: str, *, times: int, status: int = 502, method: str | None = None
    ) -> None:
        """The next `times` requests matching answer `status` (a 5xx burst)."""
        self._add_fault(
            method=method,
            path_regex=path_regex,
            times=times,
            status=status,
            headers={},
            payload={"message": "Server Error"},
        )

    def secondary_rate_limit(
        self, path_regex: str, *, times: int = 1, retry_after: int = 1, method: str | None = None
    ) -> None:
        payload = {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again.",
            "documentation_url": DOCS,
        }
        self._add_fault(
            method=method,
            path_regex=path_regex,
            times=times,
            status=403,
            headers={"Retry-After": str(retry_after)},
            payload=payload,
        )

    def rate_limit(
        self,
        path_regex: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        """The next `times` matching requests answer 429 Too Many Requests (with `Retry-After`
        when given: PyGithub alone retries a 429 only then)."""
        self._add_fault(
            method=method,
            path_regex=path_regex,
            times=times,
            status=429,
            headers={} if retry_after is None else {"Retry-After": str(retry_after)},
            payload={"message": "Too Many Requests", "documentation_url": DOCS},
        )

    def stall(self, path_regex: str, *, times: int = 1, method: str | None = None) -> None:
        """The next `times` matching requests are accepted and never answered (until exit)."""
        with self.lock:
            self._faults.append(
                _Fault(method, re.compile(path_regex), times, 0, {}, {}, stall=True)
            )

    def barrier(self, method: str, path_regex: str, parties: int) -> None:
        """Hold the answers to the first `parties` matching requests until all are answered.

        Every one of them sees the state from before any client could act on an answer.
        """
        with self.lock:
            self._holds.append(
                _Hold(
                    method, re.compile(path_regex), threading.Barrier(parties, timeout=10), parties
                )
            )

    def _hold_for(self, method: str, path: str) -> threading.Barrier | None:
        with self.lock:
            for hold in self._holds:
                if hold.remaining > 0 and hold.method == method and hold.pattern.search(path):
                    hold.remaining -= 1
                    return hold.barrier
        return None

    def _add_fault(
        self,
        *,
        method: str | None,
        path_regex: str,
        times: int,
        status: int,
        headers: dict[str, str],
        payload: dict[str, Any],
    ) -> None:
        with self.lock:
            self._faults.append(
                _Fault(method, re.compile(path_regex), times, status, headers, payload)
            )

    # -- queries for tests ---------------------------------------------------------------------

    def requests(self, method: str | None = None, path_regex: str = "") -> list[Request]:
        with self.lock:
            log = list(self.log)
        pattern = re.compile(path_regex)
        return [r for r in log if (method is None or r.method == method) and pattern.search(r.path)]

    def comments_on(self, issue: int) -> list[Comment]:
        with self.lock:
            return sorted(
                (c for c in self.comments.values() if c.issue == issue), key=lambda c: c.id
            )

    # -- state helpers (called with the lock held) ---------------------------------------------

    def _now(self) -> datetime:
        self._tick += 1
        return _EPOCH + timedelta(seconds=self._tick)

    def _add_comment(self, issue: int, body: str, login: str, user_type: str) -> Comment:
        self._next_id += 1
        now = self._now()
        comment = Comment(self._next_id, issue, body, login, user_type, now, now)
        self.comments[comment.id] = comment
        return comment

    def _user(self, login: str, user_type: str) -> dict[str, Any]:
        return {
            "login": login,
            "id": abs(hash(login)) % 10**8,
            "type": user_type,
            "url": f"{self.url}/users/{urllib.parse.quote(login)}",
            "html_url": f"https://github.com/{urllib.parse.quote(login)}",
        }

    def _repo_json(self, full_name: str | None = None) -> dict[str, Any]:
        full_name = full_name or self.full_name
        owner, name = full_name.split("/")
        return {
            "id": 1,
            "name": name,
            "full_name": full_name,
            "owner": self._user(owner, "Organization"),
            "private": False,
            "fork": full_name != self.full_name,
            "default_branch": "main",
            "url": f"{self.url}/repos/{full_name}",
            "html_url": f"https://github.com/{full_name}",
        }

    def _comment_json(self, c: Comment) -> dict[str, Any]:
        base = f"{self.url}/repos/{self.full_name}"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "body": c.body,
            "user": self._user(c.login, c.user_type),
            "author_association": "NONE" if c.user_type == "Bot" else "MEMBER",
            "url": f"{base}/issues/comments/{c.id}",
            "html_url": f"https://github.com/{self.full_name}/pull/{c.issue}#issuecomment-{c.id}",
            "issue_url": f"{base}/issues/{c.issue}",
            "created_at": c.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": c.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def _check_json(self, run: CheckRun) -> dict[str, Any]:
        output = dict(run.data.get("output") or {})
        output.pop("annotations", None)
        output["annotations_count"] = len(run.annotations)
        return {
            **{k: v for k, v in run.data.items() if k != "output"},
            "id": run.id,
            "name": run.name,
            "head_sha": run.head_sha,
            "output": output,
            "url": f"{self.url}/repos/{self.full_name}/check-runs/{run.id}",
            "html_url": f"https://github.com/{self.full_name}/runs/{run.id}",
        }


class _Handler(BaseHTTPRequestHandler):
    api: FakeGitHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each response waits for a delayed ACK (~40 ms)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the fake keeps its own log

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        api = self.api
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        binary = self.headers.get("Content-Type", "").startswith("application/octet-stream")
        body: Any = raw if binary else json.loads(raw) if raw else None
        token = _token_of(self.headers.get("Authorization"))
        headers: dict[str, str] = {}
        if self._stalled(method, path):
            api.closing.wait()
            self.close_connection = True
            return
        try:
            status, payload, headers = self._route(method, path, query, body, token)
        except _Error as e:
            status, payload, headers = e.status, e.payload, e.headers
        hold = api._hold_for(method, path)
        if hold is not None:  # answered, but not sent until the others are answered too
            with contextlib.suppress(threading.BrokenBarrierError):
                hold.wait()
        with api.lock:
            api.log.append(Request(method, path, query, token, status, body))
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _stalled(self, method: str, path: str) -> bool:
        api = self.api
        with api.lock:
            for fault in api._faults:
                matches = fault.method in (None, method) and fault.pattern.search(path)
                if fault.stall and fault.times > 0 and matches:
                    fault.times -= 1
                    api.log.append(Request(method, path, {}, None, 0))
                    return True
        return False

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, token_value: str | None
    ) -> Reply:
        api = self.api
        with api.lock:
            for fault in api._faults:
                if (
                    fault.times > 0
                    and not fault.stall
                    and (fault.method in (None, method))
                    and fault.pattern.search(path)
                ):
                    fault.times -= 1
                    raise _Error(fault.status, fault.payload, dict(fault.headers))
            token = api.tokens.get(token_value or "")
        if token_value is not None and token is None:
            raise _message(401, "Bad credentials")
        if method != "GET":
            if token is None:
                raise _message(401, "Requires authentication")
            if token.read_only:
                raise _message(403, "Resource not accessible by integration")
        if path == "/user" and method == "GET":
            if token is None:
                raise _message(401, "Requires authentication")
            if token.kind == "installation":
                raise _message(403, "Resource not accessible by integration")
            return 200, api._user(token.login, "User"), {}
        prefix = f"/repos/{api.full_name}"
        if not path.startswith(prefix):
            raise _message(404, "Not Found")
        rest = path[len(prefix) :]
        for pattern, handler in _ROUTES:
            match = pattern.fullmatch(f"{method} {rest}")
            if match:
                return handler(self, token, query, body, *match.groups())
        raise _message(404, "Not Found")

    # -- handlers ------------------------------------------------------------------------------

    def _repo(self, token: Token | None, query: dict[str, str], body: Any) -> Reply:
        return 200, self.api._repo_json(), {}

    def _issue(self, token: Token | None, query: dict[str, str], body: Any, number: str) -> Reply:
        api = self.api
        n = int(number)
        return (
            200,
            {
                "id": n,
                "number": n,
                "title": f"PR {n}",
                "state": "open",
                "url": f"{api.url}/repos/{api.full_name}/issues/{n}",
                "html_url": f"https://github.com/{api.full_name}/pull/{n}",
                "pull_request": {"url": f"{api.url}/repos/{api.full_name}/pulls/{n}"},
            },
            {},
        )

    def _list_comments(
        self, token: Token | None, query: dict[str, str], body: Any, number: str
    ) -> Reply:
        api = self.api
        per_page = max(1, min(100, int(query.get("per_page") or 30)))
        page = max(1, int(query.get("page") or 1))
        comments = api.comments_on(int(number))
        last = max(1, -(-len(comments) // per_page))
        chunk = comments[(page - 1) * per_page : page * per_page]
        with api.lock:
            items = [api._comment_json(c) for c in chunk]
        base = f"{api.url}/repos/{api.full_name}/issues/{number}/comments"

        def link(p: int, rel: str) -> str:
            return f'<{base}?per_page={per_page}&page={p}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return 200, items, ({"Link": ", ".join(links)} if links else {})

    def _create_comment(
        self, token: Token | None, query: dict[str, str], body: Any, number: str
    ) -> Reply:
        assert token is not None
        text = _body_of(body)
        api = self.api
        with api.lock:
            comment = api._add_comment(
                int(number), text, token.login, "Bot" if token.kind == "installation" else "User"
            )
            return 201, api._comment_json(comment), {}

    def _comment(self, token: Token | None, query: dict[str, str], body: Any, cid: str) -> Reply:
        api = self.api
        with api.lock:
            comment = api.comments.get(int(cid))
            if comment is None:
                raise _message(404, "Not Found")
            if self.command == "DELETE":
                del api.comments[comment.id]
                return 204, None, {}
            if self.command == "PATCH":
                comment.body = _body_of(body)
                comment.updated = api._now()
            return 200, api._comment_json(comment), {}

    def _pull(self, token: Token | None, query: dict[str, str], body: Any, number: str) -> Reply:
        api = self.api
        with api.lock:
            pull = api.pulls.get(int(number))
            if pull is None:
                raise _message(404, "Not Found")
            n = int(number)
            return (
                200,
                {
                    "id": n,
                    "number": n,
                    "state": "open",
                    "url": f"{api.url}/repos/{api.full_name}/pulls/{n}",
                    "html_url": f"https://github.com/{api.full_name}/pull/{n}",
                    "head": {
                        "sha": pull["sha"],
                        "ref": "feature",
                        "label": "feature",
                        "repo": api._repo_json(pull["repo"]),
                    },
                    "base": {"sha": "b" * 40, "ref": "main", "repo": api._repo_json()},
                },
                {},
            )

    def _create_check(self, token: Token | None, query: dict[str, str], body: Any) -> Reply:
        api = self.api
        if token is not None and token.kind == "personal":
            raise _message(403, APP_ONLY)
        notes = _check_output(body)
        for field in ("name", "head_sha"):
            if not body.get(field):
                raise _validation("CheckRun", field, f"{field} wasn't supplied.")
        with api.lock:
            api._next_id += 1
            run = CheckRun(api._next_id, body["name"], body["head_sha"], dict(body), notes)
            api.check_runs[run.id] = run
            return 201, api._check_json(run), {}

    def _edit_check(self, token: Token | None, query: dict[str, str], body: Any, rid: str) -> Reply:
        api = self.api
        notes = _check_output(body)
        with api.lock:
            run = api.check_runs.get(int(rid))
            if run is None:
                raise _message(404, "Not Found")
            run.data.update(body)
            run.annotations.extend(notes)
            run.requests += 1
            return 200, api._check_json(run), {}

    def _asset_json(self, asset: ReleaseAsset) -> dict[str, Any]:
        api = self.api
        return {
            "id": asset.id,
            "name": asset.name,
            "label": asset.label,
            "content_type": asset.content_type,
            "size": len(asset.data),
            "state": "uploaded",
            "url": f"{api.url}/repos/{api.full_name}/releases/assets/{asset.id}",
            "browser_download_url": f"https://github.com/{api.full_name}/releases/download/"
            f"{api.releases[asset.release]}/{asset.name}",
        }

    def _release_of(self, rid: str) -> int:
        if int(rid) not in self.api.releases:
            raise _message(404, "Not Found")
        return int(rid)

    def _list_assets(
        self, token: Token | None, query: dict[str, str], body: Any, rid: str
    ) -> Reply:
        api = self.api
        with api.lock:
            release = self._release_of(rid)
            per_page = max(1, min(100, int(query.get("per_page") or 30)))
            assets = [a for a in api.assets.values() if a.release == release][:per_page]
            return 200, [self._asset_json(a) for a in assets], {}

    def _upload_asset(
        self, token: Token | None, query: dict[str, str], body: Any, rid: str
    ) -> Reply:
        """GitHub's upload: the file as the raw body, its name in `?name=`; a name already
        on the release is refused (422 already_exists), as GitHub does."""
        api = self.api
        name = query.get("name", "")
        if not name:
            raise _validation("ReleaseAsset", "name", "name wasn't supplied.")
        if not isinstance(body, bytes) or not body:
            raise _validation("ReleaseAsset", "body", "a raw, non-empty body is required.")
        with api.lock:
            release = self._release_of(rid)
            if name in api.assets_of(release):
                raise _Error(
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [
                            {"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}
                        ],
                        "documentation_url": DOCS,
                    },
                )
            api._next_id += 1
            asset = ReleaseAsset(
                api._next_id, release, name, self.headers.get("Content-Type", ""), body,
                query.get("label", ""),
            )  # fmt: skip
            api.assets[asset.id] = asset
            return 201, self._asset_json(asset), {}

    def _asset(self, token: Token | None, query: dict[str, str], body: Any, aid: str) -> Reply:
        api = self.api
        with api.lock:
            asset = api.assets.get(int(aid))
            if asset is None:
                raise _message(404, "Not Found")
            if self.command == "DELETE":
                del api.assets[asset.id]
                return 204, None, {}
            return 200, self._asset_json(asset), {}


def _token_of(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") else None


def _body_of(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        raise _validation("IssueComment", "body", "body wasn't supplied.")
    text: str = body["body"]
    if len(text) > BODY_LIMIT:
        raise _validation(
            "IssueComment", "body", f"body is too long (maximum is {BODY_LIMIT} characters)"
        )
    return text


def _check_output(body: Any) -> list[dict[str, Any]]:
    """Validate a check run's output; its annotations."""
    output = (body or {}).get("output")
    if output is None:
        return []
    for field in ("title", "summary"):
        if not isinstance(output.get(field), str):
            raise _validation("CheckRun", f"output.{field}", f"{field} wasn't supplied.")
    for field in ("summary", "text"):
        if len(output.get(field) or "") > OUTPUT_LIMIT:
            raise _validation(
                "CheckRun", f"output.{field}", f"is too long (maximum is {OUTPUT_LIMIT} characters)"
            )
    notes = list(output.get("annotations") or [])
    if len(notes) > ANNOTATION_LIMIT:
        raise _validation(
            "CheckRun", "output.annotations", f"at most {ANNOTATION_LIMIT} annotations per request"
        )
    required = ("path", "start_line", "end_line", "annotation_level", "message")
    for note in notes:
        missing = [k for k in required if k not in note]
        if missing or note["annotation_level"] not in ("notice", "warning", "failure"):
            raise _validation("CheckRun", "output.annotations", f"invalid annotation {note}")
    return notes


_ROUTES: list[tuple[re.Pattern[str], Callable[..., Reply]]] = [
    (re.compile(r"GET "), _Handler._repo),
    (re.compile(r"GET /issues/(\d+)"), _Handler._issue),
    (re.compile(r"GET /issues/(\d+)/comments"), _Handler._list_comments),
    (re.compile(r"POST /issues/(\d+)/comments"), _Handler._create_comment),
    (re.compile(r"(?:GET|PATCH|DELETE) /issues/comments/(\d+)"), _Handler._comment),
    (re.compile(r"GET /pulls/(\d+)"), _Handler._pull),
    (re.compile(r"POST /check-runs"), _Handler._create_check),
    (re.compile(r"PATCH /check-runs/(\d+)"), _Handler._edit_check),
    (re.compile(r"GET /releases/(\d+)/assets"), _Handler._list_assets),
    (re.compile(r"POST /releases/(\d+)/assets"), _Handler._upload_asset),
    (re.compile(r"(?:GET|DELETE) /releases/assets/(\d+)"), _Handler._asset),
]
