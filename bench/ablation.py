"""P1, what each idea buys: the harness alone on the light corpus, one knob at a time.

    uv run python -m bench.ablation

The harness zipapp runs as `grt run` would start it (`--spec-file`, no orchestrator), with
`parallel` notebooks at once and `ahead` kernels started ahead of the running notebooks (the
harness's `kernels_ahead`, patched for the measure). `parallel 1, ahead 0` is the harness as it was: one
kernel at a time, started when the previous notebook was done. Then nbclient's two ways of
shutting a kernel down, 8 start+shutdown cycles of an empty notebook each.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, Series, check, header, load_catalogue, table
from bench.corpus import write_corpus
from gradient_runtime_test.command import harness_archive, notebook_spec
from gradient_runtime_test.harness.protocol import Keep, to_json

VARIANTS = [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
RUN = """
import sys
sys.path.insert(0, sys.argv[1])
import grt_harness.run as run
run.kernels_ahead = lambda parallel: int(sys.argv[2])
from grt_harness.__main__ import main
sys.exit(main(["--spec-file", sys.argv[3]]))
"""
CYCLES = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
for _ in range(8):
    client = NotebookClient(nb, shutdown_kernel=sys.argv[1])
    with client.setup_kernel():
        pass
"""

COMMAND = "uv run python -m bench.ablation"


def spec_file(scratch: Path, parallel: int) -> Path:
    matrices, workspace, _ = write_corpus(scratch, "light")
    catalogue = load_catalogue(matrices)
    runtime = next(r for r in catalogue.runtimes if r.name == "Bench Light")
    spec = notebook_spec(
        runtime,
        catalogue.machines["C5"],
        bundle_id="bench",
        keep=Keep.NEVER,
        workspace=str(workspace),
    )
    path = scratch / f"spec-{parallel}.json"
    path.write_text(json.dumps(to_json(dataclasses.replace(spec, parallel=parallel))))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    header("P1 ablation: the harness alone, 8 light notebooks plus its checks", COMMAND)
    series = {v: Series(str(v)) for v in VARIANTS}
    shutdown = {how: Series(how) for how in ("graceful", "immediate")}
    with tempfile.TemporaryDirectory(prefix="grt-bench-abl-") as tmp:
        scratch = Path(tmp)
        pyz = scratch / "harness.pyz"
        pyz.write_bytes(harness_archive())
        specs = {p: spec_file(scratch / f"p{p}", p) for p in {v[0] for v in VARIANTS}}
        for r in range(args.rounds):
            for parallel, ahead in VARIANTS[r % 2 :] + VARIANTS[: r % 2]:
                argv = [sys.executable, "-c", RUN, str(pyz), str(ahead), str(specs[parallel])]
                start = time.perf_counter()
                proc = subprocess.run(argv, capture_output=True, text=True, check=False)
                seconds = time.perf_counter() - start
                check(proc, f"harness parallel={parallel} ahead={ahead}")
                series[(parallel, ahead)].values.append(seconds)
                print(
                    f"  round {r + 1}: parallel {parallel}, ahead {ahead}: {seconds:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
            for how, cycles in shutdown.items():
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-c", CYCLES, how], capture_output=True, text=True, check=False
                )
                check(proc, f"{how} shutdowns")
                cycles.values.append(time.perf_counter() - start)
    base = series[(1, 0)].median
    rows = [
        [
            f"parallel {p}, ahead {a}" + ("  (before)" if (p, a) == (1, 0) else ""),
            f"{s.median:.2f}",
            s.spread(),
            f"{s.median / base:.2f}",
        ]
        for (p, a), s in series.items()
    ]
    print(table(["harness", "median s", "min–max s", "÷ before"], rows))
    print("\n8 kernel start+shutdown cycles (nbclient `shutdown_kernel`), one process:\n")
    print(
        table(
            ["shutdown", "median s", "min–max s"],
            [[how, f"{s.median:.2f}", s.spread()] for how, s in shutdown.items()],
        )
    )
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
