"""Fixtures of the hardening campaign.

- ``canaries``: a unique fake Paperspace API key and GitHub token for the test, set in
  ``os.environ`` too (so anything that leaks the process environment would carry them). At
  teardown the test fails if either appears anywhere but the ``X-API-Key`` / ``Authorization``
  headers: requests and notebooks of the fake Paperspace API (command, decoded harness spec,
  environment, name, tags, logs), the fake GitHub's log, comments and check runs, every file
  under ``tmp_path`` (output folders, ``GITHUB_OUTPUT``, the step summary, notebooks' folders),
  everything written to the process's stdout/stderr, and the output of every in-process
  ``grt`` run through ``canaries.grt``. Secrets are looked for as text, reversed, URL-quoted,
  JSON-escaped and base64-encoded.
- ``ps``: the fake Paperspace API serving the hardening workspace (``helpers.WORKSPACE_URL``).
- ``gh``: the fake GitHub API, the canary token an installation token, pull request ``PR``.
- ``actions_env``: a simulated GitHub Actions pull-request job for ``gh``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from gradient_runtime_test.harness.pack import BOOTSTRAP
from tests.carried import carried_spec
from tests.fakes.github import FakeGitHub
from tests.fakes.paperspace import FakePaperspace
from tests.github.helpers import HEAD, PR
from tests.hardening.helpers import (
    REPO,
    WORKSPACE_URL,
    Result,
    grt,
    make_workspace,
    notebook,
)


def _needles(secret: str) -> list[str]:
    """The forms a leaked secret could take in a text."""
    raw = secret.encode()
    forms = {secret, secret[::-1], urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1]}
    for shift in range(3):  # base64 of the secret at each alignment, edge characters dropped
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        start = (shift * 4 + 2) // 3 + 1
        forms.add(encoded[start : len(encoded) - 3])
    return sorted(f for f in forms if len(f) >= 8)


@dataclasses.dataclass
class Canaries:
    api_key: str
    token: str
    tmp_path: Path
    texts: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    paperspace: list[FakePaperspace] = dataclasses.field(default_factory=list)
    github: list[FakeGitHub] = dataclasses.field(default_factory=list)

    def grt(self, argv: Sequence[str], env: Mapping[str, str]) -> Result:
        """`grt` in-process; its stdout and stderr are searched at teardown."""
        result = grt(argv, env)
        self.texts.append((f"stdout of grt {' '.join(argv[:1])}", result.out))
        self.texts.append((f"stderr of grt {' '.join(argv[:1])}", result.err))
        return result

    def leaks(self, captured: str = "") -> list[str]:
        found: list[str] = []
        needles = {
            "API key": _needles(self.api_key),
            "GitHub token": _needles(self.token),
        }

        def look(where: str, text: str) -> None:
            for what, forms in needles.items():
                if any(form in text for form in forms):
                    found.append(f"{what} in {where}")

        look("the test's stdout/stderr", captured)
        for where, text in self.texts:
            look(where, text)
        for fake in self.paperspace:
            for request in fake.requests:
                if request.server != "metrics" and request.api_key != self.api_key:
                    found.append(f"a request to {request.path} without the API key header")
                headers = [(k, v) for k, v in request.headers if k.lower() != "x-api-key"]
                blob = json.dumps(
                    [request.path, request.raw_query, headers, request.command],
                    ensure_ascii=False,
                )
                look(f"request {request.method} {request.path}", blob)
                look(
                    f"body of {request.method} {request.path}",
                    request.body.decode(errors="replace"),
                )
            for nb in fake.notebooks.values():
                spec = nb.spec
                look(f"notebook {nb.handle} name/tags", json.dumps([nb.name, nb.tags]))
                look(f"notebook {nb.handle} environment", json.dumps(spec.environment))
                look(f"notebook {nb.handle} command", spec.command or "")
                look(f"notebook {nb.handle} executed command", nb.executed_command or "")
                look(f"notebook {nb.handle} log", nb.log_text())
                if spec.command and BOOTSTRAP in spec.command:
                    look(
                        f"notebook {nb.handle} harness spec",
                        json.dumps(carried_spec(spec.command), ensure_ascii=False),
                    )
        for hub in self.github:
            for sent in hub.requests():  # its `token` is the Authorization header
                look(
                    f"GitHub request {sent.method} {sent.path}",
                    json.dumps([sent.path, sent.query, sent.body], ensure_ascii=False),
                )
            with hub.lock:
                comments = [c.body for c in hub.comments.values()]
                checks = [json.dumps(r.data, ensure_ascii=False) for r in hub.check_runs.values()]
            for body in comments:
                look("a PR comment", body)
            for data in checks:
                look("a check run", data)
        for file in sorted(self.tmp_path.rglob("*")):
            if file.is_file() and not file.is_symlink():
                look(
                    str(file.relative_to(self.tmp_path)), file.read_bytes().decode(errors="replace")
                )
        return sorted(set(found))


@pytest.fixture
def canaries(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> Iterator[Canaries]:
    unique = uuid.uuid4().hex
    found = Canaries(
        api_key=f"psk-canary-{unique[:16]}", token=f"ghs_canary{unique[16:]}", tmp_path=tmp_path
    )
    monkeypatch.setenv("PAPERSPACE_API_KEY", found.api_key)
    monkeypatch.setenv("GITHUB_TOKEN", found.token)
    yield found
    captured = capfd.readouterr()
    leaks = found.leaks(captured.out + captured.err)
    if leaks:
        pytest.fail("secret canary leaked:\n" + "\n".join(leaks), pytrace=False)


# --- the fakes ----------------------------------------------------------------------------------

HELLO = notebook("print('hello from the hardening workspace')")


@pytest.fixture
def workspace_files() -> dict[str, str]:
    """The hardening workspace's files; a test may add to them before using `ps`."""
    return {"hello.ipynb": HELLO}


@pytest.fixture
def ps(
    fake_paperspace: FakePaperspace,
    tmp_path: Path,
    workspace_files: dict[str, str],
    canaries: Canaries,
) -> FakePaperspace:
    canaries.paperspace.append(fake_paperspace)  # searched after the test
    fake_paperspace.hour_s = 600.0  # shutdownTimeout 6 h = 1 h here: never reached
    fake_paperspace.repositories[WORKSPACE_URL] = make_workspace(tmp_path, workspace_files)
    return fake_paperspace


@pytest.fixture
def gh(canaries: Canaries) -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_token(canaries.token, kind="installation")
        server.add_pull(PR, HEAD)
        canaries.github.append(server)  # searched after the test (its records outlive it)
        yield server


@pytest.fixture
def actions_env(gh: FakeGitHub, canaries: Canaries, tmp_path: Path) -> dict[str, str]:
    """A pull request's GitHub Actions job, talking to `gh`."""
    event = tmp_path / "event.json"
    event.write_text((REPO / "tests/github/events/pull_request.json").read_text())
    for name in ("github-output", "step-summary"):
        (tmp_path / name).write_text("")
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": gh.full_name,
        "GITHUB_SHA": "f" * 40,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": gh.url,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_TOKEN": canaries.token,
        "GITHUB_OUTPUT": str(tmp_path / "github-output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary"),
    }
