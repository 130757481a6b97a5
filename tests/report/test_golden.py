"""Renderers against golden files. After a deliberate change: `uv run python -m tests.report.regen`."""

from __future__ import annotations

import pytest

from tests.report.regen import CASES, GOLDEN


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_golden(name: str) -> None:
    path = GOLDEN / name
    assert path.exists(), f"{path} missing: run `uv run python -m tests.report.regen`"
    expected = path.read_text(encoding="utf-8")
    assert CASES[name]() == expected, (
        f"{name} differs from its golden file; if intended, run "
        "`uv run python -m tests.report.regen` and review the diff"
    )


def test_no_stale_golden_files() -> None:
    assert {p.name for p in GOLDEN.iterdir()} == set(CASES)
