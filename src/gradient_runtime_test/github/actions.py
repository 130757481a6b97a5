"""The one adapter for GitHub Actions workflow commands, outputs and the job summary.

Inside Actions (`GITHUB_ACTIONS=true`) it writes `::command::` lines to the stream and appends to
the `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY` files. Outside, annotations become plain
`ERROR: ...` lines, and outputs/summary go to the given paths or nowhere.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

SUMMARY_LIMIT_BYTES = 1024 * 1024  # GitHub rejects a step summary over 1 MiB
_SUMMARY_MARGIN_BYTES = 1024
_TRUNCATED = "\n\n… (summary truncated: GitHub step summaries are limited to 1 MiB)\n"
_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def escape_data(value: str) -> str:
    """Escape a workflow command's message."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command property value (`file=...,title=...`)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


class Actions:
    """Workflow commands, outputs and summary, written through one object.

    `output_path` / `summary_path` override `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY` from `env`.
    """

    def __init__(
        self,
        stream: TextIO,
        env: Mapping[str, str],
        *,
        output_path: Path | None = None,
        summary_path: Path | None = None,
    ) -> None:
        self._stream = stream
        self.in_actions = env.get("GITHUB_ACTIONS") == "true"
        self._output_path = output_path or _path(env.get("GITHUB_OUTPUT"))
        self._summary_path = summary_path or _path(env.get("GITHUB_STEP_SUMMARY"))
        self.messages: list[tuple[str, str]] = []  # (level, message), for callers and tests

    def _line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()

    def _command(self, name: str, message: str, properties: Mapping[str, str | None]) -> None:
        props = ",".join(f"{k}={escape_property(v)}" for k, v in properties.items() if v)
        head = f"::{name} {props}" if props else f"::{name}"
        self._line(f"{head}::{escape_data(message)}")

    def info(self, message: str) -> None:
        self._line(message)

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible group of log lines (`::group::` ... `::endgroup::`)."""
        if self.in_actions:
            self._line(f"::group::{escape_data(title)}")
        else:
            self._line(f"== {title}")
        try:
            yield
        finally:
            if self.in_actions:
                self._line("::endgroup::")

    def _annotate(
        self, level: str, message: str, file: str | None, line: int | None, title: str | None
    ) -> None:
        self.messages.append((level, message))
        if self.in_actions:
            props = {"file": file, "line": str(line) if line else None, "title": title}
            self._command(level, message, props)
            return
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        heading = f"{title}: " if title else ""
        self._line(f"{level.upper()}: {where}{heading}{message}")

    def error(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        self._annotate("error", message, file, line, title)

    def warning(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        self._annotate("warning", message, file, line, title)

    def notice(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        self._annotate("notice", message, file, line, title)

    def set_output(self, name: str, value: str) -> None:
        """Set a step output, multi-line safe, with a random delimiter the value cannot contain."""
        if not _OUTPUT_NAME.fullmatch(name):
            raise ValueError(f"invalid output name {name!r} (valid: letters, digits, _ and -)")
        if self._output_path is None:
            return
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        while delimiter in value:  # pragma: no cover - a random UUID in the value
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
        with self._output_path.open("a", encoding="utf-8") as f:
            f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def append_summary(self, markdown: str) -> None:
        """Append to the job summary, keeping the whole file under GitHub's 1 MiB limit."""
        if self._summary_path is None:
            return
        try:
            used = self._summary_path.stat().st_size
        except FileNotFoundError:
            used = 0
        room = SUMMARY_LIMIT_BYTES - _SUMMARY_MARGIN_BYTES - used
        text = markdown if markdown.endswith("\n") else markdown + "\n"
        data = text.encode("utf-8")
        if len(data) > room:
            keep = room - len(_TRUNCATED.encode("utf-8"))
            if keep <= 0:
                self.warning("the job summary is full (1 MiB); this part was left out")
                return
            text = data[:keep].decode("utf-8", errors="ignore") + _TRUNCATED
        with self._summary_path.open("a", encoding="utf-8") as f:
            f.write(text)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
