"""Keeping executed notebooks and the bundle within the spec's size caps.

Per output (``output_chars``): text (stream text, ``text/plain``, tracebacks) keeps its head and
tail around a marker; rich entries other than images (HTML, JSON, JavaScript, ...) longer than
the cap are dropped, leaving the ``text/plain`` form. Per notebook (``notebook_chars``): outputs
are kept in order while they fit the remaining budget; an image that does not fit is dropped,
and an output that does not fit at all is replaced by a marker. Per bundle (``bundle_chars``):
executed notebooks lose their outputs (largest first), then are dropped; tests never are, though
their details may be shortened as a last resort. Every cut is marked in the executed copy (a
marker in truncated text, a stderr output at the end of a cell that lost outputs) and listed on
the notebook's test (``cut``) and in the payload's ``notes``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable, Dict, List, MutableMapping, Optional, Tuple

from .bundle import encoded_chars

BRAND = "gradient-runtime-test"


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def _join(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters: head, a marker, tail."""
    if len(text) <= limit:
        return text
    marker = "\n[... %d characters cut by %s (output_chars=%d) ...]\n" % (
        len(text) - limit,
        BRAND,
        limit,
    )
    keep = max(limit - len(marker), 0)
    head = keep * 2 // 3
    rest = keep - head
    return text[:head] + marker + (text[-rest:] if rest else "")


@dataclasses.dataclass
class _Counts:
    """What was cut from one cell."""

    truncated: int = 0
    rich_dropped: List[str] = dataclasses.field(default_factory=list)  # "text/html, 52,000 chars"
    images_dropped: List[str] = dataclasses.field(default_factory=list)
    outputs_dropped: int = 0

    def describe(self, output_chars: int, notebook_chars: int) -> List[str]:
        parts = []
        if self.truncated:
            parts.append(
                "%d output(s) truncated to output_chars=%d" % (self.truncated, output_chars)
            )
        if self.rich_dropped:
            parts.append(
                "%s dropped: over output_chars=%d" % ("; ".join(self.rich_dropped), output_chars)
            )
        if self.images_dropped:
            parts.append(
                "%s dropped: notebook_chars=%d used up"
                % ("; ".join(self.images_dropped), notebook_chars)
            )
        if self.outputs_dropped:
            parts.append(
                "%d output(s) dropped: notebook_chars=%d used up"
                % (self.outputs_dropped, notebook_chars)
            )
        return parts


def _what(mime: str, value: Any) -> str:
    return "%s (%s characters)" % (mime, format(_size(value), ","))


def _cap_output(out: Dict[str, Any], limit: int, counts: _Counts) -> Dict[str, Any]:
    kind = out.get("output_type")
    if kind == "stream":
        text = _join(out.get("text", ""))
        if len(text) > limit:
            out = dict(out, text=cap_text(text, limit))
            counts.truncated += 1
    elif kind == "error":
        lines = [str(line) for line in out.get("traceback", [])]
        if sum(len(line) + 1 for line in lines) > limit:
            out = dict(out, traceback=[cap_text("\n".join(lines), limit)])
            counts.truncated += 1
        if len(str(out.get("evalue", ""))) > limit:
            out = dict(out, evalue=cap_text(str(out.get("evalue", "")), limit))
    elif kind in ("execute_result", "display_data") and isinstance(out.get("data"), dict):
        data = dict(out["data"])
        for mime in list(data):
            if mime == "text/plain":
                text = _join(data[mime])
                if len(text) > limit:
                    data[mime] = cap_text(text, limit)
                    counts.truncated += 1
            elif not mime.startswith("image/") and _size(data[mime]) > limit:
                counts.rich_dropped.append(_what(mime, data.pop(mime)))
        if not data:
            data["text/plain"] = "[output dropped by %s: over output_chars=%d]" % (BRAND, limit)
        out = dict(out, data=data)
    return out


def _fit_budget(out: Dict[str, Any], budget: int, counts: _Counts) -> Tuple[Dict[str, Any], int]:
    """``out`` as it fits ``budget`` (images dropped first), and its size; size 0 = dropped."""
    size = _size(out)
    if size <= budget:
        return out, size
    data = out.get("data")
    if isinstance(data, dict) and any(m.startswith("image/") for m in data):
        kept = {m: v for m, v in data.items() if not m.startswith("image/")}
        counts.images_dropped.extend(_what(m, v) for m, v in data.items() if m not in kept)
        if "text/plain" not in kept:
            kept["text/plain"] = "[image dropped by %s: notebook_chars budget used up]" % BRAND
        out = dict(out, data=kept)
        size = _size(out)
        if size <= budget:
            return out, size
    counts.outputs_dropped += 1
    return out, 0


MAX_CUT_ENTRIES = 20


def cap_notebook(
    nb: MutableMapping[str, Any],
    output_chars: int,
    notebook_chars: int,
    position: Callable[[int], Optional[int]] = lambda index: index + 1,
) -> List[str]:
    """Cap ``nb``'s outputs in place; returns what was cut (empty if nothing), one entry per
    cell, named ``cell <position(index)>``. A cell that lost outputs, images or rich data ends
    with a stderr output saying what it lost; truncated text carries its own marker."""
    budget = notebook_chars
    cuts = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        counts = _Counts()
        kept = []
        for original in cell.get("outputs", []):
            out, size = _fit_budget(_cap_output(original, output_chars, counts), budget, counts)
            if size:
                kept.append(out)
                budget -= size
        parts = counts.describe(output_chars, notebook_chars)
        if counts.rich_dropped or counts.images_dropped or counts.outputs_dropped:
            lost = [p for p in parts if "truncated" not in p]
            marker = "[cut by %s: %s]\n" % (BRAND, "; ".join(lost))
            kept.append({"output_type": "stream", "name": "stderr", "text": marker})
        cell["outputs"] = kept
        if parts:
            at = position(index)
            where = "cell %d" % at if at else "injected parameters cell"
            cuts.append("%s: %s" % (where, "; ".join(parts)))
    widgets = nb.get("metadata", {}).get("widgets")
    if widgets is not None and _size(widgets) > output_chars:
        del nb["metadata"]["widgets"]
        cuts.append("widget state dropped: over output_chars=%d" % output_chars)
    if len(cuts) > MAX_CUT_ENTRIES:
        cuts[MAX_CUT_ENTRIES - 1 :] = ["... and %d more" % (len(cuts) - MAX_CUT_ENTRIES + 1)]
    return cuts


def _strip_outputs(nb: MutableMapping[str, Any], bundle_chars: int) -> None:
    marker = "[outputs dropped by %s to fit bundle_chars=%d]\n" % (BRAND, bundle_chars)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and cell.get("outputs"):
            cell["outputs"] = [{"output_type": "stream", "name": "stderr", "text": marker}]
    nb.setdefault("metadata", {}).pop("widgets", None)


def _cut(payload: Dict[str, Any], key: str, what: str) -> None:
    """Record a cut of notebook ``key``'s copy in the notes and on its test."""
    payload.setdefault("notes", []).append("notebooks[%s]: %s" % (key, what))
    for test in payload.get("tests", []):
        if test.get("name") == "notebooks/" + key:
            test["cut"] = [*test.get("cut", []), what]


def fit_bundle(payload: Dict[str, Any], bundle_chars: int) -> None:
    """Shrink ``payload`` in place until it encodes to at most ``bundle_chars`` characters."""
    if encoded_chars(payload) <= bundle_chars:
        return
    notes = payload.setdefault("notes", [])
    notebooks = payload.get("notebooks", {})
    by_size = sorted(notebooks, key=lambda key: -_size(notebooks[key]))
    for key in by_size:
        _strip_outputs(notebooks[key], bundle_chars)
        _cut(payload, key, "all outputs dropped to fit bundle_chars=%d" % bundle_chars)
        if encoded_chars(payload) <= bundle_chars:
            return
    for key in by_size:
        del notebooks[key]
        _cut(payload, key, "executed copy dropped to fit bundle_chars=%d" % bundle_chars)
        if encoded_chars(payload) <= bundle_chars:
            return
    for limit in (4000, 1000, 200):
        for test in payload.get("tests", []):
            for field in ("details", "message"):
                if len(test.get(field, "")) > limit:
                    test[field] = cap_text(test[field], limit)
        notes.append("test details shortened to %d characters to fit bundle_chars" % limit)
        if encoded_chars(payload) <= bundle_chars:
            return
    notes.append("payload still over bundle_chars=%d after all cuts" % bundle_chars)
