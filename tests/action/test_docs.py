"""docs/action.md against action.yml and docs/examples/: every input and output documented (and
nothing else), the defaults as declared, and the examples included byte for byte."""

from __future__ import annotations

import re

import pytest

from tests.action.helpers import DOC, EXAMPLES, load_action

TEXT = DOC.read_bytes().decode("utf-8")  # no newline translation: byte for byte
README = (DOC.parents[1] / "README.md").read_bytes().decode("utf-8")
ACTION = load_action()
EXAMPLE = re.compile(
    r"<!-- example:(?P<name>[\w.-]+) -->\n```yaml\n(?P<body>.*?)```\n<!-- /example -->", re.DOTALL
)


def _section(title: str) -> str:
    """A `### title` section of the README (the inputs and outputs tables live there)."""
    m = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^##+ |\Z)", README, re.MULTILINE | re.DOTALL)
    assert m, f"README.md has no section {title!r}"
    return m.group(1)


def _table(title: str) -> dict[str, list[str]]:
    """First column (a `code` name) -> the other cells, for the table rows of a section."""
    rows: dict[str, list[str]] = {}
    for line in _section(title).splitlines():
        m = re.match(r"^\| `([\w-]+)` \|(.*)\|$", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} documented twice"
            rows[m.group(1)] = [cell.strip() for cell in m.group(2).split("|")]
    return rows


def test_every_input_is_documented_in_order_and_nothing_else() -> None:
    assert list(_table("Inputs")) == list(ACTION["inputs"])


def test_documented_defaults_are_the_declared_ones() -> None:
    for name, (default, description) in _table("Inputs").items():
        declared = str(ACTION["inputs"][name].get("default", ""))
        assert default == (f"`{declared}`" if declared else ""), name
        assert description, name


def test_every_output_is_documented_in_order_and_nothing_else() -> None:
    rows = _table("Outputs")
    assert list(rows) == list(ACTION["outputs"])
    assert all(cells[0] for cells in rows.values())


def test_examples_are_included_verbatim() -> None:
    included = {m["name"]: m["body"] for m in EXAMPLE.finditer(TEXT)}
    assert "workspace-repo.yml" in included
    assert set(included) == {p.name for p in EXAMPLES}, "every example file, and only those"
    for path in EXAMPLES:
        assert included[path.name].encode() == path.read_bytes(), path.name


def test_markers_are_balanced() -> None:
    assert TEXT.count("<!-- example:") == TEXT.count("<!-- /example -->")
    assert len(EXAMPLE.findall(TEXT)) == TEXT.count("<!-- example:")


@pytest.mark.parametrize(
    "needle",
    [
        "pull-requests: write",
        "checks: write",
        "PAPERSPACE_API_KEY",
        "PAPERSPACE_PROJECT_ID",
        "pull_request_target",
        "workflow_run",
        "## Cost notes",
        "## Pull requests from forks",
    ],
)
def test_covers(needle: str) -> None:
    assert needle in TEXT


def test_readme_carries_the_workspace_repo_example_verbatim() -> None:
    included = {m["name"]: m["body"] for m in EXAMPLE.finditer(README)}
    example = next(p for p in EXAMPLES if p.name == "workspace-repo.yml")
    assert included["workspace-repo.yml"].encode() == example.read_bytes()
