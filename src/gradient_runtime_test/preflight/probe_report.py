"""The report of `grt doctor --probe` (docs/probe.md, schema 1): its first fields, the answer
of one request, where it is written (checked before anything is created), the exit code it means,
and the few lines that tell it."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import UsageError
from . import probe_plan
from .doctor import platform_words

if TYPE_CHECKING:
    from ..providers.gradient_api import GradientApiError

SCHEMA = 1
KIND = "grt-probe"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new() -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": KIND,
        "grt_version": __version__,
        "started_at": utc_now(),
        "states": [],
        "errors": [],
    }


def answer(error: GradientApiError | None) -> dict[str, Any]:
    if error is None:
        return {"accepted": True, "words": None, "status": None}
    return {
        "accepted": False,
        "words": platform_words(error),
        "status": error.status,
        "kind": type(error).__name__,
    }


def check_writable(path: Path) -> None:
    """The report must have somewhere to go before anything is created."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}."):
            pass
    except OSError as exc:
        raise UsageError(
            f"--probe-out: {str(path)!r} cannot be written ({exc.strerror or exc})"
            " (valid: a file in a folder this user can write)"
        ) from None
    if path.is_dir():
        raise UsageError(f"--probe-out: {str(path)!r} is a folder (valid: a file name)")


def write(path: Path, report: dict[str, Any], *, secrets: Iterable[str]) -> None:
    """Derive the start and stop states, scrub every secret, write atomically."""
    from ..providers.gradient_api import scrub
    from ..report.outputs import write_atomic

    report["start_states"], report["stop_states"] = probe_plan.first_and_final(report["states"])
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, scrub(text, secrets))


def exit_code(report: Mapping[str, Any]) -> int:
    """0 when every step got its answer and the notebook was ended; else 1."""
    logs = report.get("logs") or {}
    complete = "long_line" in logs and all(k in report for k in ("list_unpaged", "stop_stopped"))
    return 0 if complete and report.get("ended") and not report["errors"] else 1


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """What the probe saw, in a few lines."""
    lines = []
    create = report.get("create", {})
    if create.get("accepted") is False and "lookup_error" in create:
        lines.append(
            "The create's answer was lost and the notebook could not be looked up; if it exists,"
            " `grt sweep --older-than 0s` ends it (it also ends itself)."
        )
    elif create.get("accepted") is False and not create.get("adopted"):
        lines.append(
            f"The platform refused a {create['command_chars']:,}-character command: {create['words']}"
        )
    states = " -> ".join(f"{s['state']} ({s['at_s']:g} s)" for s in report.get("states", []))
    if states:
        lines.append(f"States: {states}")
    logs = report.get("logs") or {}
    if "long_line" in logs:
        long, burst = logs["long_line"], logs["burst"]
        lines.append(
            f"Logs: a {long['sent']:,}-character line kept {long['kept']:,}; {burst['received']} of"
            f" {burst['sent']} burst lines; order {logs['order']}; pages of 100 gave"
            f" {logs['page']['got']}"
        )
    listed = report.get("list_unpaged")
    if listed:
        lines.append(f"Unpaged list: {listed['count']} notebooks of {listed['total']}")
    for key, what in (
        ("delete_while_stopping", "Delete while stopping"),
        ("stop_stopped", "Stop when stopped"),
    ):
        answer = report.get(key)
        if answer and answer.get("tried"):
            said = "accepted" if answer["accepted"] else f"refused: {answer['words']}"
            lines.append(f"{what}: {said}")
    if not report.get("ended", True) or report.get("cleanup", {}).get("left"):
        lines.append("The notebook could not be ended: run `grt sweep --older-than 0s`.")
    for error in report.get("errors", []):
        lines.append(f"{error['step']}: {error['error']}")
    return lines
