"""The PR comment against the fake GitHub API, through real PyGithub."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
from github.MainClass import Github

from gradient_runtime_test.github import comment_body, state
from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.comment import LiveComment, upsert_comment
from gradient_runtime_test.github.context import GitHubContext
from gradient_runtime_test.results import CellStatus
from tests.fakes.github import BOT, FakeGitHub
from tests.github.helpers import PERSONAL, PR, READ_ONLY, cell, run_of

pytestmark = pytest.mark.server

MakeGh = Callable[..., Github]
MARKER = comment_body.marker("PyTorch 1.12")


def test_first_run_creates_one_comment_and_second_edits_it(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    gh = make_gh()
    first = upsert_comment(gh, context, run_of(cell("A4000")), actions)
    assert first is not None
    [created] = fake.comments_on(PR)
    assert created.login == BOT
    assert created.body.startswith(MARKER)

    later = dataclasses.replace(context, run_id="101")
    second = upsert_comment(gh, later, run_of(cell("A4000", CellStatus.FAILED, "x")), actions)
    assert second == first
    [edited] = fake.comments_on(PR)
    assert edited.id == created.id
    assert "❌ failed" in edited.body
    assert len(fake.requests("PATCH", r"/issues/comments/")) == 1
    assert actions.messages == []


def test_personal_token_comments_as_its_login(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    gh = make_gh(PERSONAL)
    context = dataclasses.replace(context, token=PERSONAL)
    upsert_comment(gh, context, run_of(cell("A4000")), actions)
    upsert_comment(gh, context, run_of(cell("A4000")), actions)
    [comment] = fake.comments_on(PR)
    assert comment.login == "octocat"
    assert [r.status for r in fake.requests("GET", "^/user$")] == [200, 200]


def test_a_comment_by_someone_else_holding_our_marker_is_left_alone(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    quoted = fake.seed_comment(PR, f"{MARKER}\nquoted by a human", login="alice")
    upsert_comment(make_gh(), context, run_of(cell("A4000")), actions)
    comments = fake.comments_on(PR)
    assert [c.login for c in comments] == ["alice", BOT]
    assert comments[0].id == quoted
    assert comments[0].body == f"{MARKER}\nquoted by a human"
    assert fake.requests("PATCH", f"/issues/comments/{quoted}$") == []


def test_another_runtimes_comment_is_not_ours(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    gh = make_gh()
    upsert_comment(gh, context, run_of(cell("A4000"), runtime="TensorFlow 2.9"), actions)
    upsert_comment(gh, context, run_of(cell("A4000")), actions)
    bodies = [c.body.splitlines()[0] for c in fake.comments_on(PR)]
    assert bodies == [comment_body.marker("TensorFlow 2.9"), MARKER]


def test_ours_is_found_on_a_later_page(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    for i in range(130):
        fake.seed_comment(PR, f"chatter {i}", login="alice")
    ours = fake.seed_comment(PR, f"{MARKER}\nold", login=BOT, user_type="Bot")
    for i in range(120):
        fake.seed_comment(PR, f"more chatter {i}", login="bob")

    upsert_comment(make_gh(), context, run_of(cell("A4000")), actions)

    assert len(fake.comments_on(PR)) == 251
    assert fake.requests("POST", "/comments$") == []
    assert len(fake.requests("PATCH", f"/issues/comments/{ours}$")) == 1
    pages = [r.query.get("page", "1") for r in fake.requests("GET", "/issues/7/comments$")]
    assert pages == ["1", "2", "3"]
    assert {r.query.get("per_page") for r in fake.requests("GET", "/comments$")} == {"100"}


def test_two_reporters_at_once_leave_one_comment(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    # Both lists are answered before either reporter creates, so both create; each merges
    # duplicates after its own create.
    fake.barrier("GET", "/issues/7/comments$", parties=2)
    errors: list[BaseException] = []

    def report(machine: str) -> None:
        try:
            upsert_comment(make_gh(), context, run_of(cell(machine)), actions)
        except BaseException as e:  # pragma: no cover - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=report, args=(m,)) for m in ("A4000", "P5000")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert actions.messages == []
    assert len(fake.requests("POST", "/issues/7/comments$")) == 2
    [left] = fake.comments_on(PR)
    assert left.body.startswith(MARKER)
    deleted = {int(r.path.rsplit("/", 1)[1]) for r in fake.requests("DELETE") if r.status == 204}
    assert len(deleted) == 1
    assert left.id < min(deleted)  # the oldest is kept


def test_head_moved_past_the_tested_commit_is_said(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    fake.add_pull(PR, "9" * 40)
    upsert_comment(make_gh(), context, run_of(cell("A4000")), actions)
    [comment] = fake.comments_on(PR)
    assert "> [!WARNING]" in comment.body
    assert "moved to `9999999`" in comment.body
    assert "tested `1111111`" in comment.body


def test_head_not_moved_says_nothing(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    upsert_comment(make_gh(), context, run_of(cell("A4000")), actions)
    assert "[!WARNING]" not in fake.comments_on(PR)[0].body


def test_changes_since_the_previous_run(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    gh = make_gh()
    upsert_comment(
        gh, context, run_of(cell("A4000", CellStatus.FAILED, "nb/a"), cell("P5000")), actions
    )
    assert "Changes since the previous run" not in fake.comments_on(PR)[0].body

    nxt = dataclasses.replace(context, run_id="101")
    live = LiveComment(gh, nxt, "PyTorch 1.12", actions, clock=lambda: 0.0)
    live.start(run_of(cell("A4000", CellStatus.QUEUED), cell("P5000", CellStatus.QUEUED)))
    live.finish(run_of(cell("A4000"), cell("P5000", CellStatus.FAILED, "nb/b")))
    body = fake.comments_on(PR)[0].body
    assert "- New failures:\n  - `P5000`: passed → failed (`nb/b`)" in body
    assert "- Fixed:\n  - `A4000`: failed → passed" in body
    saved = state.decode(body)
    assert saved is not None and saved.run == "101/1"


def test_live_updates_are_throttled(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    now = [0.0]
    live = LiveComment(make_gh(), context, "PyTorch 1.12", actions, clock=lambda: now[0])
    machines = ("A4000", "P5000", "V100")
    live.start(run_of(*(cell(m, CellStatus.QUEUED) for m in machines)))
    [comment] = fake.comments_on(PR)
    assert comment.body.count("⏳ queued") == 3

    for t in (1.0, 5.0, 9.9):  # inside the 10 s window: no edit
        now[0] = t
        live.update(run_of(cell("A4000", CellStatus.RUNNING), *(cell(m) for m in machines[1:])))
    assert fake.requests("PATCH") == []
    now[0] = 10.0
    live.update(run_of(cell("A4000", CellStatus.RUNNING), *(cell(m) for m in machines[1:])))
    now[0] = 12.0
    live.update(run_of(*(cell(m) for m in machines)))
    assert len(fake.requests("PATCH")) == 1
    assert live.finish(run_of(*(cell(m) for m in machines))) == live.url
    assert len(fake.requests("PATCH")) == 2  # finish always edits
    assert len(fake.comments_on(PR)) == 1
    assert "✅ passed" in fake.comments_on(PR)[0].body


def test_a_failure_flood_stays_under_the_limit(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    cells = [
        cell(
            f"machine-{i:03d}-" + "x" * 40,
            CellStatus.FAILED,
            *(f"notebooks/n{j}" for j in range(5)),
        )
        for i in range(200)
    ]
    url = upsert_comment(make_gh(), context, run_of(*cells), actions)
    assert url is not None, actions.messages
    [comment] = fake.comments_on(PR)
    assert len(comment.body) <= 65_536
    assert comment.body.startswith(MARKER)
    assert context.run_url in comment.body


def test_a_deleted_comment_is_recreated(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    live = LiveComment(make_gh(), context, "PyTorch 1.12", actions, clock=lambda: 0.0)
    live.start(run_of(cell("A4000", CellStatus.QUEUED)))
    with fake.lock:
        fake.comments.clear()
    live.finish(run_of(cell("A4000")))
    assert len(fake.comments_on(PR)) == 1
    assert actions.messages == []


def test_read_only_token_warns_once_and_does_not_raise(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    now = [0.0]
    live = LiveComment(make_gh(READ_ONLY), context, "PyTorch 1.12", actions, clock=lambda: now[0])
    live.start(run_of(cell("A4000", CellStatus.QUEUED)))
    now[0] = 100.0
    live.update(run_of(cell("A4000", CellStatus.RUNNING)))
    assert live.finish(run_of(cell("A4000"))) is None
    [(level, message)] = actions.messages
    assert level == "warning"
    assert "Resource not accessible by integration" in message
    assert len(fake.requests("POST")) == 1


def test_server_errors_after_retries_are_a_warning(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, sleeps: list[float]
) -> None:
    fake.fail("/comments$", times=50, status=502)
    assert upsert_comment(make_gh(), context, run_of(cell("A4000")), actions) is None
    [(level, message)] = actions.messages
    assert level == "warning"
    assert "PyTorch 1.12" in message
    assert len(fake.requests("GET", "/comments$")) == 5  # the first try and 4 retries


def test_a_rate_limit_outlasting_the_retries_is_tried_again_later(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions, sleeps: list[float]
) -> None:
    fake.secondary_rate_limit("/issues/7/comments$", method="POST", times=5, retry_after=3)
    now = [0.0]
    live = LiveComment(make_gh(), context, "PyTorch 1.12", actions, clock=lambda: now[0])
    live.start(run_of(cell("A4000", CellStatus.QUEUED)))
    assert sleeps == [3.0] * 4  # 4 retries, each after Retry-After
    [(level, message)] = actions.messages
    assert level == "warning" and "PyTorch 1.12" in message
    assert fake.comments_on(PR) == []
    now[0] = 20.0
    live.update(run_of(cell("A4000", CellStatus.RUNNING)))
    assert len(fake.comments_on(PR)) == 1
    assert len(actions.messages) == 1
