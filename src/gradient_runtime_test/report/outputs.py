"""The output folder (DESIGN.md "Output folder"): results.json, junit.xml, summary.md, notebooks/,
logs/. Files are written atomically (temp file + os.replace)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..harness.bundle import without_frames
from ..results import RunResult

_SAFE_PART = re.compile(r"^[^\x00-\x1f/\\]+$")


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_relative(path: str) -> PurePosixPath | None:
    """`path` as a relative path that stays inside its folder, or None."""
    parts = PurePosixPath(path).parts
    if (
        not parts
        or path.startswith("/")
        or any(p in ("..", ".") or not _SAFE_PART.match(p) for p in parts)
    ):
        return None
    return PurePosixPath(*parts)


def write_results(
    out: Path, runs: Sequence[RunResult], *, run_url: str | None = None
) -> dict[str, Path]:
    """results.json (one run: the run itself; several: {"runs": [...]}), junit.xml, summary.md."""
    from . import junit, markdown

    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": out / "results.json",
        "junit": out / "junit.xml",
        "summary": out / "summary.md",
    }
    data: Any = (
        runs[0].to_json() if len(runs) == 1 else {"schema": 1, "runs": [r.to_json() for r in runs]}
    )
    write_atomic(paths["results"], json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_atomic(paths["junit"], junit.render(runs))
    write_atomic(paths["summary"], markdown.summary(runs, run_url=run_url))
    return paths


def write_cell_files(
    out: Path, machine: str, log: Sequence[str], notebooks: Mapping[str, Any]
) -> None:
    """logs/<machine>.log (bundle lines left out) and notebooks/<machine>/<path> for each notebook."""
    folder = safe_relative(machine)
    if folder is None:
        return
    visible = without_frames(log)
    write_atomic(out / "logs" / f"{folder}.log", "".join(f"{line}\n" for line in visible))
    for name, notebook in notebooks.items():
        rel = safe_relative(name)
        if rel is None or not isinstance(notebook, dict):
            continue
        write_atomic(
            out / "notebooks" / folder / rel,
            json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
        )


def copy_cell_files(source: Path, out: Path, machines: Sequence[str]) -> None:
    """A fan-out job's executed notebooks, their HTML pages and logs, from its output folder
    `source` into `out` (a machine's files replace those of an earlier job), so the links of
    results.json hold in the merged folder too."""
    if source.resolve() == out.resolve():
        return
    for machine in machines:
        folder = safe_relative(machine)
        if folder is None:
            continue
        notebooks = source / "notebooks" / folder
        if notebooks.is_dir() and not notebooks.is_symlink():
            target = out / "notebooks" / folder
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(notebooks, target, symlinks=True)
        log = source / "logs" / f"{folder}.log"
        if log.is_file() and not log.is_symlink():
            (out / "logs").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, out / "logs" / f"{folder}.log")


def load_results(path: Path) -> list[RunResult]:
    """Read a results.json written by `write_results` (either shape)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "runs" in data:
        return [RunResult.from_json(r) for r in data["runs"]]
    return [RunResult.from_json(data)]
