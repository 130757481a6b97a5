"""A result must answer the request, end to end: `grt run --provider gradient` against the fake
Paperspace API, whose notebook replays a well-formed, checksummed bundle that does not carry
exactly the checks and notebooks its spec asked for. Such a cell is an error, never a pass."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness.bundle import encode_lines
from tests.fakes.paperspace import FakeNotebook, FakePaperspace
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import ScriptedFaults, bundle_id_of, live_notebooks, payload, spec_of
from tests.hardening.test_fault_matrix import run_gradient

pytestmark = [pytest.mark.server, pytest.mark.slow]

Edit = Callable[[dict[str, Any]], dict[str, Any]]


def _replaying(edit: Edit) -> Callable[[FakeNotebook], str]:
    """A `Faults.replay_log`: a healthy harness's result for the notebook's spec, edited."""

    def log(nb: FakeNotebook) -> str:
        bundle_id = bundle_id_of(nb)
        data = edit(payload(bundle_id, spec_of(nb)))
        return "\n".join(["[I ServerApp] Jupyter", *encode_lines(data, bundle_id)]) + "\n"

    return log


def _without(name: str) -> Edit:
    return lambda p: {**p, "tests": [t for t in p["tests"] if t["name"] != name]}


CASES: dict[str, tuple[Edit, str]] = {
    "as the harness reports it": (lambda p: p, ""),
    "no tests at all": (lambda p: {**p, "tests": []}, "incomplete result: missing checks/"),
    "a notebook missing": (
        _without("notebooks/hello.ipynb"),
        "incomplete result: missing notebooks/hello.ipynb",
    ),
    "a check missing": (
        _without("checks/python.kernel"),
        "incomplete result: missing checks/python.kernel",
    ),
    "a notebook twice": (
        lambda p: {**p, "tests": [*p["tests"], p["tests"][-1]]},
        "incomplete result: repeated notebooks/hello.ipynb",
    ),
    "a notebook not asked for": (
        lambda p: {**p, "tests": [*p["tests"], {"name": "notebooks/x.ipynb", "status": "passed"}]},
        "incomplete result: unexpected notebooks/x.ipynb",
    ),
}


@pytest.mark.parametrize(("edit", "reason"), CASES.values(), ids=CASES.keys())
def test_a_result_that_does_not_answer_the_spec_is_an_error(
    edit: Edit, reason: str, ps: FakePaperspace, canaries: Canaries, tmp_path: Path
) -> None:
    faults = ScriptedFaults()
    faults.replay_log = _replaying(edit)
    ran = run_gradient(ps, canaries, tmp_path, faults)
    cell = ran.cells["C5"]
    if not reason:  # the control: the same bundle, complete, passes
        assert (ran.result.code, cell["status"]) == (0, "passed"), ran.result.text
        return
    assert ran.result.code == 1, ran.result.text
    assert cell["status"] == "error" and cell["reason"].startswith(reason), cell
    assert "incomplete result" in (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert live_notebooks(ps) == []
