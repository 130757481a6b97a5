"""One harness run: the engine, environment facts, checks, notebooks, the payload, and ending the
notebook as the keep policy says."""

from __future__ import annotations

import datetime
import platform
import re
import socket
import sys
import time
from typing import Any, Callable, Dict, Mapping, Tuple

from . import HARNESS_VERSION
from .checks import finish_checks, start_checks
from .engine import Engine
from .engine_nbclient import NbclientEngine, nbclient_available
from .engine_nbconvert import NbconvertEngine
from .gpu import has_nvidia_smi
from .model import Recorder
from .notebooks import finish_notebooks, start_notebooks
from .protocol import Accelerator, Keep, Spec, keeps, payload
from .schedule import Scheduler, effective_parallel, kernels_ahead
from .tree import end_tree

# Environment variables worth recording (never values of anything that looks like a secret).
_RECORDED_ENV = (
    "CUDA_VERSION",
    "CUDNN_VERSION",
    "NV_CUDNN_VERSION",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "PYTHON_VERSION",
    "CONDA_DEFAULT_ENV",
    "IMAGE",
    "IMAGE_NAME",
    "CONTAINER_IMAGE",
    "DOCKER_IMAGE",
)
_RECORDED_PREFIXES = ("PAPERSPACE_", "GRADIENT_")
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSW|AUTH|CREDENTIAL|COOKIE|SESSION", re.IGNORECASE)


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stderr_log(message: str) -> None:
    sys.stderr.write("grt-harness: %s\n" % message)
    sys.stderr.flush()


def recorded_env(env: Mapping[str, str]) -> Dict[str, str]:
    """The environment variables worth recording, without anything that may be a secret."""
    return {
        k: v
        for k, v in sorted(env.items())
        if (k in _RECORDED_ENV or k.startswith(_RECORDED_PREFIXES)) and not _SECRET.search(k)
    }


def run(
    spec: Spec,
    env: Mapping[str, str],
    recorder: Recorder,
    engine_name: str = "auto",
    log: Callable[[str], None] = stderr_log,
) -> None:
    """Run checks and notebooks, recording into ``recorder``."""
    facts = recorder.environment
    facts["harness_version"] = HARNESS_VERSION
    facts["runtime"] = spec.runtime
    facts["machine"] = spec.machine.name
    facts["hostname"] = socket.gethostname()
    facts["platform"] = platform.platform()
    facts["python"] = platform.python_version()
    facts["python_executable"] = sys.executable
    facts["workspace"] = spec.workspace
    facts["env"] = recorded_env(env)
    for key in ("IMAGE", "IMAGE_NAME", "CONTAINER_IMAGE", "DOCKER_IMAGE"):
        if env.get(key):
            facts["image"] = env[key]
            break
    engine = choose_engine(engine_name, env)
    facts["engine"] = "%s %s" % (engine.name, engine.version)
    parallel = effective_parallel(spec.parallel, 1 + len(spec.notebooks))
    facts["parallel_notebooks"] = parallel
    log("checks (engine: %s; notebooks at once: %d)" % (facts["engine"], parallel))
    sample = spec.machine.accelerator is Accelerator.GPU and has_nvidia_smi(env)
    # The probe kernel and every notebook are queued at once: kernels start (ahead of the
    # running ones) while the checks that need no kernel run here.
    with Scheduler(engine, parallel=parallel, ahead=kernels_ahead(parallel)) as scheduler:
        probe = start_checks(spec, scheduler, env)
        started = start_notebooks(spec, scheduler, env, sample_gpus=sample)
        finish_checks(spec, probe, env, recorder)
        log("notebooks: %d" % len(spec.notebooks))
        finish_notebooks(started, recorder, log=log)


def choose_engine(name: str, env: Mapping[str, str]) -> Engine:
    """The engine called ``name``, or for "auto" nbclient when importable, else nbconvert."""
    if name == "nbclient" or (name == "auto" and nbclient_available()):
        return NbclientEngine()
    return NbconvertEngine(env)


def build_payload(
    bundle_id: str, recorder: Recorder, started_at: str, finished_at: str
) -> Dict[str, Any]:
    return payload(
        bundle_id=bundle_id,
        harness_version=HARNESS_VERSION,
        started_at=started_at,
        finished_at=finished_at,
        tests=recorder.tests,
        environment=recorder.environment,
        metrics=recorder.metrics,
        notebooks=recorder.notebooks,
        notes=recorder.notes,
    )


def should_end(keep: Keep, failed: bool) -> bool:
    """Whether the keep policy lets the harness end Jupyter once the bundle is out."""
    return not keeps(keep, failed)


def end_notebook(
    root: int,
    keep: Keep,
    failed: bool,
    *,
    delay_s: float,
    log: Callable[[str], None] = stderr_log,
    ending: Callable[[int], Tuple[int, int]] = end_tree,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """End the notebook command's process tree from ``root`` (its Jupyter) unless ``keep`` says
    otherwise; True if anything was signalled."""
    if not should_end(keep, failed):
        log("keeping the notebook running (keep=%s)" % keep.value)
        return False
    sleep(delay_s)  # give the log pipeline a moment to ship the bundle before the container ends
    log("ending the notebook: process %d and everything below it (keep=%s)" % (root, keep.value))
    sent, killed = ending(root)
    if not sent:
        log("could not end process %d: no such process" % root)
    elif killed:
        log("killed %d process(es) that outlived SIGTERM" % killed)
    return sent > 0
