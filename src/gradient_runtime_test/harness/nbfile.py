"""Reading notebooks and preparing them to run (papermill-style parameters).

A notebook that is not there is the matrix's mistake (``NotebookMissing``: no verdict on the
runtime); one that is there but cannot be opened — empty, not UTF-8, not JSON, not a notebook —
is the runtime's workspace that is broken (``NotebookFileError``: a failure).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import warnings
from typing import Any, Dict, List, Mapping, Optional

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
RAISES_TAG = "raises-exception"
CELL_TYPES = ("code", "markdown", "raw")
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class NotebookFileError(Exception):
    """The notebook file is there but is not a notebook Jupyter could open."""


class NotebookMissing(NotebookFileError):
    """No file at the notebook's path."""


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A notebook ready to run, and where each of its cells came from."""

    nb: Dict[str, Any]
    origin: List[Optional[int]]  # per cell: index in the file, or None for the injected cell

    def position(self, index: Optional[int]) -> Optional[int]:
        """The 1-based position in the notebook file (all cells counted) of cell ``index``."""
        if index is None or index >= len(self.origin) or self.origin[index] is None:
            return None
        return int(self.origin[index]) + 1  # type: ignore[arg-type]

    def describe_cell(self, index: Optional[int], execution_count: Optional[int] = None) -> str:
        """``cell <n> (In [<k>])``: n = ``position``, k = the prompt Jupyter shows, when it ran."""
        if index is None or index >= len(self.origin):
            return "notebook"
        position = self.position(index)
        text = "cell %d" % position if position else "injected parameters cell"
        if isinstance(execution_count, int) and not isinstance(execution_count, bool):
            text += " (In [%d])" % execution_count
        return text


def read_notebook(path: str) -> Dict[str, Any]:
    """The notebook at ``path`` as nbformat 4 JSON, outputs cleared (what ran is what is kept)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise NotebookMissing(
            "notebook not found: %s (the matrix lists it; `grt plan --check-sources` checks"
            " notebooks before a run)" % path
        ) from None
    except OSError as exc:
        raise NotebookFileError("cannot read notebook %s: %s" % (path, exc.strerror)) from None
    if not raw.strip():
        raise NotebookFileError("notebook file %s is empty" % path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookFileError(
            "notebook %s is not UTF-8 (byte 0x%02x at offset %d); Jupyter reads notebooks as UTF-8"
            % (path, raw[exc.start], exc.start)
        ) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookFileError("invalid notebook JSON in %s: %s" % (path, exc)) from None
    if not isinstance(data, dict):
        raise NotebookFileError("invalid notebook %s: top level is not an object" % path)
    version = data.get("nbformat")
    if version == 3:
        data = _from_v3(data, path)
    elif version != 4:
        data = _upgrade(data, path)
    return _normalised(data, path)


def _normalised(data: Dict[str, Any], path: str) -> Dict[str, Any]:
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise NotebookFileError("invalid notebook %s: no list of cells" % path)
    if not isinstance(data.get("metadata"), dict):
        data["metadata"] = {}
    _repair_metadata(data["metadata"])
    for n, cell in enumerate(cells, 1):
        kind = cell.get("cell_type") if isinstance(cell, dict) else None
        if kind not in CELL_TYPES:
            raise NotebookFileError(
                "invalid notebook %s: cell %d has cell_type %r (valid: %s)"
                % (path, n, kind, ", ".join(CELL_TYPES))
            )
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        cell["source"] = _text(cell.get("source", ""))
        if kind == "code":  # outputs stored in the file are not this run's
            cell["outputs"] = []
            cell["execution_count"] = None
    if any("id" in cell for cell in cells) and data.get("nbformat_minor", 0) < 5:
        data["nbformat_minor"] = 5  # ids are only valid from nbformat 4.5 on
    if data.get("nbformat_minor", 0) >= 5:
        _repair_ids(cells)
    result: Dict[str, Any] = data
    return result


def _repair_metadata(meta: Dict[str, Any]) -> None:
    """What nbformat's schema requires of the notebook metadata the harness reads and keeps:
    a kernelspec has a name and a display name, language_info a name."""
    spec = meta.get("kernelspec")
    if spec is not None and not (isinstance(spec, dict) and isinstance(spec.get("name"), str)):
        del meta["kernelspec"]
    elif isinstance(spec, dict) and not isinstance(spec.get("display_name"), str):
        spec["display_name"] = spec["name"]
    info = meta.get("language_info")
    if info is not None and not (isinstance(info, dict) and isinstance(info.get("name"), str)):
        del meta["language_info"]


def invalid_copy(nb: Mapping[str, Any]) -> Optional[str]:
    """Why an executed copy is not valid nbformat, when the runtime's nbformat can tell."""
    try:
        import nbformat as _nbformat
    except ImportError:
        return None
    nbformat: Any = _nbformat
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(nbformat.from_dict(copy.deepcopy(nb)))
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def _text(value: Any) -> str:
    """A multi-line string, which notebook files may store as a list of lines."""
    if isinstance(value, list):
        return "".join(str(line) for line in value)
    return value if isinstance(value, str) else str(value)


def _repair_ids(cells: List[Dict[str, Any]]) -> None:
    """nbformat 4.5 wants a unique id per cell: invalid, missing or repeated ones are replaced."""
    seen = set()
    for n, cell in enumerate(cells, 1):
        cell_id = cell.get("id")
        if not (isinstance(cell_id, str) and _CELL_ID.match(cell_id)) or cell_id in seen:
            cell_id = "grt-cell-%d" % n
        cell["id"] = cell_id
        seen.add(cell_id)


def _from_v3(data: Dict[str, Any], path: str) -> Dict[str, Any]:
    """nbformat 3 upgraded to 4 as nbformat does (worksheets flattened, ``input`` becomes
    ``source``, heading cells markdown), without nbformat and with outputs left out."""
    cells: List[Dict[str, Any]] = []
    worksheets = data.get("worksheets")
    if not isinstance(worksheets, list):
        raise NotebookFileError("invalid notebook %s: nbformat 3 without worksheets" % path)
    for sheet in worksheets:
        for cell in sheet.get("cells", []) if isinstance(sheet, dict) else []:
            if not isinstance(cell, dict):
                raise NotebookFileError("invalid notebook %s: a cell is not an object" % path)
            cells.append(_v3_cell(cell))
    meta = data.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta.pop("name", None)
    meta.pop("signature", None)
    meta["orig_nbformat"] = 3
    return {"nbformat": 4, "nbformat_minor": 4, "metadata": meta, "cells": cells}


def _v3_cell(cell: Dict[str, Any]) -> Dict[str, Any]:
    kind = cell.get("cell_type")
    meta = cell.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    if kind == "code":
        if "collapsed" in cell:
            meta["collapsed"] = cell["collapsed"]
        source = _text(cell.get("input", ""))
        return {"cell_type": "code", "metadata": meta, "source": source, "outputs": []}
    if kind == "heading":
        level = cell["level"] if isinstance(cell.get("level"), int) else 1
        line = " ".join(_text(cell.get("source", "")).splitlines())
        return {"cell_type": "markdown", "metadata": meta, "source": "#" * level + " " + line}
    if kind == "html":
        kind = "markdown"
    return {"cell_type": kind, "metadata": meta, "source": _text(cell.get("source", ""))}


def _upgrade(data: Dict[str, Any], path: str) -> Dict[str, Any]:
    """nbformat 1 and 2, through the runtime's nbformat."""
    version = data.get("nbformat")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 2:
        raise NotebookFileError(
            "invalid notebook %s: nbformat %r (valid: 1 to 4)" % (path, version)
        )
    try:
        import nbformat as _nbformat
    except ImportError:
        raise NotebookFileError(
            "notebook %s is nbformat %d; only 3 and 4 can be read without nbformat installed"
            % (path, version)
        ) from None
    nbformat: Any = _nbformat
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            upgraded = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:
        raise NotebookFileError("invalid notebook %s: %s" % (path, exc)) from None
    result: Dict[str, Any] = json.loads(json.dumps(upgraded))
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


def execution_options(nb: Mapping[str, Any]) -> Dict[str, Any]:
    """The notebook's own ``metadata.execution`` settings that the harness honours, as nbmake
    and nbclient read them: ``timeout`` (per cell, seconds; <= 0: none) and ``allow_errors``."""
    execution = nb.get("metadata", {}).get("execution")
    found: Dict[str, Any] = {}
    if not isinstance(execution, dict):
        return found
    timeout = execution.get("timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        found["timeout"] = timeout if timeout > 0 else None
    if isinstance(execution.get("allow_errors"), bool):
        found["allow_errors"] = execution["allow_errors"]
    return found


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


def error_outputs(cell: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    return [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
