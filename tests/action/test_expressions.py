"""The expression evaluator the step runner relies on behaves as GitHub documents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.action.expressions import ExpressionError, condition, evaluate, render

CONTEXT: dict[str, Any] = {
    "inputs": {"api-key": "k", "empty": ""},
    "steps": {"prep": {"outputs": {"skip": "true", "runtime": "PyTorch 1.12"}}},
    "github": {"event": {"pull_request": {"head": {"sha": "abc"}}, "labels": ["a", "B"]}},
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("inputs.api-key", "k"),
        ("inputs.missing", None),
        ("github.event.pull_request.head.sha", "abc"),
        ("github.event.push.after", None),
        ("github.event['pull_request']['head'].sha", "abc"),
        ("inputs.empty || 'fallback'", "fallback"),
        ("inputs.api-key && 'yes'", "yes"),
        ("inputs.empty && 'yes'", ""),
        ("steps.prep.outputs.skip != 'TRUE'", False),  # strings compare ignoring case
        ("!(inputs.empty)", True),
        ("'' == 0 && null == 0", True),  # different types compare as numbers
        ("contains(github.event.labels, 'b')", True),
        ("format('{0} on {1}', 'x', 'y')", "x on y"),
        ("fromJSON('{\"a\": [1]}').a[0]", 1.0),
        ("startsWith(steps.prep.outputs.runtime, 'pytorch')", True),
    ],
)
def test_evaluate(expression: str, value: Any) -> None:
    assert evaluate(expression, CONTEXT) == value


def test_render_makes_text_of_values() -> None:
    assert render("${{ inputs.api-key }}-${{ 1 == 1 }}-${{ inputs.missing }}", CONTEXT) == "k-true-"


def test_conditions_imply_success_unless_they_ask_for_status() -> None:
    assert condition(None, CONTEXT, status="success")
    assert not condition("steps.prep.outputs.skip == 'true'", CONTEXT, status="failure")
    assert condition("always() && steps.prep.outputs.skip == 'true'", CONTEXT, status="failure")
    assert condition("${{ failure() }}", CONTEXT, status="failure")


@pytest.mark.parametrize("expression", ["nope.x", "hashFiles('x')", "inputs.a ==", "a.*.b"])
def test_what_it_does_not_know_is_an_error(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, {"inputs": {}, "a": {}})
