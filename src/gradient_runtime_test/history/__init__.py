"""Run history: one JSON-lines file per runtime, one record per cell per run (docs/history.md).

`records` (what a record holds, pure), `store` (the folder: `load`, `append`, bounded to the last
runs of each runtime), `inputs` (the input hash: what decides a verdict, pinned down with git and
the registry), `reuse` (a cell that passed on the same inputs recently is not run again, pure) and
`branch` (the history kept on a git branch, pushed with merge-and-retry).

Reading it, e.g. for a dashboard:

    from gradient_runtime_test import history
    h = history.load(Path("history"))          # every record, oldest run first
    for runtime in h.runtimes():
        for run in h.runs(runtime):            # run.run_id, run.records, run.cost_usd
            ...
        h.last(runtime, "A4000", 10)           # a cell's last 10 records
"""

from .records import Record
from .store import History, Run, load

__all__ = ["History", "Record", "Run", "load"]
