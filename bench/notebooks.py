"""P1: executing notebooks, our harness against what users would use instead.

    uv run --with papermill --with nbmake --with nbconvert python -m bench.notebooks

Every method runs the same notebooks with a fresh kernel each, from a cold process, interleaved
round by round (the order rotates each round); a row is the wall time of the whole command.
``grt`` is ``grt run --provider local`` over a matrices folder listing the corpus: CLI start-up,
the harness's generic checks (one kernel of its own), the notebooks, the result bundle and the
output folder included; its fixed cost is measured too, with a runtime listing no notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import REPO, Series, check, header, table, timed
from bench.corpus import EMPTY, RUNTIME, write_corpus

PY = sys.executable

# One process, nbclient's defaults (graceful kernel shutdown), one kernel per notebook.
NBCLIENT_LOOP = """
import sys, nbformat
from nbclient import NotebookClient
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, resources={"metadata": {"path": "."}}).execute()
"""

OVERHEAD = "grt run --provider local, no notebooks (its fixed cost)"
Method = Callable[[list[Path], Path, Path], list[list[str]]]

COMMAND = "uv run --with papermill --with nbmake --with nbconvert python -m bench.notebooks"


def grt(paths: list[Path], matrices: Path, out: Path, runtime: str = "") -> list[list[str]]:
    runtime = runtime or RUNTIME[paths[0].stem.split("_")[0]]
    argv = [PY, "-m", "gradient_runtime_test", "run", "--matrices", str(matrices)]
    return [[*argv, "--runtime", runtime, "--provider", "local", "--out", str(out / "grt")]]


def nbconvert(paths: list[Path], matrices: Path, out: Path) -> list[list[str]]:
    jupyter = shutil.which("jupyter") or "jupyter"
    return [
        [
            jupyter,
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            str(p),
            "--output-dir",
            str(out / "nbconvert"),
        ]
        for p in paths
    ]


def papermill(paths: list[Path], matrices: Path, out: Path) -> list[list[str]]:
    exe = shutil.which("papermill") or "papermill"
    return [[exe, "--no-progress-bar", str(p), str(out / f"pm-{p.name}")] for p in paths]


def nbmake(paths: list[Path], matrices: Path, out: Path, workers: int = 0) -> list[list[str]]:
    argv = [
        PY,
        "-m",
        "pytest",
        "--nbmake",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--rootdir",
        str(paths[0].parent),
    ]
    if workers:
        argv += ["-n", str(workers)]
    return [argv + [str(p) for p in paths]]


def nbclient_loop(paths: list[Path], matrices: Path, out: Path) -> list[list[str]]:
    return [[PY, "-c", NBCLIENT_LOOP, *map(str, paths)]]


METHODS: dict[str, Method] = {
    "grt run --provider local": grt,
    "nbconvert --execute, one process per notebook (the seed)": nbconvert,
    "papermill, one process per notebook": papermill,
    "pytest --nbmake": nbmake,
    "pytest --nbmake -n 2": lambda p, m, o: nbmake(p, m, o, workers=2),
    "nbclient in one process (defaults)": nbclient_loop,
    OVERHEAD: lambda p, m, o: grt(p, m, o, runtime=EMPTY),
}
SEED = "nbconvert --execute, one process per notebook (the seed)"
NBMAKE2 = "pytest --nbmake -n 2"
TARGETS = {SEED: 0.35, NBMAKE2: 0.9}  # grt must take at most this fraction of their time


def run_method(name: str, paths: list[Path], matrices: Path, scratch: Path) -> float:
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    env = dict(os.environ)
    total = 0.0
    for argv in METHODS[name](paths, matrices, out):
        seconds, proc = timed(argv, cwd=paths[0].parent, env=env)
        check(proc, name)
        total += seconds
    if name.startswith("grt"):
        results = json.loads((out / "grt" / "results.json").read_text())
        statuses = {t["status"] for c in results["cells"] for t in c["tests"]}
        if statuses - {"passed", "skipped"}:
            raise SystemExit(f"grt reported {statuses}: see {out}/grt")
    return total


def bench(kind: str, rounds: int, scratch: Path, methods: list[str]) -> str:
    matrices, _, paths = write_corpus(scratch, kind)
    series = {name: Series(name) for name in methods}
    for r in range(rounds):
        order = methods[r % len(methods) :] + methods[: r % len(methods)]
        for name in order:
            seconds = run_method(name, paths, matrices, scratch / kind)
            series[name].values.append(seconds)
            print(
                f"  round {r + 1}/{rounds} {kind:5} {seconds:6.2f} s  {name}",
                file=sys.stderr,
                flush=True,
            )
    ours = series[methods[0]].median
    rows = []
    for name in methods:
        s = series[name]
        ratio = ours / s.median
        target = TARGETS.get(name) if kind == "light" else None
        verdict = (
            "" if target is None else f"≤ {target:.2f}: {'met' if ratio <= target else 'NOT met'}"
        )
        rows.append(
            [
                name,
                f"{s.median:.2f}",
                s.spread(),
                "" if name == OVERHEAD else ("1.00" if name == methods[0] else f"{ratio:.2f}"),
                verdict,
            ]
        )
    title = f"{kind} corpus: {len(paths)} notebooks, {rounds} rounds"
    return (
        title
        + "\n\n"
        + table(["method", "median s", "min–max s", "grt ÷ method", "target (grt ÷ method)"], rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", choices=("light", "heavy", "both"), default="both")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SUBSTRING",
        help="run only methods whose name contains this (grt always runs)",
    )
    args = parser.parse_args(argv)
    methods = [
        m for m in METHODS if m.startswith("grt") or not args.only or any(s in m for s in args.only)
    ]
    header("P1: notebook execution", COMMAND)
    kinds = ["light", "heavy"] if args.corpus == "both" else [args.corpus]
    with tempfile.TemporaryDirectory(prefix="grt-bench-") as tmp:
        tables = [bench(kind, args.rounds, Path(tmp), methods) for kind in kinds]
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
