"""P8: the executed notebooks' HTML pages cost the run little time (issue 18).

    uv run python -m bench.pages [--rounds N]

`grt run` makes a page of every executed notebook with nbconvert. nbconvert's import and the
first page (templates compiled, style sheets read) are the expensive part, and happen in a thread
while the cells run (`Pages.warm`); what stays on the run's critical path is rendering the
pages once the cells are done. Measured side by side, each round:

- the README's main command, `grt run --matrices examples/matrices --runtime Example`, wall;
- in a fresh process, the warm-up alone (nbconvert imported and a first page made), CPU and wall;
- the run's own pages made again by a warmed `Pages` (the end-of-run critical path).

Target: the end-of-run pages within 5% of the whole run's wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, Series, check, header, table, timed

COMMAND = "uv run python -m bench.pages"
TARGET = 0.05
WARM = """
import resource, time
start = time.perf_counter()
from gradient_runtime_test.report.html import Pages
pages = Pages()
pages.warm()
pages._warming.join()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime)
"""


def end_of_run(out: Path) -> float:
    """Seconds a warmed `Pages` takes to make the pages of the run in `out` again."""
    from gradient_runtime_test.report.html import Pages
    from gradient_runtime_test.results import RunResult

    run = RunResult.from_json(json.loads((out / "results.json").read_text(encoding="utf-8")))
    pages = Pages()
    pages.warm()
    assert pages._warming is not None
    pages._warming.join()
    start = time.perf_counter()
    for cell in run.cells:
        folder = out / "notebooks" / cell.machine
        notebooks = {
            str(p.relative_to(folder)): json.loads(p.read_text(encoding="utf-8"))
            for p in folder.rglob("*.ipynb")
        }
        pages.write(out / "again", cell.machine, notebooks, cell.tests, title=run.runtime)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    grt = str(Path(sys.prefix) / "bin" / "grt")
    run, warm_wall, warm_cpu, end = (Series(n) for n in ("run", "warm", "warm cpu", "end"))
    pages = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            out = Path(tmp) / f"out{i}"
            argv = [grt, "run", "--matrices", "examples/matrices", "--runtime", "Example"]
            seconds, proc = timed([*argv, "--out", str(out)], cwd=REPO)
            check(proc, "grt run")
            run.values.append(seconds)
            pages = len(list(out.rglob("*.html")))
            code = subprocess.run(
                [sys.executable, "-c", WARM], capture_output=True, text=True, check=True, cwd=REPO
            )
            wall, cpu = (float(x) for x in code.stdout.split())
            warm_wall.values.append(wall)
            warm_cpu.values.append(cpu)
            end.values.append(end_of_run(out))
    ratio = end.median / run.median
    header("P8 notebook pages", COMMAND)
    print(
        table(
            ["what", "median s", "min–max s", "÷ grt run"],
            [
                [
                    "grt run (Example: 1 cell, 3 notebooks)",
                    f"{run.median:.2f}",
                    run.spread(),
                    "1.00",
                ],
                [
                    f"end-of-run pages ({pages} pages, warmed)",
                    f"{end.median:.3f}",
                    end.spread("{:.3f}"),
                    f"{ratio:.3f}",
                ],
                [
                    "warm-up in a thread while cells run: wall",
                    f"{warm_wall.median:.2f}",
                    warm_wall.spread(),
                    "",
                ],
                ["warm-up: CPU", f"{warm_cpu.median:.2f}", warm_cpu.spread(), ""],
            ],
        )
    )
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"\nTarget: end-of-run pages ≤ {TARGET:.0%} of the run: {verdict} ({ratio:.1%}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
