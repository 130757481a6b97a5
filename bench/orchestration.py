"""P2-P5: orchestration against the fake Paperspace API, time scaled down 50 times.

    uv run python -m bench.orchestration

Scale: one bench second stands for 50 real seconds. A notebook starts up in 2 s (100 s real) and
its harness runs 3 s (150 s real) before its result bundle is complete; the harness then ends
Jupyter after its end delay (2 s real: one log line, 0.05 s, here). `grt` polls every 0.1 s (its
5 s on Gradient). Notebooks replay a result bundle (the fake's `replay_log`) instead of running
the harness, except in the "orchestrator killed" scenario, which runs the real command.

- P2: wall time against the ideal: 1 runtime x 11 machines at once (ideal: the slowest cell's
  start-up + run), and 12 runtimes x 11 machines under a 10-notebook running limit with
  `--max-parallel 10` (ideal: the best schedule of the measured cell times on 10 slots).
- P3: status requests (list or get) per poll, whatever the number of live notebooks.
- P4: billed notebook-seconds (created -> Stopped, as the fake records them) / useful seconds
  (created -> bundle complete); and, with the real notebook command, how long after its harness
  finished a notebook whose orchestrator was SIGKILLed ends itself.
- P5: from SIGTERM to `grt run` until every live notebook's stop request has reached the API.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import heapq
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.fakes.paperspace import FakeNotebook, FakePaperspace, Faults
from tests.fakes.paperspace.transport import HttpServer
from tests.hardening.helpers import answering, spec_of

from bench.common import REPO, Series, header, load_catalogue, table
from bench.corpus import write_corpus
from gradient_runtime_test.harness.bundle import END, encode_lines
from gradient_runtime_test.harness.protocol import Keep
from gradient_runtime_test.orchestrate import Job, Orchestrator, options_for
from gradient_runtime_test.orchestrate.jobs import make_job
from gradient_runtime_test.plan import Cell
from gradient_runtime_test.providers.base import Handle, NotebookState
from gradient_runtime_test.providers.gradient import GradientProvider
from gradient_runtime_test.providers.retrying import RetryPolicy
from gradient_runtime_test.results import CellStatus
from gradient_runtime_test.settings import PaperspaceSettings

SCALE = 50
START_S = 2.0  # notebook start-up (Pending + Provisioning)
RUN_S = 3.0  # from Running to a complete bundle
LINE_S = 0.05  # replayed log lines come this far apart
END_LINES = 1  # lines after the bundle: the harness's end delay (2 s real = 0.04 s)
POLL_S = 5.0 / SCALE
PROJECT = "prjbench"
API_KEY = "bench-key"
NAME = re.compile(r"\[(?P<bundle>[0-9a-f]+)\]$")
TARGETS = {"11": 1.10, "132": 1.15, "billed": 1.05, "requests": 1, "kill": 60.0, "sigterm": 3.0}

COMMAND = "uv run python -m bench.orchestration"


def replay(notebook: FakeNotebook, run_s: float = RUN_S) -> str:
    """The log of a healthy harness for this notebook: RUN_S of progress, the bundle, the end."""
    match = NAME.search(notebook.name)
    bundle_id = match.group("bundle") if match else "unknown"
    payload = {
        "schema": 1,
        "harness_version": "replayed",
        "bundle_id": bundle_id,
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:02:30Z",
        "environment": {"python": "3.11.9"},
        "metrics": {},
        "tests": answering(spec_of(notebook)),  # everything the spec asks for, passed
        "notebooks": {},
    }
    bundle = encode_lines(payload, bundle_id)
    lines = round(run_s / LINE_S)
    filler = ["[I ServerApp] Jupyter Server is running"] + [
        "grt-harness: working" for _ in range(lines - len(bundle) - 1)
    ]
    end = ["grt-harness: ended process 7 (keep=never)"] * END_LINES
    return "\n".join([*filler, *(line.rstrip("\n") for line in bundle), *end]) + "\n"


# --- the fake and the jobs -------------------------------------------------------------------


# The fake's HTTP servers listen with socketserver's default backlog of 5: a burst of concurrent
# requests (the SDK opens a connection per request) overflows it and the kernel drops SYNs, which
# clients resend after 1 s. Paperspace's API has no such limit, so the bench lifts it.
HttpServer.request_queue_size = 128


@contextlib.contextmanager
def fake_api(
    *,
    running_limit: int | None = None,
    replayed: bool = True,
    run_s: float = RUN_S,
    workdir: Path,
) -> Iterator[FakePaperspace]:
    faults = Faults(
        start_delay_s=START_S,
        running_limit=running_limit,
        replay_log=functools.partial(replay, run_s=run_s) if replayed else None,
        replay_line_delay_s=LINE_S,
    )
    fake = FakePaperspace(faults=faults, hour_s=600.0, stop_grace_s=1.0, workdir=workdir)
    with fake:
        saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "NO_PROXY")}
        os.environ["REQUESTS_CA_BUNDLE"] = str(fake.ca_bundle)
        os.environ["NO_PROXY"] = "127.0.0.1,localhost"
        try:
            yield fake
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def jobs_for(runtimes: int, machines: int, run_id: str, provider: GradientProvider) -> list[Job]:
    """Jobs exactly as `grt run` builds them, for the shipped matrices."""
    catalogue = load_catalogue(REPO / "matrices")
    return [
        dataclasses.replace(
            make_job(
                Cell(runtime, machine),
                provider=provider,
                run_id=run_id,
                keep=Keep.NEVER,
                workspace=None,
                ref=None,
                project_id=PROJECT,
                key=f"{runtime.slug}/{machine.name}",
            ),
            run_timeout_s=600.0,
        )
        for runtime in catalogue.runtimes[:runtimes]
        for machine in list(catalogue.machines.values())[:machines]
    ]


class CountingProvider(GradientProvider):
    """The Gradient provider, counting the status requests each poll makes."""

    def __init__(self, fake: FakePaperspace, settings: PaperspaceSettings) -> None:
        # as `grt run` makes it: a stopping notebook is watched at the poll interval (up to 1 s)
        super().__init__(settings, retry=RetryPolicy(backoff_s=0.05), poll_interval_s=POLL_S)
        self.fake = fake
        self.per_poll: list[int] = []
        self.live_per_poll: list[int] = []

    def states(self, handles: Sequence[Handle]) -> dict[str, NotebookState]:
        before = self._status_requests()
        try:
            return super().states(handles)
        finally:
            self.per_poll.append(self._status_requests() - before)
            self.live_per_poll.append(len(handles))

    def _status_requests(self) -> int:
        return sum(
            r.path in ("/notebooks/getNotebook", "/notebooks/getNotebooks")
            for r in self.fake.requests
        )


def _at(iso: str | None) -> dt.datetime | None:
    return None if iso is None else dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


@dataclasses.dataclass
class Figures:
    wall_s: float
    ideal_s: float
    useful_s: list[float]
    billed_s: list[float]
    requests_per_poll: list[int]
    live_per_poll: list[int]
    log_requests: int
    cells: int


def cell_times(fake: FakePaperspace) -> tuple[list[float], list[float]]:
    """Per notebook: useful seconds (created -> bundle complete) and billed (created -> ended)."""
    useful, billed = [], []
    for notebook in fake.notebooks.values():
        record = notebook.to_json(fake.metrics_address)
        created = _at(record["dtCreated"])
        finished = _at(record["dtFinished"])
        end = next((r for r in notebook.rows() if r.message.startswith(END)), None)
        assert created is not None and finished is not None and end is not None, record
        complete = _at(end.timestamp)
        assert complete is not None
        useful.append((complete - created).total_seconds())
        billed.append((finished - created).total_seconds())
    return useful, billed


def best_schedule(durations: Sequence[float], slots: int) -> float:
    """Makespan of the longest-first list schedule of `durations` on `slots` (optimal for equal
    durations, within a few percent of optimal for near-equal ones)."""
    finish = [0.0] * slots
    for d in sorted(durations, reverse=True):
        heapq.heappush(finish, heapq.heappop(finish) + d)
    return max(finish)


def orchestrate(
    scratch: Path, *, runtimes: int, machines: int, max_parallel: int, running_limit: int | None
) -> Figures:
    with fake_api(running_limit=running_limit, workdir=scratch / "fake") as fake:
        settings = PaperspaceSettings(API_KEY, fake.url, fake.log_url, PROJECT)
        provider = CountingProvider(fake, settings)
        jobs = jobs_for(runtimes, machines, uuid.uuid4().hex[:10], provider)
        options = options_for(
            POLL_S, max_parallel=max_parallel, startup_timeout_s=60.0, unavailable_delay_s=1.0
        )
        orchestrator = Orchestrator(provider, options)
        started = time.monotonic()
        outcomes = orchestrator.run(jobs)
        wall = time.monotonic() - started
        bad = [o.result for o in outcomes if o.result.status != CellStatus.PASSED]
        if bad:
            raise SystemExit(f"cells did not pass: {bad[:3]}")
        deadline = time.monotonic() + 10
        while any(nb.state not in ("Stopped", "Error") for nb in fake.notebooks.values()):
            if time.monotonic() > deadline:
                raise SystemExit("notebooks still running 10 s after the run")
            time.sleep(0.05)
        useful, billed = cell_times(fake)
        logs = len(fake.requests_to("/jobs/logs"))
    slots = min(max_parallel, running_limit or max_parallel)
    ideal = max(useful) if slots >= len(jobs) else best_schedule(useful, slots)
    return Figures(
        wall, ideal, useful, billed, provider.per_poll, provider.live_per_poll, logs, len(jobs)
    )


# --- the real command, through the CLI ----------------------------------------------------------


def cli_env(fake: FakePaperspace) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PAPERSPACE_API_KEY": API_KEY,
        "PAPERSPACE_CONFIG_HOST": fake.url,
        "PAPERSPACE_CONFIG_LOG_HOST": fake.log_url,
        "PAPERSPACE_PROJECT_ID": PROJECT,
        "REQUESTS_CA_BUNDLE": str(fake.ca_bundle),
        "NO_PROXY": "127.0.0.1",
        "GRT_POLL_INTERVAL": str(POLL_S),
    }


def start_grt(fake: FakePaperspace, matrices: Path, runtime: str, out: Path, *extra: str) -> Any:
    argv = [sys.executable, "-m", "gradient_runtime_test", "run", "--matrices", str(matrices)]
    argv += ["--runtime", runtime, "--provider", "gradient", "--out", str(out), *extra]
    return subprocess.Popen(
        argv, env=cli_env(fake), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def killed_orchestrator(scratch: Path) -> float:
    """SIGKILL `grt run` while its (real) notebook runs; seconds from the harness's bundle being
    complete to the notebook being Stopped, all by itself."""
    matrices, workspace, _ = write_corpus(scratch, "light")
    url = "https://github.com/bench/light"
    runtime_file = matrices / "runtimes" / "bench-light.yaml"
    text = runtime_file.read_text().replace("workspace: ../workspace", f"workspace: {url}")
    runtime_file.write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=workspace, check=True)
    subprocess.run(["git", "add", "."], cwd=workspace, check=True)
    git_id = ["-c", "user.name=b", "-c", "user.email=b@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *git_id, "commit", "-qm", "corpus"], cwd=workspace, check=True)
    with fake_api(replayed=False, workdir=scratch / "fake-kill") as fake:
        fake.faults.start_delay_s = 0.5
        fake.repositories[url] = workspace
        grt = start_grt(fake, matrices, "Bench Light", scratch / "out-kill")
        wait_for(
            lambda: any(nb.state == "Running" for nb in fake.notebooks.values()),
            60,
            "the notebook to run",
        )
        grt.kill()
        grt.communicate()
        (notebook,) = fake.notebooks.values()
        wait_for(lambda: notebook.state in ("Stopped", "Error"), 300, "the notebook to end")
        end = next(r for r in notebook.rows() if r.message.startswith(END))
        finished = _at(notebook.to_json(fake.metrics_address)["dtFinished"])
        complete = _at(end.timestamp)
        assert finished is not None and complete is not None
        return (finished - complete).total_seconds()


def sigterm_to_stops(scratch: Path, machines: int = 11) -> tuple[float, float]:
    """`grt run` over `machines` long-running cells; SIGTERM once all run. Seconds until every
    stop request reached the API, and until grt exited."""
    root = scratch / "sigterm"
    (root / "runtimes").mkdir(parents=True, exist_ok=True)
    names = [f"M{i:02d}" for i in range(machines)]
    (root / "machines.yaml").write_text(
        "machines:\n" + "".join(f"  {n}: {{accelerator: cpu}}\n" for n in names)
    )
    (root / "runtimes" / "long.yaml").write_text(
        "name: Long\ncontainer: paperspace/gradient-base:bench\n"
        f"machines: [{', '.join(names)}]\nnotebooks: [long.ipynb]\n"
    )
    with fake_api(run_s=120.0, workdir=scratch / "fake-term") as fake:  # still running then
        grt = start_grt(fake, root, "Long", scratch / "out-term", "--max-parallel", str(machines))
        wait_for(
            lambda: sum(nb.state == "Running" for nb in fake.notebooks.values()) == machines,
            60,
            "every notebook to run",
        )
        sent = time.monotonic()
        grt.send_signal(signal.SIGTERM)
        grt.communicate(timeout=60)
        exited = time.monotonic() - sent
        stops = fake.requests_to("stopNotebook")
        stopped = {r.body_json.get("notebookId") for r in stops if isinstance(r.body_json, dict)}
        if len(stopped) < machines:
            raise SystemExit(f"only {len(stopped)} of {machines} notebooks were asked to stop")
        return max(r.at for r in stops) - sent, exited


# --- report ---------------------------------------------------------------------------------------


def ratio_row(name: str, values: Series, target: float, fmt: str = "{:.3f}") -> list[str]:
    ok = values.median <= target
    return [
        name,
        fmt.format(values.median),
        values.spread(fmt),
        f"≤ {target:g}",
        "met" if ok else "NOT met",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-132", action="store_true", help="skip the 132-cell scenario")
    args = parser.parse_args(argv)
    header("P2–P5: orchestration against the fake Paperspace API", COMMAND)
    print(
        f"Scale 1:{SCALE}: start-up {START_S:g} s, run {RUN_S:g} s, poll {POLL_S:g} s, "
        f"log lines {LINE_S:g} s apart, harness end delay {END_LINES * LINE_S:g} s.\n"
    )
    wall11, wall132, billed, per_poll = (
        Series("11"),
        Series("132"),
        Series("billed"),
        Series("poll"),
    )
    kill, term, term_exit = Series("kill"), Series("term"), Series("term exit")
    details = []
    with tempfile.TemporaryDirectory(prefix="grt-bench-orch-") as tmp:
        for r in range(args.rounds):
            scratch = Path(tmp) / f"r{r}"
            a = orchestrate(
                scratch / "a", runtimes=1, machines=11, max_parallel=11, running_limit=None
            )
            wall11.values.append(a.wall_s / a.ideal_s)
            runs = [a]
            if not args.skip_132:
                b = orchestrate(
                    scratch / "b", runtimes=12, machines=11, max_parallel=10, running_limit=10
                )
                wall132.values.append(b.wall_s / b.ideal_s)
                runs.append(b)
            billed.values.append(
                sum(sum(f.billed_s) for f in runs) / sum(sum(f.useful_s) for f in runs)
            )
            per_poll.values.append(max(max(f.requests_per_poll) for f in runs))
            kill.values.append(killed_orchestrator(scratch))
            last, exited = sigterm_to_stops(scratch)
            term.values.append(last)
            term_exit.values.append(exited)
            for f in runs:
                details.append(
                    f"  round {r + 1}: {f.cells} cells: wall {f.wall_s:.2f} s, ideal {f.ideal_s:.2f} s, "
                    f"{len(f.requests_per_poll)} polls (live notebooks up to {max(f.live_per_poll)}), "
                    f"status requests per poll {min(f.requests_per_poll)}–{max(f.requests_per_poll)}, "
                    f"log requests {f.log_requests} ({f.log_requests / f.cells:.1f} a cell), "
                    f"billed/useful {sum(f.billed_s) / sum(f.useful_s):.3f}"
                )
            print("\n".join(details[-len(runs) :]), file=sys.stderr, flush=True)
            print(
                f"  round {r + 1}: killed: {kill.values[-1]:.2f} s; SIGTERM: {last:.2f} s to all stops, exit {exited:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    rows = [ratio_row("P2 wall ÷ ideal, 11 machines at once", wall11, TARGETS["11"])]
    if wall132.values:
        rows.append(
            ratio_row("P2 wall ÷ ideal, 132 cells, running limit 10", wall132, TARGETS["132"])
        )
    rows += [
        ratio_row("P3 status requests per poll (max)", per_poll, TARGETS["requests"], "{:.0f}"),
        ratio_row("P4 billed ÷ useful notebook-seconds", billed, TARGETS["billed"]),
        ratio_row(
            "P4 orchestrator SIGKILLed: harness done → notebook Stopped (s)",
            kill,
            TARGETS["kill"],
            "{:.2f}",
        ),
        ratio_row("P5 SIGTERM → every stop request sent (s)", term, TARGETS["sigterm"], "{:.2f}"),
    ]
    print(f"{args.rounds} rounds\n")
    print(table(["measure", "median", "min–max", "target", ""], rows))
    print(f"\n(SIGTERM → grt exited: median {term_exit.median:.2f} s, {term_exit.spread()} s)")
    print("\nPer run:\n" + "\n".join(details))
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
