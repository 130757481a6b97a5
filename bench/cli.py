"""P6: CLI latency of `grt validate` and `grt plan` over every shipped matrix.

    uv run python -m bench.cli

Each command runs as a user runs it (the `grt` entry point of this environment, a fresh process
each time, output discarded). With hyperfine installed (`apt-get install hyperfine`) it does the
timing; otherwise a Python loop does, the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, Series, header, table

TARGET_S = 0.5

COMMAND = "uv run python -m bench.cli"


def commands(grt: str) -> dict[str, list[str]]:
    matrices = str(REPO / "matrices")
    return {
        "grt validate": [grt, "validate", "--matrices", matrices],
        "grt plan (every runtime)": [grt, "plan", "--matrices", matrices],
        "grt plan --format json": [grt, "plan", "--matrices", matrices, "--format", "json"],
        "grt --version": [grt, "--version"],
    }


def with_hyperfine(argv: list[str], runs: int) -> Series:
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "h.json"
        subprocess.run(
            [
                "hyperfine",
                "--warmup",
                "3",
                "--runs",
                str(runs),
                "--shell=none",
                "--style",
                "none",
                "--export-json",
                str(export),
                shlex.join(argv),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        data = json.loads(export.read_text())
    return Series(argv[1], list(data["results"][0]["times"]))


def with_loop(argv: list[str], runs: int) -> Series:
    series = Series(argv[1])
    for i in range(runs + 3):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i >= 3:  # warm-up runs are not counted
            series.values.append(time.perf_counter() - start)
    return series


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    grt = shutil.which("grt") or str(Path(sys.executable).parent / "grt")
    hyperfine = shutil.which("hyperfine")
    header("P6: CLI latency", COMMAND)
    runtimes = len(list((REPO / "matrices" / "runtimes").glob("*.yaml")))
    print(
        f"Timing: {'hyperfine' if hyperfine else 'Python loop'}, {args.runs} runs after 3 "
        f"warm-up runs; matrices/ holds {runtimes} runtimes.\n"
    )
    rows = []
    for name, command in commands(grt).items():
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # it works at all
        series = with_hyperfine(command, args.runs) if hyperfine else with_loop(command, args.runs)
        verdict = (
            "" if name.endswith("--version") else ("met" if series.median < TARGET_S else "NOT met")
        )
        rows.append(
            [
                name,
                f"{series.median * 1000:.0f}",
                series.spread("{:.3f}"),
                "" if not verdict else f"< {TARGET_S} s: {verdict}",
            ]
        )
    print(table(["command", "median ms", "min–max s", "target"], rows))
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
