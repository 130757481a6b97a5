"""Reading notebooks and injecting parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness.nbfile import (
    NotebookFileError,
    kernel_name,
    prepare,
    read_notebook,
)


def nb(*tag_lists: list[str], minor: int = 4) -> dict[str, Any]:
    cells = [
        {"cell_type": "code", "source": f"c{i}", "metadata": {"tags": tags}, "outputs": []}
        for i, tags in enumerate(tag_lists)
    ]
    return {"nbformat": 4, "nbformat_minor": minor, "metadata": {}, "cells": cells}


def test_parameters_go_after_the_tagged_cell() -> None:
    prepared = prepare(nb([], ["parameters"], []), {"lr": 0.1, "name": "x", "flags": [True, None]})
    cells = prepared.nb["cells"]
    assert [c["source"] for c in cells][:2] == ["c0", "c1"]
    assert cells[2]["source"] == "# Parameters\nlr = 0.1\nname = 'x'\nflags = [True, None]\n"
    assert cells[2]["metadata"]["tags"] == ["injected-parameters"]
    assert prepared.origin == [0, 1, None, 2]
    assert prepared.describe_cell(3) == "cell 3"
    assert prepared.describe_cell(2) == "injected parameters cell"


def test_parameters_go_first_without_a_tagged_cell() -> None:
    prepared = prepare(nb([], []), {"a": 1})
    assert prepared.nb["cells"][0]["metadata"]["tags"] == ["injected-parameters"]
    assert prepared.describe_cell(1) == "cell 1"


def test_an_earlier_injected_cell_is_replaced() -> None:
    prepared = prepare(nb(["parameters"], ["injected-parameters"], []), {"a": 1})
    sources = [c["source"] for c in prepared.nb["cells"]]
    assert sources == ["c0", "# Parameters\na = 1\n", "c2"]
    assert prepared.describe_cell(2) == "cell 3"


def test_nbformat_4_5_cells_get_an_id() -> None:
    assert prepare(nb([], minor=5), {"a": 1}).nb["cells"][0]["id"] == "injected-parameters"


def test_no_parameters_no_change() -> None:
    original = nb([], [])
    assert prepare(original, {}).nb == original


def test_kernel_name() -> None:
    assert kernel_name({"metadata": {}}, None) == "python3"
    assert kernel_name({"metadata": {"kernelspec": {"name": "conda-env"}}}, None) == "conda-env"
    assert kernel_name({"metadata": {"kernelspec": {"name": "conda-env"}}}, "other") == "other"


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(NotebookFileError, match="notebook not found"):
        read_notebook(str(tmp_path / "missing.ipynb"))
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{")
    with pytest.raises(NotebookFileError, match="invalid notebook JSON"):
        read_notebook(str(broken))
    listing = tmp_path / "list.ipynb"
    listing.write_text("[]")
    with pytest.raises(NotebookFileError, match="top level is not an object"):
        read_notebook(str(listing))


def test_read_normalises_sources(tmp_path: Path) -> None:
    path = tmp_path / "a.ipynb"
    data = nb([])
    data["cells"][0]["source"] = ["print(1)\n", "print(2)"]
    path.write_text(json.dumps(data))
    assert read_notebook(str(path))["cells"][0]["source"] == "print(1)\nprint(2)"


def test_old_nbformat_is_upgraded(tmp_path: Path) -> None:
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "input": "1 + 1",
                        "outputs": [],
                        "language": "python",
                        "metadata": {},
                    }
                ]
            }
        ],
    }
    path = tmp_path / "v3.ipynb"
    path.write_text(json.dumps(v3))
    assert read_notebook(str(path))["cells"][0]["source"] == "1 + 1"
