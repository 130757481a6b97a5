"""The workflow-command adapter, tested with StringIO."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from gradient_runtime_test.github.actions import (
    SUMMARY_LIMIT_BYTES,
    Actions,
    escape_data,
    escape_property,
)
from tests.github.helpers import outputs

IN_ACTIONS = {"GITHUB_ACTIONS": "true"}


def test_escaping() -> None:
    assert escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_annotations_in_actions() -> None:
    stream = io.StringIO()
    actions = Actions(stream, IN_ACTIONS)
    actions.error("cell 3 failed\nTraceback", file="nb/a,b.ipynb", line=3, title="A4000: x:y")
    actions.warning("50% slower")
    actions.notice("done")
    assert stream.getvalue().splitlines() == [
        "::error file=nb/a%2Cb.ipynb,line=3,title=A4000%3A x%3Ay::cell 3 failed%0ATraceback",
        "::warning::50%25 slower",
        "::notice::done",
    ]
    assert [level for level, _ in actions.messages] == ["error", "warning", "notice"]


def test_plain_lines_outside_actions() -> None:
    stream = io.StringIO()
    actions = Actions(stream, {})
    actions.error("broken", file="m.yaml", line=2)
    actions.warning("careful", title="GitHub")
    with actions.group("Launch"):
        actions.info("inside")
    assert stream.getvalue().splitlines() == [
        "ERROR: m.yaml:2: broken",
        "WARNING: GitHub: careful",
        "== Launch",
        "inside",
    ]


def test_group_in_actions_ends_on_error() -> None:
    stream = io.StringIO()
    actions = Actions(stream, IN_ACTIONS)
    with pytest.raises(RuntimeError), actions.group("PyTorch 1.12\nA4000"):
        actions.info("line%two")
        raise RuntimeError
    assert stream.getvalue().splitlines() == [
        "::group::PyTorch 1.12%0AA4000",
        "line%two",
        "::endgroup::",
    ]


def test_output_delimiter_survives_hostile_values(tmp_path: Path) -> None:
    out = tmp_path / "output"
    actions = Actions(io.StringIO(), {**IN_ACTIONS, "GITHUB_OUTPUT": str(out)})
    hostile = "first\nEOF\nghadelimiter_fake\nname<<EOF\nlast"
    actions.set_output("junit", hostile)
    actions.set_output("passed", "3")
    assert outputs(out) == {"junit": hostile, "passed": "3"}
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("junit<<ghadelimiter_")
    assert len(header) == len("junit<<ghadelimiter_") + 36  # a UUID


def test_output_names_are_checked(tmp_path: Path) -> None:
    actions = Actions(io.StringIO(), IN_ACTIONS, output_path=tmp_path / "o")
    with pytest.raises(ValueError, match="invalid output name"):
        actions.set_output("a<<b", "x")


def test_outputs_and_summary_are_no_ops_without_paths(tmp_path: Path) -> None:
    actions = Actions(io.StringIO(), {})
    actions.set_output("passed", "1")
    actions.append_summary("# hi")
    assert list(tmp_path.iterdir()) == []


def test_summary_stays_under_one_mebibyte(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    actions = Actions(io.StringIO(), {"GITHUB_STEP_SUMMARY": str(summary)})
    actions.append_summary("# Title")
    actions.append_summary("é" * SUMMARY_LIMIT_BYTES)  # two bytes a character
    size = summary.stat().st_size
    assert size < SUMMARY_LIMIT_BYTES
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# Title\n")
    assert text.rstrip().endswith("limited to 1 MiB)")
    actions.append_summary("more")
    assert summary.stat().st_size == size
    [(level, message)] = actions.messages
    assert level == "warning" and "summary is full" in message
