"""The output folder (DESIGN.md "Output folder"): results.json, junit.xml, summary.md, notebooks/,
logs/. Files are written atomically (temp file + os.replace), mode 0644; a file that cannot be
written does not stop the others (`Output`). Reading a results.json back is capped in size and
depth, and checks every value (`load_results`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import UsageError
from ..harness.bundle import (
    MAX_JSON_CONTAINERS,
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    LimitExceeded,
    loads_bounded,
    without_frames,
)
from ..results import RunResult

_SAFE_PART = re.compile(r"^[^\x00-\x1f/\\]+$")
FILE_MODE = 0o644  # like a file `open()` makes under the usual umask; mkstemp's is 0600
# Caps on a results.json that `grt report` reads (fan-out results are artifacts: untrusted),
# applied by the bundle codec's `loads_bounded`: its depth, and its density of arrays and objects
# per byte over a file 8 times the size of a result bundle.
MAX_RESULTS_BYTES = 8 * MAX_PAYLOAD_BYTES  # 64 MiB
MAX_RESULTS_DEPTH = MAX_JSON_DEPTH  # 64; grt writes at most ~8 levels (cells, environment, metrics)
MAX_RESULTS_CONTAINERS = 8 * MAX_JSON_CONTAINERS


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Output:
    """The output folder as it is written: each file atomically, mode 0644. A file that cannot
    be written (a full disk, a permission) is noted and the others are still written; `check`
    then raises one line for all of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.failures: list[str] = []

    def write(self, path: Path, text: str) -> None:
        try:
            write_atomic(path, text)
        except OSError as exc:
            self.failures.append(f"{path} ({exc.strerror or exc})")

    def results(self, runs: Sequence[RunResult], *, run_url: str | None = None) -> dict[str, Path]:
        """results.json (one run: the run itself; several: {"runs": [...]}), junit.xml, summary.md."""
        from . import junit, markdown

        paths = {
            "results": self.root / "results.json",
            "junit": self.root / "junit.xml",
            "summary": self.root / "summary.md",
        }
        data: Any = (
            runs[0].to_json()
            if len(runs) == 1
            else {"schema": 1, "runs": [r.to_json() for r in runs]}
        )
        self.write(paths["results"], json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        self.write(paths["junit"], junit.render(runs))
        self.write(paths["summary"], markdown.summary(runs, run_url=run_url))
        return paths

    def cell_files(self, machine: str, log: Sequence[str], notebooks: Mapping[str, Any]) -> None:
        """logs/<machine>.log (bundle lines left out) and notebooks/<machine>/<path> for each
        notebook."""
        folder = safe_relative(machine)
        if folder is None:
            return
        visible = without_frames(log)
        self.write(self.root / "logs" / f"{folder}.log", "".join(f"{line}\n" for line in visible))
        for name, notebook in notebooks.items():
            rel = safe_relative(name)
            if rel is None or not isinstance(notebook, dict):
                continue
            self.write(
                self.root / "notebooks" / folder / rel,
                json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
            )

    def check(self) -> None:
        """Raise UsageError (exit 2), one line, if a file could not be written."""
        if not self.failures:
            return
        more = len(self.failures) - 1
        others = f"; {more} more file{'s' if more != 1 else ''} not written either" if more else ""
        raise UsageError(
            f"--out: could not write {self.failures[0]}{others}"
            " (valid: a folder this user can write, with free space)"
        )


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
    """Read a results.json written by `Output.results` (either shape). ValueError saying why when
    it is not one: not a regular file, over `MAX_RESULTS_BYTES`, `MAX_RESULTS_DEPTH` or
    `MAX_RESULTS_CONTAINERS`, not UTF-8 JSON, or a value of the wrong kind (named by where it
    is)."""
    if not path.is_file():
        raise ValueError("not a regular file" if path.exists() else "no such file")
    with path.open("rb") as handle:
        raw = handle.read(MAX_RESULTS_BYTES + 1)
    if len(raw) > MAX_RESULTS_BYTES:
        raise ValueError(f"over {MAX_RESULTS_BYTES // 2**20} MiB")
    try:
        data = loads_bounded(raw, MAX_RESULTS_BYTES, MAX_RESULTS_DEPTH, MAX_RESULTS_CONTAINERS)
    except LimitExceeded as exc:
        raise ValueError(f"JSON {exc}") from None
    if isinstance(data, dict) and "runs" in data:
        if not isinstance(data["runs"], list):
            raise ValueError("runs: not a list")
        return [RunResult.from_json(r, f"runs[{i}]") for i, r in enumerate(data["runs"])]
    return [RunResult.from_json(data, "results")]
