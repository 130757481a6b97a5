"""Capping executed notebooks and the bundle."""

from __future__ import annotations

import json
from typing import Any

from gradient_runtime_test.harness.bundle import encoded_chars
from gradient_runtime_test.harness.capping import cap_notebook, cap_text, fit_bundle


def cell(*outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "source": "", "metadata": {}, "outputs": list(outputs)}


def stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def display(data: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {}, "data": data}


def test_cap_text_keeps_head_and_tail() -> None:
    text = "HEAD" + "x" * 10_000 + "TAIL"
    capped = cap_text(text, 500)
    assert len(capped) <= 500
    assert capped.startswith("HEAD")
    assert capped.endswith("TAIL")
    assert "characters cut by gradient-runtime-test (output_chars=500)" in capped
    assert cap_text("short", 500) == "short"


def test_text_truncated_rich_dropped_images_kept_within_budget() -> None:
    nb: dict[str, Any] = {
        "metadata": {},
        "cells": [
            cell(
                stream("y" * 5000),
                display({"text/html": "<b>" * 2000, "text/plain": "table"}),
                display({"image/png": "A" * 3000, "text/plain": "<Figure>"}),
                {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t" * 5000]},
            )
        ],
    }
    cuts = cap_notebook(nb, output_chars=1000, notebook_chars=100_000)
    outs = nb["cells"][0]["outputs"]
    assert len(outs[0]["text"]) <= 1000
    assert outs[1]["data"] == {"text/plain": "table"}
    assert outs[2]["data"]["image/png"] == "A" * 3000  # images are not cut per output
    assert len(outs[3]["traceback"][0]) <= 1000
    assert cuts == [
        "cell 1: 2 output(s) truncated to output_chars=1000;"
        " text/html (6,000 characters) dropped: over output_chars=1000"
    ]
    # what was dropped is marked in the copy itself, at the end of the cell
    assert outs[4] == {
        "output_type": "stream",
        "name": "stderr",
        "text": "[cut by gradient-runtime-test: text/html (6,000 characters) dropped:"
        " over output_chars=1000]\n",
    }


def test_notebook_budget_drops_images_then_outputs() -> None:
    nb: dict[str, Any] = {
        "metadata": {},
        "cells": [
            cell(stream("a" * 900)),
            cell(display({"image/png": "A" * 5000, "text/plain": "<Figure>"})),
            cell(stream("b" * 900), stream("c" * 900)),
            cell(stream("small")),
        ],
    }
    cuts = cap_notebook(
        nb, output_chars=1000, notebook_chars=2200, position=lambda index: index * 2 + 1
    )
    cells = nb["cells"]
    assert cells[0]["outputs"][0]["text"] == "a" * 900
    assert cells[1]["outputs"][0]["data"] == {"text/plain": "<Figure>"}
    assert "image/png (5,000 characters) dropped" in cells[1]["outputs"][1]["text"]
    assert cells[2]["outputs"][0]["text"] == "b" * 900
    assert cells[2]["outputs"][1]["text"] == (
        "[cut by gradient-runtime-test: 1 output(s) dropped: notebook_chars=2200 used up]\n"
    )
    assert cells[3]["outputs"][0]["text"] == "small"  # later small outputs still fit
    # cells are named by their place in the notebook file (``position``)
    assert cuts == [
        "cell 3: image/png (5,000 characters) dropped: notebook_chars=2200 used up",
        "cell 5: 1 output(s) dropped: notebook_chars=2200 used up",
    ]


def test_many_cuts_are_listed_up_to_a_limit() -> None:
    nb: dict[str, Any] = {"metadata": {}, "cells": [cell(stream("z" * 50)) for _ in range(30)]}
    cuts = cap_notebook(nb, output_chars=10, notebook_chars=100_000)
    assert len(cuts) == 20
    assert cuts[0] == "cell 1: 1 output(s) truncated to output_chars=10"
    assert cuts[-1] == "... and 11 more"


def payload(notebook_sizes: dict[str, int]) -> dict[str, Any]:
    import random

    rng = random.Random(3)

    def noise(n: int) -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))

    return {
        "tests": [
            {"name": f"t{i}", "status": "passed", "message": "m", "details": "d"} for i in range(50)
        ]
        + [{"name": f"notebooks/{name}", "status": "passed"} for name in notebook_sizes],
        "notebooks": {
            name: {"metadata": {}, "cells": [{**cell(stream(noise(size))), "source": "print()"}]}
            for name, size in notebook_sizes.items()
        },
    }


def test_fit_bundle_drops_outputs_of_the_largest_notebook_first() -> None:
    p = payload({"big.ipynb": 60_000, "small.ipynb": 2_000})
    fit_bundle(p, 20_000)
    assert encoded_chars(p) <= 20_000
    big = p["notebooks"]["big.ipynb"]["cells"][0]
    assert big["outputs"] == [
        {
            "output_type": "stream",
            "name": "stderr",
            "text": "[outputs dropped by gradient-runtime-test to fit bundle_chars=20000]\n",
        }
    ]
    assert big["source"] == "print()"
    assert p["notebooks"]["small.ipynb"]["cells"][0]["outputs"][0]["name"] == "stdout"
    assert p["notes"] == ["notebooks[big.ipynb]: all outputs dropped to fit bundle_chars=20000"]
    assert len(p["tests"]) == 52
    assert p["tests"][50]["cut"] == ["all outputs dropped to fit bundle_chars=20000"]
    assert "cut" not in p["tests"][51]


def test_fit_bundle_never_drops_tests() -> None:
    p = payload({"a.ipynb": 5_000})
    for test in p["tests"]:
        test["details"] = json.dumps(list(range(3000)))
    fit_bundle(p, 3_000)
    assert len(p["tests"]) == 51
    assert p["notebooks"] == {}
    assert p["tests"][50]["cut"] == [
        "all outputs dropped to fit bundle_chars=3000",
        "executed copy dropped to fit bundle_chars=3000",
    ]
    assert any("test details shortened" in note for note in p["notes"])


def test_fit_bundle_leaves_small_payloads_alone() -> None:
    p = payload({"a.ipynb": 100})
    before = json.dumps(p)
    fit_bundle(p, 1_000_000)
    assert json.dumps(p) == before
