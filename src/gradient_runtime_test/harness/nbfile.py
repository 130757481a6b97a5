"""Reading notebooks and preparing them to run (papermill-style parameters)."""

from __future__ import annotations

import copy
import dataclasses
import json
import warnings
from typing import Any, Dict, List, Mapping, Optional

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
RAISES_TAG = "raises-exception"


class NotebookFileError(Exception):
    """The notebook could not be read: missing file, invalid JSON, unsupported format."""


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A notebook ready to run, and where each of its cells came from."""

    nb: Dict[str, Any]
    origin: List[Optional[int]]  # per cell: index in the file, or None for the injected cell

    def describe_cell(self, index: Optional[int]) -> str:
        """``cell <n>`` with n the 1-based position in the notebook file."""
        if index is None or index >= len(self.origin):
            return "notebook"
        original = self.origin[index]
        if original is None:
            return "injected parameters cell"
        return "cell %d" % (original + 1)


def read_notebook(path: str) -> Dict[str, Any]:
    """The notebook at ``path`` as nbformat 4 JSON (upgraded through nbformat when available)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise NotebookFileError("notebook not found: %s" % path) from None
    except (OSError, UnicodeError) as exc:
        raise NotebookFileError("cannot read notebook %s: %s" % (path, exc)) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookFileError("invalid notebook JSON in %s: %s" % (path, exc)) from None
    if not isinstance(data, dict):
        raise NotebookFileError("invalid notebook %s: top level is not an object" % path)
    if data.get("nbformat") != 4 or not isinstance(data.get("cells"), list):
        data = _upgrade(data, path)
    for cell in data["cells"]:
        if not isinstance(cell, dict) or "cell_type" not in cell:
            raise NotebookFileError("invalid notebook %s: a cell has no cell_type" % path)
        cell.setdefault("metadata", {})
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        cell.setdefault("source", "")
        if cell["cell_type"] == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    data.setdefault("metadata", {})
    result: Dict[str, Any] = data
    return result


def _upgrade(data: Dict[str, Any], path: str) -> Dict[str, Any]:
    try:
        import nbformat as _nbformat
    except ImportError:
        raise NotebookFileError(
            "notebook %s is nbformat %r; only 4 can be read without nbformat installed"
            % (path, data.get("nbformat"))
        ) from None
    nbformat: Any = _nbformat
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            upgraded = nbformat.convert(nbformat.from_dict(data), 4)
    except Exception as exc:
        raise NotebookFileError("invalid notebook %s: %s" % (path, exc)) from None
    result: Dict[str, Any] = json.loads(json.dumps(upgraded))
    if not isinstance(result.get("cells"), list):
        raise NotebookFileError("invalid notebook %s: no cells" % path)
    return result


def tags(cell: Mapping[str, Any]) -> List[str]:
    value = cell.get("metadata", {}).get("tags", [])
    return list(value) if isinstance(value, list) else []


def kernel_name(nb: Mapping[str, Any], override: Optional[str]) -> str:
    """The spec's kernel, else the notebook's kernelspec, else ``python3``."""
    if override:
        return override
    spec = nb.get("metadata", {}).get("kernelspec", {})
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else "python3"


def language(nb: Mapping[str, Any]) -> Optional[str]:
    meta = nb.get("metadata", {})
    for key in ("kernelspec", "language_info"):
        value = meta.get(key)
        if isinstance(value, dict):
            lang = value.get("language") or (value.get("name") if key == "language_info" else None)
            if isinstance(lang, str) and lang:
                return lang.lower()
    return None


def parameters_source(parameters: Mapping[str, Any]) -> str:
    lines = ["# Parameters"]
    for name, value in parameters.items():
        lines.append("%s = %r" % (name, value))
    return "\n".join(lines) + "\n"


def prepare(nb: Dict[str, Any], parameters: Mapping[str, Any]) -> Prepared:
    """A copy of ``nb`` with ``parameters`` injected as papermill does.

    The new cell, tagged ``injected-parameters``, goes after the first cell tagged ``parameters``,
    or first when there is none; a previously injected cell is removed.
    """
    nb = copy.deepcopy(nb)
    origin: List[Optional[int]] = list(range(len(nb["cells"])))
    if not parameters:
        return Prepared(nb, origin)
    keep = [i for i, c in enumerate(nb["cells"]) if INJECTED_TAG not in tags(c)]
    cells = [nb["cells"][i] for i in keep]
    origin = list(keep)
    new_cell: Dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [INJECTED_TAG]},
        "outputs": [],
        "source": parameters_source(parameters),
    }
    if nb.get("nbformat_minor", 0) >= 5 or any("id" in c for c in cells):
        new_cell["id"] = "injected-parameters"
    at = 0
    for i, cell in enumerate(cells):
        if PARAMETERS_TAG in tags(cell):
            at = i + 1
            break
    cells.insert(at, new_cell)
    origin.insert(at, None)
    nb["cells"] = cells
    return Prepared(nb, origin)


def stream_text(cell: Mapping[str, Any]) -> str:
    """All stdout/stderr text of a cell's outputs."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text = out.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
    return "".join(parts)


def error_output(cell: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    for out in reversed(cell.get("outputs", [])):
        if out.get("output_type") == "error":
            return out  # type: ignore[no-any-return]
    return None
