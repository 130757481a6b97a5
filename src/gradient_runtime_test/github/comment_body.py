"""The PR status comment's text: pure, and always within GitHub's 65,536-character limit.

Layout: hidden marker, title (runtime, commit, workflow run), head-moved warning, counts, status
table, changes since the previous run, collapsible failure details, hidden state. When too long,
failure details shrink and then go, then the table is cut with a link to the full job summary.

The marker is the body's first line and the state its last, and nothing between them can hold an
HTML comment (result text is escaped, code made `uncommented`): a comment is ours only when its
first line is our marker (`is_ours`), and its state is read from its last line only, so text in a
result (a traceback quoting another runtime's marker, a forged state) can neither make another
runtime adopt this comment nor pass for state.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import TYPE_CHECKING

from gradient_runtime_test.github import state
from gradient_runtime_test.report import markdown
from gradient_runtime_test.results import RunResult

if TYPE_CHECKING:
    from gradient_runtime_test.github.context import GitHubContext

COMMENT_LIMIT = 65_536  # GitHub's maximum comment body, in characters
_MARKER_PREFIX = "<!-- gradient-runtime-test:runtime="
_MIN_DETAILS = 2_000  # below this, a details section is not worth its space
_CHANGES_LINES = 30


def marker(runtime: str) -> str:
    """The hidden line that identifies the comment of one runtime."""
    return f"{_MARKER_PREFIX}{urllib.parse.quote(runtime, safe='')} -->"


def is_ours(body: str, marker: str) -> bool:
    """Whether a comment body is one this marker identifies: its first line, and only that."""
    return body.split("\n", 1)[0].rstrip("\r") == marker


@dataclasses.dataclass(frozen=True)
class Header:
    """Where the results come from, for the title lines."""

    run_url: str
    run_key: str  # "<run_id>/<attempt>": written into the state
    commit_url: str = ""  # "" when the tested commit is unknown
    sha: str | None = None
    head_moved_to: str | None = None  # the PR head when it is no longer the tested commit
    links: markdown.Links | None = None  # the run's artifact and the dashboard


def links_of(context: GitHubContext) -> markdown.Links:
    """The run's artifact and the dashboard, as the comment and the job summary link them."""
    return markdown.Links(context.run_url, context.artifact, context.dashboard_url)


def render(
    run: RunResult,
    header: Header,
    *,
    baseline: state.Cells | None = None,
    limit: int = COMMENT_LIMIT,
) -> str:
    """The comment body for `run`, at most `limit` characters."""
    cells = state.cells_of(run)
    hidden = state.encode(state.State(run=header.run_key, cells=cells, prev=baseline))
    top = "\n\n".join(
        p
        for p in (
            _title(run, header),
            _moved(header),
            markdown.counts_line(run),
            markdown.cost_markdown(run),
        )
        if p
    )
    table = markdown.status_table(run).rstrip("\n")
    changes = _changes(baseline, cells)
    details = markdown.failure_details(run, links=header.links).rstrip("\n")

    def join(*parts: str) -> str:
        middle = (markdown.uncommented(p) for p in (top, *parts))  # none holds one; none can
        return "\n\n".join(p for p in (marker(run.runtime), *middle, hidden) if p) + "\n"

    body = join(table, changes, details)
    if len(body) <= limit:
        return body
    left_out = (
        f"_Failure details are left out to fit GitHub's comment limit: see the "
        f"[job summary]({header.run_url})._"
    )
    room = limit - len(join(table, changes, "x")) + 1
    if room >= _MIN_DETAILS:
        shorter = markdown.failure_details(run, max_chars=room, links=header.links).rstrip("\n")
        if shorter and len(join(table, changes, shorter)) <= limit:
            return join(table, changes, shorter)
    if details:
        body = join(table, changes, left_out)
        if len(body) <= limit:
            return body
    else:
        left_out = ""
    room = limit - len(join("", changes, left_out)) - 2
    body = join(cut_table(table, room, header.run_url), changes, left_out)
    if len(body) > limit:  # pathological (an enormous runtime name): keep the marker and title
        body = body[: limit - 2] + "…\n"
    return body


def _title(run: RunResult, header: Header) -> str:
    finished = sum(1 for c in run.cells if c.status.finished)
    if finished < len(run.cells):
        verdict = f"⏳ running ({finished} of {len(run.cells)} machines finished)"
    else:
        verdict = markdown.status_label(run.conclusion)
    facts = []
    if header.sha:
        short = f"`{header.sha[:7]}`"
        facts.append(f"commit [{short}]({header.commit_url})" if header.commit_url else short)
    facts.append(f"[workflow run]({header.run_url})")
    if header.links is not None and header.links.dashboard_url.startswith(("https://", "http://")):
        facts.append(markdown.link("dashboard", header.links.dashboard_url))
    runtime = markdown.escape(run.runtime)
    return f"### Gradient runtime test: {runtime} — {verdict}\n\n" + " · ".join(facts)


def _moved(header: Header) -> str:
    if not header.head_moved_to or not header.sha:
        return ""
    return (
        "> [!WARNING]\n"
        f"> The pull request head moved to `{header.head_moved_to[:7]}` after this run tested "
        f"`{header.sha[:7]}`: these results are for an older commit."
    )


def _changes(baseline: state.Cells | None, cells: state.Cells) -> str:
    if baseline is None:
        return ""
    found = state.changes(baseline, cells)
    if not found.new_failures and not found.fixed:
        return "**Changes since the previous run:** none."
    lines = ["**Changes since the previous run**", ""]
    for label, items in (("New failures", found.new_failures), ("Fixed", found.fixed)):
        if items:
            lines.append(f"- {label}:")
            lines += [f"  - {item}" for item in items[:_CHANGES_LINES]]
            if len(items) > _CHANGES_LINES:
                lines.append(f"  - … and {len(items) - _CHANGES_LINES} more")
    return "\n".join(lines)


def changes_section(baseline: state.Cells | None, cells: state.Cells) -> str:
    """ "Changes since the previous run" (for the job summary too); "" without a baseline."""
    return _changes(baseline, cells)


def cut_table(table: str, room: int, run_url: str) -> str:
    """The Markdown table's header and as many rows as fit in `room`, then a link to the full summary."""
    lines = table.splitlines()
    head, rows = lines[:2], lines[2:]
    note_room = 200
    kept = list(head)
    used = sum(len(x) + 1 for x in head)
    for row in rows:
        if used + len(row) + 1 > room - note_room:
            break
        kept.append(row)
        used += len(row) + 1
    missing = len(rows) - (len(kept) - len(head))
    if missing:
        kept.append("")
        kept.append(
            f"_… {missing} more machines are not shown here: see the [full summary]({run_url})._"
        )
    return "\n".join(kept)
