"""Durations as users type them: 90s, 30m, 6h, 1h30m, 2d."""

from __future__ import annotations

import re

from .errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, *, flag: str) -> float:
    """Seconds in `text`; a UsageError naming `flag` when it is not a duration."""
    value = text.strip().lower()
    if value and _PART.sub("", value) == "" and _PART.search(value):
        return sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    raise UsageError(f"{flag}: {text!r} is not a duration (valid: e.g. 90s, 30m, 6h, 1h30m, 2d)")
