"""Reading notebooks and injecting parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gradient_runtime_test.harness.nbfile import (
    NotebookFileError,
    NotebookMissing,
    execution_options,
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
    assert prepared.describe_cell(3, 4) == "cell 3 (In [4])"
    assert prepared.describe_cell(2) == "injected parameters cell"
    assert prepared.describe_cell(2, 1) == "injected parameters cell (In [1])"
    assert (prepared.position(3), prepared.position(2), prepared.position(None)) == (3, None, None)


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


def test_a_missing_notebook_is_told_apart_from_a_broken_one(tmp_path: Path) -> None:
    with pytest.raises(NotebookMissing, match=r"notebook not found: .*--check-sources"):
        read_notebook(str(tmp_path / "missing.ipynb"))
    with pytest.raises(NotebookFileError, match="cannot read notebook") as info:
        read_notebook(str(tmp_path))  # a folder
    assert not isinstance(info.value, NotebookMissing)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"  \n", "is empty"),
        (b"{", "invalid notebook JSON in .*: Expecting property name"),
        (b"[]", "top level is not an object"),
        (
            '{"nbformat": 4, "cells": [], "x": "caf\u00e9"}'.encode("latin-1"),
            "is not UTF-8 \\(byte 0xe9 at offset 38\\)",
        ),
        ("\ufeff{}".encode(), "invalid notebook JSON .*BOM"),
        (b'{"nbformat": 4}', "no list of cells"),
        (b'{"nbformat": 9, "cells": []}', "nbformat 9 \\(valid: 1 to 4\\)"),
        (b'{"cells": []}', "nbformat None"),
        (b'{"nbformat": 4, "cells": [{"source": "x"}]}', "cell 1 has cell_type None"),
        (b'{"nbformat": 4, "cells": [1]}', "cell 1 has cell_type None"),
        (b'{"nbformat": 3, "metadata": {}}', "nbformat 3 without worksheets"),
    ],
)
def test_broken_notebook_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookFileError, match=message) as info:
        read_notebook(str(path))
    assert not isinstance(info.value, NotebookMissing)


def test_stored_outputs_are_cleared_and_ids_repaired(tmp_path: Path) -> None:
    data = nb([], [], [], minor=5)
    data["cells"][0]["outputs"] = [{"output_type": "stream", "text": "no name"}]
    data["cells"][0]["execution_count"] = 7
    data["cells"][0]["id"] = "same"
    data["cells"][1]["id"] = "same"
    data["cells"][2]["id"] = "not valid!"
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(data))
    cells = read_notebook(str(path))["cells"]
    assert (cells[0]["outputs"], cells[0]["execution_count"]) == ([], None)
    assert [c["id"] for c in cells] == ["same", "grt-cell-2", "grt-cell-3"]


def test_execution_options_from_the_notebook_metadata() -> None:
    def options(execution: Any) -> dict[str, Any]:
        return execution_options({"metadata": {"execution": execution}})

    assert options({"timeout": 5, "allow_errors": True}) == {"timeout": 5, "allow_errors": True}
    assert options({"timeout": -1}) == {"timeout": None}  # nbclient: no per-cell limit
    assert options({"timeout": "5", "allow_errors": "yes"}) == {}
    assert options(None) == {}
    assert execution_options({"metadata": {}}) == {}


def test_read_normalises_sources(tmp_path: Path) -> None:
    path = tmp_path / "a.ipynb"
    data = nb([])
    data["cells"][0]["source"] = ["print(1)\n", "print(2)"]
    path.write_text(json.dumps(data))
    assert read_notebook(str(path))["cells"][0]["source"] == "print(1)\nprint(2)"


def test_nbformat_3_is_upgraded_without_nbformat(tmp_path: Path) -> None:
    # v3 stores multi-line text as lists of lines; headings are cells of their own
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": "old", "signature": "sha256:x"},
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "heading", "level": 2, "metadata": {}, "source": ["Title"]},
                    {
                        "cell_type": "code",
                        "input": ["x = 1\n", "x + 1"],
                        "outputs": [{"output_type": "pyout", "prompt_number": 1, "text": ["2"]}],
                        "prompt_number": 1,
                        "language": "python",
                        "collapsed": False,
                        "metadata": {},
                    },
                    {"cell_type": "markdown", "metadata": {}, "source": ["a\n", "b"]},
                ]
            }
        ],
    }
    path = tmp_path / "v3.ipynb"
    path.write_text(json.dumps(v3))
    upgraded = read_notebook(str(path))
    assert (upgraded["nbformat"], upgraded["metadata"]) == (4, {"orig_nbformat": 3})
    assert upgraded["cells"] == [
        {"cell_type": "markdown", "metadata": {}, "source": "## Title"},
        {
            "cell_type": "code",
            "metadata": {"collapsed": False},
            "source": "x = 1\nx + 1",
            "outputs": [],
            "execution_count": None,
        },
        {"cell_type": "markdown", "metadata": {}, "source": "a\nb"},
    ]
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.from_dict(upgraded))


def test_nbformat_2_is_upgraded_with_nbformat(tmp_path: Path) -> None:
    v2 = {
        "nbformat": 2,
        "metadata": {"name": "old"},
        "worksheets": [{"cells": [{"cell_type": "code", "input": "1 + 1", "outputs": []}]}],
    }
    path = tmp_path / "v2.ipynb"
    path.write_text(json.dumps(v2))
    assert read_notebook(str(path))["cells"][0]["source"] == "1 + 1"
