"""The fake Paperspace API for the load test, in its own process (so the test process's memory is
the orchestrator's): every notebook replays a healthy harness bundle for its own spec, and a
share of all requests fails at random (503, a dropped connection, or a lost answer).

    python -m tests.hardening.load_fake --seed 7 --rate 0.05 --running-limit 10 --stats STATS.json

It prints one JSON line (`url`, `log_url`, `ca_bundle`), serves until its stdin is closed, then
writes what it saw to STATS.json: requests by endpoint, faults injected, notebooks' final states.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import random
import sys
import threading
from pathlib import Path

from tests.fakes.paperspace import FakePaperspace
from tests.fakes.paperspace.faults import Rule
from tests.hardening.helpers import ScriptedFaults, _rule, replay

KINDS = ("status", "drop", "lost")


@dataclasses.dataclass
class RandomFaults(ScriptedFaults):
    """`rate` of all requests fail, each with a kind drawn from KINDS (seeded: reproducible)."""

    rate: float = 0.05
    seed: int = 0
    _rng: random.Random = dataclasses.field(default_factory=random.Random)
    _rng_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def take_rule(self, path: str) -> Rule | None:
        with self._rng_lock:
            hit = self._rng.random() < self.rate
            kind = self._rng.choice(KINDS)
        if hit:
            with self._lock:
                self.injected[f"{kind} {path}"] += 1
            return _rule(path, kind)
        return super().take_rule(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--running-limit", type=int, default=10)
    parser.add_argument("--line-delay", type=float, default=0.02)
    parser.add_argument("--start-delay", type=float, default=0.05)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args(argv)
    faults = RandomFaults(
        rate=args.rate,
        seed=args.seed,
        running_limit=args.running_limit,
        start_delay_s=args.start_delay,
        replay_log=replay(),
        replay_line_delay_s=args.line_delay,
    )
    fake = FakePaperspace(faults=faults, hour_s=600.0, stop_grace_s=1.0, workdir=args.workdir)
    with fake:
        info = {"url": fake.url, "log_url": fake.log_url, "ca_bundle": str(fake.ca_bundle)}
        print(json.dumps(info), flush=True)
        sys.stdin.read()  # until the test is done
        requests = collections.Counter(
            f"{r.method} {r.path}{' (tagged)' if 'tagFilter[0]' in r.query else ''}"
            for r in fake.requests
        )
        notebooks = [
            {
                "name": nb.name,
                "state": nb.state,
                "deleted": nb.deleted,
                "active": nb.active,
                "tags": nb.tags,
            }
            for nb in fake.notebooks.values()
        ]
        stats = {
            "requests": dict(requests),
            "injected": dict(faults.injected),
            "notebooks": notebooks,
            "internal_errors": fake.internal_errors,
        }
        args.stats.write_text(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
