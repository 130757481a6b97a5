"""Comments that cannot be hijacked: text from a result (a notebook's exception, a machine's or a
runtime's name) can neither hand a runtime's comment to another runtime, nor pass for the hidden
state, nor mention anyone, link anywhere or render HTML. Against the fake GitHub API through
real PyGithub, and on the rendered text."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from github.MainClass import Github

from gradient_runtime_test.github import comment_body, state
from gradient_runtime_test.github.actions import Actions
from gradient_runtime_test.github.comment import upsert_comment
from gradient_runtime_test.github.context import GitHubContext
from gradient_runtime_test.report import markdown
from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult, TestStatus
from tests.fakes.github import FakeGitHub
from tests.github.helpers import HEAD, PR, cell, run_of

MakeGh = Callable[..., Github]
HEADER = comment_body.Header(
    run_url="https://github.com/octo/runtimes/actions/runs/1",
    run_key="1/1",
    sha=HEAD,
    commit_url=f"https://github.com/octo/runtimes/commit/{HEAD}",
)
VICTIM = "TensorFlow 2.9"
FORGED_STATE = state.encode(state.State(run="0/1", cells={"A4000": ("passed", ())}))


def failing(machine: str, message: str, details: str) -> CellResult:
    test = TestResult("notebooks/x.ipynb", TestStatus.FAILED, 1.0, message, details)
    return CellResult(machine=machine, status=CellStatus.FAILED, tests=(test,), log_tail=(details,))


def hostile_run(text: str, runtime: str = "PyTorch 1.12") -> RunResult:
    """A failed run with `text` in every place a result puts text: names, reasons, messages,
    tracebacks, log lines, environment."""
    bad = failing(text, text, f"Traceback (most recent call last):\n{text}\nValueError: {text}")
    broken = CellResult(
        machine=f"B {text}",
        status=CellStatus.ERROR,
        reason=text,
        notebook_id=text,
        environment={"gpus": [text]},
        log_tail=(text, f"``` {text}"),
    )
    return dataclasses.replace(run_of(bad, broken, runtime=runtime), workspace_ref=text)


# --- the hijack, against the fake GitHub --------------------------------------------------------


@pytest.mark.server
def test_a_failing_notebook_quoting_another_runtimes_marker_cannot_hand_its_comment_over(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    quoted = comment_body.marker(VICTIM)
    evil = run_of(
        failing("A4000", f"ValueError: {quoted}", f"Traceback:\n{quoted}\nValueError"),
        runtime="PyTorch 1.12",
    )
    gh = make_gh()
    upsert_comment(gh, context, evil, actions)
    (red,) = fake.comments_on(PR)
    upsert_comment(gh, context, run_of(cell("A4000"), runtime=VICTIM), actions)

    comments = fake.comments_on(PR)
    assert [c.body.splitlines()[0] for c in comments] == [
        comment_body.marker("PyTorch 1.12"),
        quoted,
    ]
    assert comments[0].id == red.id and comments[0].body == red.body  # the red result stays
    assert "❌ failed" in comments[0].body and "✅ passed" in comments[1].body
    assert fake.requests("PATCH", f"/issues/comments/{red.id}$") == []


@pytest.mark.server
def test_a_state_forged_in_error_text_is_not_read_as_state(
    fake: FakeGitHub, make_gh: MakeGh, context: GitHubContext, actions: Actions
) -> None:
    gh = make_gh()
    forged = failing("A4000", FORGED_STATE, f"Traceback:\n{FORGED_STATE}\nValueError")
    upsert_comment(gh, context, run_of(forged), actions)
    (first,) = fake.comments_on(PR)
    assert state.decode(first.body) == state.State(
        run="100/1", cells={"A4000": ("failed", ("notebooks/x.ipynb",))}
    )

    later = dataclasses.replace(context, run_id="101")
    upsert_comment(gh, later, run_of(forged), actions)  # the same failure, next run
    (second,) = fake.comments_on(PR)
    assert "**Changes since the previous run:** none." in second.body
    assert "passed → failed" not in second.body  # what the forged state would have claimed


# --- the rendered text ---------------------------------------------------------------------------

LOUD = (
    "@octocat [x](https://evil.example) <img src=x onerror=alert(1)> https://evil.example/p "
    "www.evil.example a@evil.example"
)
NASTY = f"{comment_body.marker(VICTIM)} {FORGED_STATE} <!-- hidden --> --> {LOUD}"


@pytest.mark.parametrize(
    "text",
    [NASTY, f"\n{comment_body.marker(VICTIM)}\n", f"\n{FORGED_STATE}\n"],
    ids=["all at once", "a marker line", "a state line"],
)
def test_no_html_comment_but_ours_survives_in_a_comment_body(text: str) -> None:
    for runtime in ("PyTorch 1.12", text):
        body = comment_body.render(hostile_run(text, runtime), HEADER)
        lines = body.rstrip("\n").split("\n")
        assert comment_body.is_ours(body, comment_body.marker(runtime))
        assert not comment_body.is_ours(body, comment_body.marker(VICTIM))
        assert state.decode(body) is not None and state.decode(body).run == "1/1"  # type: ignore[union-attr]
        inner = "\n".join(lines[1:-1])
        assert "<!--" not in inner and "-->" not in inner, inner
        assert lines[-1].startswith("<!-- grt-state:")
    summary = markdown.summary([hostile_run(text)])
    assert "<!--" not in summary and "-->" not in summary


def test_the_title_escapes_the_runtime_name() -> None:
    body = comment_body.render(run_of(cell("A4000"), runtime=LOUD), HEADER)
    title = body.split("\n")[2]
    assert title.startswith("### Gradient runtime test: ")
    assert title.endswith(" — ✅ passed")
    assert "@octocat" not in title and "@&#8203;octocat" in title  # no ping
    assert "a@evil" not in title  # no mail link
    assert "<img" not in title and "&lt;img src=x onerror=alert(1)&gt;" in title  # no HTML
    assert "[x](" not in title and r"\[x\](" in title  # no Markdown link
    assert "https://evil" not in title and "https:&#8203;//evil.example/p" in title  # no autolink
    assert "www.evil" not in title and "www&#8203;.evil.example" in title


def test_mentions_in_tables_and_failure_summaries_do_not_ping() -> None:
    run = run_of(failing("@octocat", "@octocat broke it", "@octocat in a traceback"))
    table, details = markdown.status_table(run), markdown.failure_details(run)
    assert re.findall(r"@\w", table + details.split("```")[0]) == []
    assert "@octocat in a traceback" in details  # code shows as it is: GitHub links nothing there


def test_changes_name_machines_and_tests_as_code() -> None:
    baseline = {"A`B @x": ("passed", ())}
    now = {"A`B @x": ("failed", ("notebooks/<!-- x -->.ipynb",))}
    (line,) = state.changes(baseline, now).new_failures
    assert line == "``A`B @x``: passed → failed (`notebooks/<\u200b!-- x --\u200b>.ipynb`)"
