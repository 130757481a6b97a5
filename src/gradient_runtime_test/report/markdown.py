"""Markdown (GitHub-flavoured) and plain-text renderings of run results.

- `status_table`: one row per machine, the table posted in the pull-request comment and summary.
- `failure_details`: one collapsible section per failing test or broken cell.
- `notes_section`: warnings and cut outputs of tests, in one collapsible list.
- `counts_line`: "11 machines: 9 passed, 1 failed, 1 unavailable".
- `summary`: `summary.md` / the job summary, kept under a size limit.
- `terminal_table`: an aligned plain-text table with failure one-liners for `grt run`.

Every value that comes from results (names, reasons, messages) is escaped for the place it lands
in: table cells and inline text get HTML entities for `&<>` and backslashes before Markdown's
punctuation, `<summary>` lines get HTML escaping, and code blocks get a fence longer than any
backtick run inside them. Text is made one line where a line is expected and is ANSI-free.
Result text is never markup: in inline text and `<summary>` lines a zero-width space after `@`
keeps `@name` from mentioning (pinging) anyone and one in `://` and `www.` keeps a URL from
becoming a link; in code, where neither happens, one between `<` and `!--` and between `--` and
`>` keeps an HTML comment (such as a PR comment's hidden marker) from appearing anywhere.
"""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from gradient_runtime_test.report import clean, gpu_summary, one_line, page_link, shorten
from gradient_runtime_test.results import CellResult, CellStatus, RunResult, TestResult, TestStatus

__all__ = [
    "STATUS_EMOJI",
    "Links",
    "code_span",
    "cost_line",
    "cost_markdown",
    "counts_line",
    "escape",
    "failure_details",
    "human_duration",
    "link",
    "money",
    "notes_section",
    "status_label",
    "status_table",
    "summary",
    "terminal_table",
    "uncommented",
]

STATUS_EMOJI: Mapping[CellStatus, str] = {
    CellStatus.PASSED: "✅",
    CellStatus.FAILED: "❌",
    CellStatus.ERROR: "💥",
    CellStatus.UNAVAILABLE: "🚫",
    CellStatus.CANCELLED: "⏹️",
    CellStatus.SKIPPED: "⏭️",
    CellStatus.QUEUED: "⏳",
    CellStatus.STARTING: "🔄",
    CellStatus.RUNNING: "🏃",
}
_TEST_EMOJI = {TestStatus.FAILED: "❌", TestStatus.ERROR: "💥"}
# Order of statuses in counts: verdicts first, then machines still on their way.
_COUNT_ORDER = (
    CellStatus.PASSED,
    CellStatus.FAILED,
    CellStatus.ERROR,
    CellStatus.UNAVAILABLE,
    CellStatus.CANCELLED,
    CellStatus.SKIPPED,
    CellStatus.RUNNING,
    CellStatus.STARTING,
    CellStatus.QUEUED,
)
_WITH_REASON = (CellStatus.ERROR, CellStatus.UNAVAILABLE, CellStatus.CANCELLED, CellStatus.SKIPPED)
_FAILING = (TestStatus.FAILED, TestStatus.ERROR)

_REASON_CHARS = 80  # reason shown in a status cell
_CELL_CHARS = 200  # any other table cell
_SUMMARY_CHARS = 300  # the message in a <summary> line
_NAME_CHARS = 120  # a machine or test name in a <summary> line
_TRACE_LINES = 30  # traceback / log tail kept in a details section
_TRACE_CHARS = 3000
_MIN_DETAILS_CHARS = 400  # below this budget, failure details are left out altogether

_MD_PUNCT = re.compile(r"([\\`*_\[\]|~])")
_ZWSP = "&#8203;"  # a zero-width space, as an entity: visible in the source, not on the page
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")
_URL_SAFE = "/:?#=&%@+,;~-._!$*'"  # RFC 3986 minus ( ) [ ] and anything that ends a link

_HEADER = ("Machine", "Status", "Checks", "Notebooks", "GPU", "Time", "Cost", "Notebook")
_ALIGN = (":--", ":--", "--:", "--:", ":--", "--:", "--:", ":--")
_NONE = "—"


@dataclasses.dataclass(frozen=True)
class Links:
    """Where else the results are, for a workflow run: its artifact (the output folder, uploaded
    by the Action under this name) and the dashboard (the run history's site)."""

    run_url: str = ""
    artifact: str = ""
    dashboard_url: str = ""

    @property
    def artifact_url(self) -> str:
        """The run's artifacts (GitHub knows an artifact's own URL only once it is uploaded)."""
        return f"{self.run_url}#artifacts" if self.run_url else ""


# -- small pieces ------------------------------------------------------------------------------


def escape(text: str, limit: int = _CELL_CHARS) -> str:
    """`text` as one line of inline Markdown that shows literally, also inside a table cell:
    no markup, no HTML, no mention, no link (`#123` may still link to an issue)."""
    return _inert(_literal(text, limit))


def _literal(text: str, limit: int) -> str:
    """`text` as one line of Markdown that shows literally (mentions and URLs aside)."""
    return _MD_PUNCT.sub(r"\\\1", html.escape(shorten(one_line(text), limit), quote=False))


def _inert(escaped: str, *, in_link: bool = False) -> str:
    """HTML-escaped text with `@name` mentioning no one and no URL turned into a link (a link's
    own text is never made a link: `in_link` leaves its URLs alone)."""
    escaped = escaped.replace("@", "@" + _ZWSP)
    if in_link:
        return escaped
    escaped = escaped.replace("://", ":" + _ZWSP + "//")
    return _WWW.sub(lambda m: m.group(1) + _ZWSP + ".", escaped)


def uncommented(text: str) -> str:
    """`text` (code, shown as is) without `<!--` or `-->`: no HTML comment can appear in it."""
    return text.replace("<!--", "<\u200b!--").replace("-->", "--\u200b>")


def status_label(status: CellStatus) -> str:
    """Emoji and word: "✅ passed"."""
    return f"{STATUS_EMOJI[status]} {status.value}"


def human_duration(seconds: float) -> str:
    """42s, 3m 05s, 1h 02m; "<1s" for a blink and "—" for nothing measured."""
    if seconds <= 0:
        return _NONE
    if seconds < 0.5:
        return "<1s"
    total = int(seconds + 0.5)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    minutes = (total + 30) // 60
    return f"{minutes // 60}h {minutes % 60:02d}m"


def money(usd: float | None) -> str:
    """$1.23, "<$0.01" for a little, "—" for no price."""
    if usd is None:
        return _NONE
    if 0 < usd < 0.005:
        return "<$0.01"
    return f"${usd:,.2f}"


def _cell_cost(cell: CellResult) -> str:
    """What a finished cell cost ("—": no price, or not finished yet)."""
    return money(cell.cost_usd) if cell.status.finished else _NONE


def _dollars(text: str) -> str:
    """Dollar signs shown as such (GitHub reads `$...$` as math)."""
    return text.replace("$", "\\$")


def cost_markdown(run: RunResult) -> str:
    """`cost_line` as Markdown (escaped); "" when nothing is priced."""
    return _dollars(escape(cost_line(run)))


def cost_line(run: RunResult) -> str:
    """ "Cost: billed $1.23 of an estimated $4.56 · budget $5.00"; "" when nothing is priced."""
    cost, estimate, budget = run.cost_usd, run.estimated_cost_usd, run.max_cost_usd
    if cost is None and estimate is None and budget is None:
        return ""
    so_far = "" if all(c.status.finished for c in run.cells) else " so far"
    text = f"Cost: billed {money(cost or 0.0)}{so_far}"
    if estimate is not None:
        text += f" of an estimated {money(estimate)}"
    if budget is not None:
        text += f" · budget {money(budget)}"
    if unpriced := run.unpriced:
        text += f" ({unpriced} machine{'s' if unpriced != 1 else ''} without a price not counted)"
    return text


def counts_line(run: RunResult) -> str:
    """Machines per status, "11 machines: 9 passed, 1 failed, 1 unavailable" (no zero counts)."""
    total = len(run.cells)
    noun = "machine" if total == 1 else "machines"
    parts = [f"{n} {s.value}" for s in _COUNT_ORDER if (n := run.count(s))]
    return f"{total} {noun}: {', '.join(parts)}" if parts else f"{total} {noun}"


def code_span(text: str) -> str:
    """Inline code showing `text` literally whatever backticks it holds."""
    text = uncommented(one_line(text))
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fenced(text: str) -> str:
    """A fenced code block holding `text` literally (fence longer than any backtick run in it)."""
    text = uncommented(text)
    fence = "`" * max(3, max((len(m) for m in _BACKTICKS.findall(text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


def link(text: str, url: str) -> str:
    """`[text](url)` for an http(s) URL; escaped text otherwise."""
    return _link(text, url)


def _link(text: str, url: str) -> str:
    """`[text](url)` for an http(s) URL (made safe for a table cell); escaped text otherwise."""
    url = one_line(url)
    if not re.match(r"https?://", url, re.IGNORECASE):
        return escape(text)
    text = _inert(_literal(text, _CELL_CHARS), in_link=True)
    return f"[{text}]({quote(url, safe=_URL_SAFE)})"


def _tail(text: str, *, lines: int = _TRACE_LINES, chars: int = _TRACE_CHARS) -> str:
    """The end of a traceback or log: the last `lines` lines and at most about `chars` chars."""
    all_lines = clean(text).rstrip().split("\n")
    kept = all_lines[-lines:]
    while len(kept) > 1 and sum(len(line) + 1 for line in kept) > chars:
        kept = kept[1:]
    if len(kept) == 1 and len(kept[0]) > chars:
        kept = ["…" + kept[0][-chars:]]
    dropped = len(all_lines) - len(kept)
    if dropped:
        kept.insert(0, f"… ({dropped} earlier line{'s' if dropped != 1 else ''} trimmed)")
    return "\n".join(kept)


# -- status table ------------------------------------------------------------------------------


def _status_cell(cell: CellResult) -> str:
    text = status_label(cell.status)
    if cell.status in _WITH_REASON and cell.reason:
        text += ": " + escape(cell.reason, _REASON_CHARS)
    xfail = sum(1 for t in cell.tests if t.status == TestStatus.XFAIL)
    xpass = sum(1 for t in cell.tests if t.status == TestStatus.XPASS)
    notes = [f"{n} {word}" for n, word in ((xfail, "xfail"), (xpass, "xpass")) if n]
    if cell.reused_from is not None:
        notes.append(_reused_note(cell))
    return text + (f" ({', '.join(notes)})" if notes else "")


def _reused_note(cell: CellResult) -> str:
    """ "reused: run 41/1 of 2026-11-29", the run linked when it has a link."""
    reuse = cell.reused_from
    if reuse is None:
        return ""
    run = f"run {reuse.run_id}" if reuse.run_id else "an earlier run"
    date = one_line(reuse.at)[:10]
    return (
        f"reused: {_link(run, reuse.run_url) if reuse.run_url else escape(run)} of {escape(date)}"
    )


def _fraction(counts: tuple[int, int]) -> str:
    passed, total = counts
    return f"{passed}/{total}" if total else _NONE


def _notebook_cell(cell: CellResult) -> str:
    if one_line(cell.url):
        return _link(one_line(cell.notebook_id) or "notebook", cell.url)
    return escape(cell.notebook_id) or _NONE


def _row(cell: CellResult) -> str:
    values = (
        escape(cell.machine) or _NONE,
        _status_cell(cell),
        _fraction(cell.counts("checks/")),
        _fraction(cell.counts("notebooks/")),
        escape(gpu_summary(cell.environment)) or _NONE,
        human_duration(cell.duration_s),
        _dollars(_cell_cost(cell)),
        _notebook_cell(cell),
    )
    return "| " + " | ".join(values) + " |"


def _table_lines(run: RunResult) -> list[str]:
    head = ["| " + " | ".join(_HEADER) + " |", "| " + " | ".join(_ALIGN) + " |"]
    return head + [_row(cell) for cell in run.cells]


def status_table(run: RunResult) -> str:
    """GitHub-Markdown table, one row per machine in the run's order."""
    return "\n".join(_table_lines(run))


# -- failure details ---------------------------------------------------------------------------


def _summary_line(emoji: str, machine: str, what: str, message: str) -> str:
    text = f"{emoji} <b>{_inert(html.escape(shorten(one_line(machine), _NAME_CHARS)))}</b>: {what}"
    if one_line(message):
        text += ": " + _inert(html.escape(shorten(one_line(message), _SUMMARY_CHARS)))
    return f"<details><summary>{text}</summary>"


def _page_line(test: TestResult, links: Links | None) -> str:
    """Where the failing cell is: its executed notebook's HTML page and anchor, in the artifact
    (linked) or the output folder."""
    page = page_link(test.html)
    if not page:
        return ""
    if links is not None and links.artifact:
        where = f"in the artifact {_link(links.artifact, links.artifact_url)}"
    else:
        where = "in the output folder"
    return f"\n\n📄 Executed notebook: {code_span(page)} {where}"


def _test_section(cell: CellResult, test: TestResult, links: Links | None = None) -> str:
    name = f"<code>{_inert(html.escape(shorten(one_line(test.name), _NAME_CHARS)))}</code>"
    head = _summary_line(_TEST_EMOJI.get(test.status, "❌"), cell.machine, name, test.message)
    # Without details, the message is worth a block only when the summary line had to cut it.
    long_message = len(one_line(test.message)) > _SUMMARY_CHARS
    body = _tail(test.details or (test.message if long_message else ""))
    block = _fenced(body) if body else "No traceback was recorded."
    return f"{head}{_page_line(test, links)}\n\n{block}\n\n</details>"


def _cell_section(cell: CellResult) -> str:
    what = html.escape(cell.status.value)
    head = _summary_line(STATUS_EMOJI[cell.status], cell.machine, what, cell.reason)
    tail = _tail("\n".join(cell.log_tail))
    block = f"Last log lines:\n\n{_fenced(tail)}" if tail else "No log lines were collected."
    return f"{head}\n\n{block}\n\n</details>"


def _sections(run: RunResult, links: Links | None) -> list[str]:
    sections: list[str] = []
    for cell in run.cells:
        failing = [t for t in cell.tests if t.status in _FAILING]
        sections.extend(_test_section(cell, t, links) for t in failing)
        if not failing and cell.status in (CellStatus.FAILED, CellStatus.ERROR):
            sections.append(_cell_section(cell))
    return sections


def _more_note(n: int) -> str:
    noun = "failure" if n == 1 else "failures"
    return f"… and {n} more {noun} (see the job summary / results.json)"


def failure_details(
    run: RunResult, *, max_chars: int | None = None, links: Links | None = None
) -> str:
    """One collapsible section per failing test, and per error cell without failing tests; a
    notebook's names its HTML page and anchor (in the artifact of `links`, when given).

    With `max_chars`, sections stop before the text would exceed it, and a last line says how
    many were left out; the result is never longer than `max_chars`.
    """
    sections = _sections(run, links)
    if max_chars is None:
        return "\n\n".join(sections)
    kept: list[str] = []
    used = 0
    for i, section in enumerate(sections):
        after = len(sections) - i - 1
        cost = len(section) + (2 if kept else 0)
        reserve = len(_more_note(after)) + 2 if after else 0
        if used + cost + reserve > max_chars:
            note = _more_note(len(sections) - i)
            return "\n\n".join([*kept, note])[:max_chars] if kept else note[:max_chars]
        kept.append(section)
        used += cost
    return "\n\n".join(kept)


# -- notes ---------------------------------------------------------------------------------------

_MAX_NOTES = 50


def notes_section(run: RunResult) -> str:
    """One collapsible list of what tests report beside their status: warnings (a notebook that
    spent far longer outside its cells than in them) and what was cut from executed copies."""
    items = [
        f"- {escape(cell.machine, _NAME_CHARS)} · {code_span(shorten(test.name, _NAME_CHARS))}:"
        f" {kind} {escape(text, _SUMMARY_CHARS)}"
        for cell in run.cells
        for test in cell.tests
        for kind, texts in (("⚠️", test.warnings), ("✂️ cut:", test.cut))
        for text in texts
    ]
    if not items:
        return ""
    more = len(items) - _MAX_NOTES
    shown = items[:_MAX_NOTES] + ([f"- … and {more} more (see results.json)"] if more > 0 else [])
    noun = "note" if len(items) == 1 else "notes"
    head = f"<details><summary>ℹ️ {len(items)} {noun}: warnings and cut outputs</summary>"
    return "\n".join([head, "", *shown, "", "</details>"])


# -- summary.md --------------------------------------------------------------------------------


def _heading(run: RunResult) -> str:
    lines = [f"### {escape(run.runtime)}", ""]
    meta = []
    if run.workspace_url:
        url = run.workspace_url
        ws = _link(url, url) if re.match(r"https?://", url.strip(), re.I) else code_span(url)
        if ref := one_line(run.workspace_ref or ""):
            ws += f" @ {code_span(ref)}"
        meta.append(f"Workspace: {ws}")
    else:
        meta.append("Workspace: none (bare container)")
    if run.container:
        meta.append(f"Container: {code_span(run.container)}")
    lines += [" · ".join(meta), ""]
    finished = all(cell.status.finished for cell in run.cells)
    label = (
        status_label(run.conclusion)
        if finished
        else f"{STATUS_EMOJI[CellStatus.RUNNING]} in progress"
    )
    lines.append(f"{label} — {escape(counts_line(run))}")
    if cost := cost_markdown(run):
        lines += ["", cost]
    return "\n".join(lines)


def _truncated_table(run: RunResult, budget: int) -> str:
    """The status table within `budget` chars: the rows that fit, then a note for the rest."""
    lines = _table_lines(run)

    def note(left: int) -> str:
        noun = "machine" if left == 1 else "machines"
        return f"\n\n… and {left} more {noun} (see results.json)" if left else ""

    kept, size = lines[:2], len(lines[0]) + 1 + len(lines[1])
    for line in lines[2:]:
        left = len(lines) - len(kept) - 1
        if size + 1 + len(line) + len(note(left)) > budget:
            break
        kept.append(line)
        size += 1 + len(line)
    return "\n".join(kept) + note(len(lines) - len(kept))


def summary(
    runs: Sequence[RunResult],
    *,
    run_url: str | None = None,
    max_chars: int = 1_000_000,
    links: Links | None = None,
) -> str:
    """`summary.md`: per runtime its heading, counts, status table and failure details
    (`links`: the artifact and the dashboard, in GitHub Actions).

    Stays within `max_chars`: failure details shrink first (and go when there is no room), then
    tables lose rows, with a note saying how many are not shown.
    """
    title = "## Gradient runtime test"
    top = [_link("Workflow run", run_url)] if run_url else []
    if links is not None and links.dashboard_url:
        top.append(_link("Dashboard", links.dashboard_url))
    if top:
        title += "\n\n" + " · ".join(top)
    heads = [_heading(run) for run in runs]
    tables = [status_table(run) for run in runs]
    details = [
        "\n\n".join(
            part for part in (failure_details(run, links=links), notes_section(run)) if part
        )
        for run in runs
    ]

    def assemble(tabs: Sequence[str], dets: Sequence[str]) -> str:
        blocks = [title]
        for head, table, det in zip(heads, tabs, dets, strict=True):
            blocks += [head, table] + ([det] if det else [])
        return "\n\n".join(blocks) + "\n"

    text = assemble(tables, details)
    if len(text) <= max_chars:
        return text
    # 1. Failure details shrink, then give way to a one-line note.
    dropped = "Failure details left out to fit; see results.json."
    short = [dropped if d else "" for d in details]
    base = assemble(tables, short)
    if len(base) <= max_chars:
        extra = _share(
            max_chars - len(base), [len(d) - len(s) for d, s in zip(details, short, strict=True)]
        )
        fitted = [
            failure_details(run, max_chars=len(s) + x, links=links)
            if d and len(s) + x >= _MIN_DETAILS_CHARS
            else s
            for run, d, s, x in zip(runs, details, short, extra, strict=True)
        ]
        return assemble(tables, fitted)
    # 2. No details; tables lose rows from the end.
    stubs = [_truncated_table(run, 0) for run in runs]
    none = ["" for _ in runs]
    bare = assemble(stubs, none)
    if len(bare) <= max_chars:
        extra = _share(
            max_chars - len(bare), [len(t) - len(s) for t, s in zip(tables, stubs, strict=True)]
        )
        fitted = [
            _truncated_table(run, len(s) + x) for run, s, x in zip(runs, stubs, extra, strict=True)
        ]
        return assemble(fitted, none)
    # 3. Not even the headings fit: cut the text.
    return shorten(bare, max_chars)


def _share(spare: int, wants: Sequence[int]) -> list[int]:
    """Share `spare` over slots that want `wants[i]` more: smallest wants are met first, and
    what a slot does not need goes to the others (water-filling)."""
    given = [0] * len(wants)
    order = sorted(range(len(wants)), key=lambda i: wants[i])
    for n, i in enumerate(order):
        given[i] = max(0, min(wants[i], spare // (len(order) - n)))
        spare -= given[i]
    return given


# -- terminal ----------------------------------------------------------------------------------

_TERM_CELL = 40  # widest a terminal column gets
_TERM_LINE = 200  # widest a failure line gets


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _width(text: str) -> int:
    """Columns `text` takes in a terminal: wide East Asian characters 2, combining marks 0."""
    return sum(_char_width(ch) for ch in text)


def _fit(text: str, limit: int) -> str:
    """`text` as one line of at most `limit` columns, ending in "..." when cut."""
    return _cut(one_line(text), limit)


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` columns; reads no further than the cut (texts may be megabytes)."""
    width = 0
    for ch in text:
        width += _char_width(ch)
        if width > limit:
            break
    else:
        return text
    out, width = [], 0
    for ch in text:
        width += _char_width(ch)
        if width > limit - 3:
            break
        out.append(ch)
    return "".join(out) + "..."


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def terminal_table(run: RunResult) -> str:
    """Plain aligned table (no Markdown, ASCII decorations) plus one line per failure."""
    rows = [[h.upper() for h in _HEADER]]
    for cell in run.cells:
        checks, notebooks = cell.counts("checks/"), cell.counts("notebooks/")
        row = [
            cell.machine or "-",
            cell.status.value,
            f"{checks[0]}/{checks[1]}" if checks[1] else "-",
            f"{notebooks[0]}/{notebooks[1]}" if notebooks[1] else "-",
            gpu_summary(cell.environment, times="x") or "-",
            human_duration(cell.duration_s).replace(_NONE, "-"),
            _cell_cost(cell).replace(_NONE, "-"),
            cell.notebook_id or ("reused" if cell.reused_from else "-"),
        ]
        rows.append([_fit(value, _TERM_CELL) or "-" for value in row])
    widths = [max(_width(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [f"{_fit(run.runtime, _TERM_LINE)}: {counts_line(run)}", ""]
    for row in rows:
        lines.append("  ".join(_pad(v, w) for v, w in zip(row, widths, strict=True)).rstrip())
    if cost := cost_line(run):
        lines += ["", cost.replace("·", "-")]
    problems: list[tuple[str, str]] = []  # (label, text)
    for cell in run.cells:
        machine = _fit(cell.machine, _TERM_CELL)
        failing = [t for t in cell.tests if t.status in _FAILING]
        for t in failing:
            text = f"{machine} {_fit(t.name, _TERM_LINE)}"
            problems.append((t.status.value.upper(), _joined(text, t.message)))
        own_line = cell.status in _WITH_REASON or (cell.status == CellStatus.FAILED and not failing)
        # a cell without a reason whose failing tests are listed above needs no line of its own
        if own_line and (cell.reason or not failing):
            reason = cell.reason or "no reason recorded"
            problems.append((cell.status.value.upper(), _joined(machine, reason)))
    if problems:
        width = max(len(label) for label, _ in problems)
        lines += ["", "Not passed:"]
        lines += [_cut(f"  {label:<{width}}  {text}", _TERM_LINE) for label, text in problems]
    return "\n".join(lines) + "\n"


def _joined(head: str, message: str) -> str:
    message = one_line(message)
    return f"{head}: {message}" if message else head
