"""Reading one matrix file: problems collected with their lines, and the wording of messages.

Every problem is one line, `path:line: field: what is wrong (valid: ...)`, with a "did you mean"
when a close name exists.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import yamlnodes
from .model import CONTROL_CHARS


@dataclasses.dataclass
class Reader:
    """Walks one file's values, collecting problems with their lines instead of raising."""

    display: str
    lines: Mapping[yamlnodes.Path_, int]
    problems: list[str]

    def problem(self, path: yamlnodes.Path_, message: str) -> None:
        line = self._line(path)
        self.problems.append(f"{self.display}:{line}: {field_name(path) or '(file)'}: {message}")

    def sorted_problems(self) -> list[str]:
        """Problems in line order (stable: same-line problems keep their order)."""
        prefix = len(self.display) + 1
        return sorted(self.problems, key=lambda p: int(p[prefix:].split(":", 1)[0]))

    def _line(self, path: yamlnodes.Path_) -> int:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def mapping(
        self,
        value: Any,
        path: yamlnodes.Path_,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, not {kind_of(value)}")
            return None
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.problem((*path, key), unknown("key", key, allowed))
        for key in required:
            if key not in value:
                self.problem(path, f"missing required key '{key}'")
        return value

    def string(
        self,
        value: Any,
        path: yamlnodes.Path_,
        *,
        pattern: re.Pattern[str] | None = None,
        valid: str = "",
        max_len: int = 1000,
    ) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"must be a string, not {kind_of(value)}" + valid_hint(valid))
            return None
        if CONTROL_CHARS.search(value):
            self.problem(path, f"{short(value)} contains a control character (newline, tab, ...)")
            return None
        if not value.strip():
            self.problem(path, "must not be empty" + valid_hint(valid))
            return None
        if len(value) > max_len:
            self.problem(path, f"is {len(value)} characters long (valid: at most {max_len})")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(path, f"{short(value)} is not valid" + valid_hint(valid))
            return None
        return value

    def integer(
        self, value: Any, path: yamlnodes.Path_, low: int, high: int, unit: str
    ) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(
                path, f"must be an integer, not {kind_of(value)} (valid: {low} to {high}{unit})"
            )
            return None
        if not low <= value <= high:
            self.problem(path, f"{value} is out of range (valid: {low} to {high}{unit})")
            return None
        return value

    def number(self, value: Any, path: yamlnodes.Path_, low: float, high: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(
                path, f"must be a number, not {kind_of(value)} (valid: {low:g} to {high:g})"
            )
            return None
        if not low <= value <= high:
            self.problem(path, f"{value} is out of range (valid: {low:g} to {high:g})")
            return None
        return float(value)

    def boolean(self, value: Any, path: yamlnodes.Path_) -> bool | None:
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false, not {kind_of(value)}")
            return None
        return value

    def string_list(
        self, value: Any, path: yamlnodes.Path_, pattern: re.Pattern[str], valid: str
    ) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.problem(path, f"must be a list, not {kind_of(value)}")
            return ()
        out: list[str] = []
        for i, item in enumerate(value):
            text = self.string(item, (*path, i), pattern=pattern, valid=valid)
            if text is None:
                continue
            if text in out:
                self.problem((*path, i), f"{short(text)} is listed twice")
                continue
            out.append(text)
        return tuple(out)


def field_name(path: yamlnodes.Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def kind_of(value: Any) -> str:
    if value is None:
        return "empty (null)"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def short(value: str) -> str:
    shown = value if len(value) <= 60 else value[:57] + "..."
    return repr(shown)


def valid_hint(valid: str) -> str:
    return f" (valid: {valid})" if valid else ""


def unknown(what: str, value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
    if not close:
        close = [c for c in choices if c.lower() == value.lower()]
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} {short(value)}{hint} (valid: {', '.join(choices)})"


def suggest(what: str, value: str, choices: Sequence[str]) -> str:
    """The message for an unknown name, with a 'did you mean' when one is close."""
    return unknown(what, value, choices)
