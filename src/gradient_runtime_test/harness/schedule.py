"""Running engine jobs side by side, each on a fresh kernel of its own.

At most ``parallel`` jobs run their cells at once. ``ahead`` more jobs may start their kernels
meanwhile, so that the next notebook's kernel is ready when a slot frees: for short notebooks,
kernel start-up (about half a second of CPU each) is most of the work. A kernel started ahead is
still fresh: it was started for that job and nothing else ever ran in it.

Engines take their slot through ``Job.slot`` once their kernel is ready (the nbclient engine) or
before they start (the nbconvert engine, whose kernel lives in a subprocess).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading
from typing import Any, Callable, ContextManager, Iterator, List, Optional

from .engine import Engine, Job, Outcome
from .model import Stopwatch
from .protocol import MAX_PARALLEL

DEFAULT_AHEAD = 1


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask, further capped by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, int(quota)))  # whole CPUs: 1.5 CPUs of quota is 1
    return max(1, cpus)


def _cgroup_cpu_quota() -> Optional[float]:
    """The container's CPU limit in CPUs (cgroup v2 ``cpu.max`` or v1 CFS quota), if any."""
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="ascii") as f:
            quota_us = int(f.read().strip())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii") as f:
            period_us = int(f.read().strip())
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def kernels_ahead(parallel: int) -> int:
    """Kernels to start ahead of the running notebooks: two when notebooks run one at a time,
    else one. Measured on 2 CPUs with 8 short notebooks: one at a time with none ahead 6.7 s,
    one ahead 3.8 s, two ahead 2.9 s; two at a time with one ahead 3.1 s, two ahead 3.4 s (too
    many kernels starting at once for the CPUs)."""
    return 2 if parallel == 1 else 1


def effective_parallel(requested: int, jobs: int, cpus: Optional[int] = None) -> int:
    """Notebooks run at once for the spec's ``parallel`` (0: one per usable CPU): never more
    than the usable CPUs, nor than there are jobs, nor fewer than one."""
    cpus = usable_cpus() if cpus is None else cpus
    wanted = cpus if requested == 0 else min(requested, cpus)
    return max(1, min(wanted, jobs, MAX_PARALLEL))


class Scheduler:
    """Runs ``engine.execute(job)`` for submitted jobs in worker threads; see the module doc."""

    def __init__(self, engine: Engine, parallel: int = 1, ahead: int = DEFAULT_AHEAD) -> None:
        self.engine = engine
        self.parallel = max(1, parallel)
        self._slots = threading.BoundedSemaphore(self.parallel)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.parallel + max(0, ahead), thread_name_prefix="grt-job"
        )
        self._futures: List["concurrent.futures.Future[List[Outcome]]"] = []

    def submit(
        self, job: Job, during: Optional[Callable[[], ContextManager[Any]]] = None
    ) -> "concurrent.futures.Future[List[Outcome]]":
        """Queue ``job``; ``during`` makes a context held while it runs (e.g. a GPU sampler).
        The future's result is the engine's outcomes; then ``job.waited_s`` is the time the job
        sat waiting for a slot (its kernel ready), and ``job.busy_s`` the rest of its time."""
        job.slot = self._slot(job, during)
        future = self._pool.submit(self._execute, job)
        self._futures.append(future)
        return future

    def _execute(self, job: Job) -> List[Outcome]:
        watch = Stopwatch()
        try:
            return self.engine.execute(job)
        finally:
            job.busy_s = max(0.0, watch.elapsed() - job.waited_s)

    @contextlib.contextmanager
    def _slot(
        self, job: Job, during: Optional[Callable[[], ContextManager[Any]]]
    ) -> Iterator[None]:
        watch = Stopwatch()
        with self._slots:
            job.waited_s = watch.elapsed()
            if during is None:
                yield
            else:
                with during():
                    yield

    def close(self, *, wait: bool = True) -> None:
        """Stop taking jobs; unless ``wait``, jobs not yet started are dropped."""
        if not wait:
            for future in self._futures:
                future.cancel()
        self._pool.shutdown(wait=wait)

    def __enter__(self) -> "Scheduler":
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self.close(wait=exc_type is None)
