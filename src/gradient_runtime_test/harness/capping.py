"""Keeping executed notebooks and the bundle within the spec's size caps.

Per output (``output_chars``): text (stream text, ``text/plain``, tracebacks) keeps its head and
tail around a marker; rich entries other than images (HTML, JSON, JavaScript, ...) longer than
the cap are dropped, leaving the ``text/plain`` form. Per notebook (``notebook_chars``): outputs
are kept in order while they fit the remaining budget; an image that does not fit is dropped,
and an output that does not fit at all is replaced by a marker. Per bundle (``bundle_chars``):
executed notebooks lose their outputs (largest first), then are dropped; tests never are, though
their details may be shortened as a last resort. Every cut is listed in the payload's ``notes``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, MutableMapping, Tuple

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
    truncated: int = 0
    rich_dropped: int = 0
    images_dropped: int = 0
    outputs_dropped: int = 0


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
                del data[mime]
                counts.rich_dropped += 1
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
        counts.images_dropped += len(data) - len(kept)
        if "text/plain" not in kept:
            kept["text/plain"] = "[image dropped by %s: notebook_chars budget used up]" % BRAND
        out = dict(out, data=kept)
        size = _size(out)
        if size <= budget:
            return out, size
    counts.outputs_dropped += 1
    return out, 0


def cap_notebook(nb: MutableMapping[str, Any], output_chars: int, notebook_chars: int) -> List[str]:
    """Cap ``nb``'s outputs in place; returns what was cut, as notes (empty if nothing)."""
    counts = _Counts()
    budget = notebook_chars
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        kept = []
        dropped = 0
        for original in cell.get("outputs", []):
            out, size = _fit_budget(_cap_output(original, output_chars, counts), budget, counts)
            if size:
                kept.append(out)
                budget -= size
            else:
                dropped += 1
        if dropped:
            kept.append(
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "text": "[%d output(s) dropped by %s: notebook_chars=%d used up]\n"
                    % (dropped, BRAND, notebook_chars),
                }
            )
        cell["outputs"] = kept
    widgets = nb.get("metadata", {}).get("widgets")
    notes = []
    if widgets is not None and _size(widgets) > output_chars:
        del nb["metadata"]["widgets"]
        notes.append("widget state dropped")
    for count, what in (
        (counts.truncated, "output(s) truncated to output_chars=%d" % output_chars),
        (counts.rich_dropped, "rich output(s) over output_chars=%d dropped" % output_chars),
        (counts.images_dropped, "image(s) dropped for notebook_chars=%d" % notebook_chars),
        (counts.outputs_dropped, "output(s) dropped for notebook_chars=%d" % notebook_chars),
    ):
        if count:
            notes.append("%d %s" % (count, what))
    return notes


def _strip_outputs(nb: MutableMapping[str, Any]) -> None:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
    nb.setdefault("metadata", {}).pop("widgets", None)


def fit_bundle(payload: Dict[str, Any], bundle_chars: int) -> None:
    """Shrink ``payload`` in place until it encodes to at most ``bundle_chars`` characters."""
    if encoded_chars(payload) <= bundle_chars:
        return
    notes = payload.setdefault("notes", [])
    notebooks = payload.get("notebooks", {})
    by_size = sorted(notebooks, key=lambda key: -_size(notebooks[key]))
    for key in by_size:
        _strip_outputs(notebooks[key])
        notes.append("notebooks[%s]: outputs dropped to fit bundle_chars=%d" % (key, bundle_chars))
        if encoded_chars(payload) <= bundle_chars:
            return
    for key in by_size:
        del notebooks[key]
        notes.append("notebooks[%s]: dropped to fit bundle_chars=%d" % (key, bundle_chars))
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
