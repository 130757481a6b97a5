"""GPU facts and checks through whatever ``nvidia-smi`` is on the runtime's PATH.

Topology policy (``checks/gpu.topology``, multi-GPU machines only): every pair of GPUs must have a
path in ``nvidia-smi topo -m``. Pairs joined through NVLink or PCIe inside one CPU socket (``NV#``,
``PIX``, ``PXB``, ``PHB``, ``NODE``) pass quietly; pairs joined only through ``SYS`` (across CPU
sockets: peer-to-peer is slow or unavailable) still pass, with a warning in the message, since that
is a property of the hardware rather than of the runtime. If ``topo -m`` fails the check fails;
if its output cannot be read it is skipped.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .model import Recorder, Stopwatch
from .proc import CommandResult, run_command, which
from .protocol import Accelerator, Machine, Result, Status

QUERY = [
    "nvidia-smi",
    "--query-gpu=name,memory.total,driver_version",
    "--format=csv,noheader,nounits",
]
SAMPLE = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]
MEMORY_TOLERANCE = 0.10  # a "16 GB" card reports 16376 MiB; 10% also covers ECC reservations
QUIET_LINKS = ("NV", "PIX", "PXB", "PHB", "NODE")


@dataclasses.dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: Optional[int]
    driver: str


def parse_query(text: str) -> List[Gpu]:
    """GPUs from ``nvidia-smi --query-gpu=name,memory.total,driver_version`` CSV output."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.rsplit(",", 2)]
        if len(parts) != 3 or not parts[0]:
            continue
        try:
            memory: Optional[int] = int(float(parts[1]))
        except ValueError:
            memory = None  # "[N/A]" on some virtualised GPUs
        gpus.append(Gpu(parts[0], memory, parts[2]))
    return gpus


def parse_cuda_version(text: str) -> Optional[str]:
    """The driver's CUDA version from plain ``nvidia-smi`` output ("CUDA Version: 12.2")."""
    match = re.search(r"CUDA Version\s*:\s*([0-9][0-9.]*)", text)
    return match.group(1) if match else None


def parse_topology(text: str) -> Dict[Tuple[str, str], str]:
    """Links between GPU pairs from ``nvidia-smi topo -m``: {("GPU0", "GPU1"): "NV4", ...}."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return {}
    columns = []
    for token in lines[0].split():
        if re.match(r"^GPU\d+$", token):
            columns.append(token)
        else:
            break
    links = {}
    for line in lines[1:]:
        tokens = line.split()
        if not tokens or not re.match(r"^GPU\d+$", tokens[0]):
            continue
        for i, column in enumerate(columns):
            if i + 1 >= len(tokens):
                break
            value = tokens[i + 1]
            if column != tokens[0]:
                pair = tuple(sorted((tokens[0], column)))
                links[(pair[0], pair[1])] = value
    return links


def memory_matches(reported_mib: int, expected_gb: float) -> bool:
    expected_mib = expected_gb * 1024
    return abs(reported_mib - expected_mib) <= MEMORY_TOLERANCE * expected_mib


def _normalise(model: str) -> str:
    return re.sub(r"[\s_-]+", "", model).lower()


def model_matches(name: str, model: str) -> bool:
    """Whether a GPU's name contains the expected model (ignoring case, spaces and dashes)."""
    return _normalise(model) in _normalise(name)


def check_gpus(
    machine: Machine, env: Mapping[str, str], recorder: Recorder, timeout: float = 60.0
) -> List[Gpu]:
    """Record ``checks/gpu.*`` results and GPU facts; returns the GPUs nvidia-smi reported."""
    watch = Stopwatch()
    if machine.accelerator is Accelerator.IPU:
        recorder.add(
            Result("checks/gpu.count", Status.SKIPPED, "IPU machine: GPU checks do not apply")
        )
        return []
    query = run_command(QUERY, env, timeout)
    gpus = parse_query(query.stdout) if query.ok else []
    if gpus:
        _record_facts(gpus, env, recorder, timeout)
    if machine.accelerator is Accelerator.CPU:
        recorder.add(_cpu_result(gpus, watch.elapsed()))
        return gpus
    if not gpus:
        recorder.add(
            Result(
                "checks/gpu.visible",
                Status.FAILED,
                "expected %s, but no GPU is visible: %s" % (machine.describe(), _why_none(query)),
                details=(query.stdout + query.stderr).strip(),
                duration_s=watch.elapsed(),
            )
        )
        for name in ("count", "model", "memory"):
            recorder.add(Result("checks/gpu." + name, Status.SKIPPED, "no GPU visible"))
        return gpus
    recorder.add(
        Result(
            "checks/gpu.visible",
            Status.PASSED,
            "%d GPU(s): %s" % (len(gpus), _names(gpus)),
            duration_s=watch.elapsed(),
        )
    )
    recorder.add(_count_result(machine, gpus))
    recorder.add(_model_result(machine, gpus))
    recorder.add(_memory_result(machine, gpus))
    if len(gpus) > 1 or machine.count > 1:
        recorder.add(_topology_result(gpus, env, recorder, timeout))
    return gpus


def _record_facts(
    gpus: List[Gpu], env: Mapping[str, str], recorder: Recorder, timeout: float
) -> None:
    recorder.environment["gpus"] = [g.name for g in gpus]
    recorder.environment["gpu_memory_mib"] = [g.memory_mib for g in gpus]
    recorder.environment["driver"] = gpus[0].driver
    cuda = parse_cuda_version(run_command(["nvidia-smi"], env, timeout).stdout)
    if cuda:
        recorder.environment["cuda"] = cuda


def _cpu_result(gpus: List[Gpu], duration_s: float) -> Result:
    if gpus:
        message = "CPU machine, yet %d GPU(s) visible: %s" % (len(gpus), _names(gpus))
        return Result("checks/gpu.count", Status.FAILED, message, duration_s=duration_s)
    message = "CPU machine: no GPU expected, none visible"
    return Result("checks/gpu.count", Status.PASSED, message, duration_s=duration_s)


def _names(gpus: List[Gpu]) -> str:
    return ", ".join(g.name for g in gpus)


def _why_none(query: CommandResult) -> str:
    if query.problem:
        return query.problem
    if not query.ok:
        return query.describe_failure()
    return "nvidia-smi lists no GPU"


def _count_result(machine: Machine, gpus: List[Gpu]) -> Result:
    if len(gpus) == machine.count:
        return Result("checks/gpu.count", Status.PASSED, "%d GPU(s), as expected" % len(gpus))
    return Result(
        "checks/gpu.count",
        Status.FAILED,
        "expected %d GPU(s) (%s), found %d: %s"
        % (machine.count, machine.describe(), len(gpus), _names(gpus)),
    )


def _model_result(machine: Machine, gpus: List[Gpu]) -> Result:
    if not machine.model:
        return Result("checks/gpu.model", Status.SKIPPED, "the matrix gives no model to expect")
    wrong = [g.name for g in gpus if not model_matches(g.name, machine.model)]
    if wrong:
        return Result(
            "checks/gpu.model",
            Status.FAILED,
            "expected model %r, found %s" % (machine.model, ", ".join(wrong)),
        )
    return Result("checks/gpu.model", Status.PASSED, "all GPUs are %s" % machine.model)


def _memory_result(machine: Machine, gpus: List[Gpu]) -> Result:
    if machine.memory_gb is None:
        return Result("checks/gpu.memory", Status.SKIPPED, "the matrix gives no memory to expect")
    wrong = [
        "%s: %s MiB" % (g.name, g.memory_mib if g.memory_mib is not None else "unknown")
        for g in gpus
        if g.memory_mib is None or not memory_matches(g.memory_mib, machine.memory_gb)
    ]
    if wrong:
        return Result(
            "checks/gpu.memory",
            Status.FAILED,
            "expected %g GB (%d MiB +/- 10%%) per GPU, found %s"
            % (machine.memory_gb, machine.memory_gb * 1024, "; ".join(wrong)),
        )
    return Result(
        "checks/gpu.memory",
        Status.PASSED,
        "%s MiB per GPU (expected %g GB)"
        % ("/".join(str(g.memory_mib) for g in gpus), machine.memory_gb),
    )


def _topology_result(
    gpus: List[Gpu], env: Mapping[str, str], recorder: Recorder, timeout: float
) -> Result:
    watch = Stopwatch()
    topo = run_command(["nvidia-smi", "topo", "-m"], env, timeout)
    if not topo.ok:
        return Result(
            "checks/gpu.topology",
            Status.FAILED,
            "could not read the GPU topology: " + topo.describe_failure(),
            duration_s=watch.elapsed(),
        )
    recorder.environment["gpu_topology"] = topo.stdout.strip()
    links = parse_topology(topo.stdout)
    if len(gpus) > 1 and not links:
        return Result(
            "checks/gpu.topology",
            Status.SKIPPED,
            "could not parse `nvidia-smi topo -m` (recorded in environment.gpu_topology)",
            duration_s=watch.elapsed(),
        )
    missing = [
        "%s-%s" % (a, b)
        for i, a in enumerate("GPU%d" % n for n in range(len(gpus)))
        for b in ("GPU%d" % n for n in range(i + 1, len(gpus)))
        if (a, b) not in links
    ]
    slow = sorted(
        "%s-%s: %s" % (a, b, v) for (a, b), v in links.items() if not v.startswith(QUIET_LINKS)
    )
    summary = ", ".join("%s-%s: %s" % (a, b, v) for (a, b), v in sorted(links.items()))
    if missing:
        return Result(
            "checks/gpu.topology",
            Status.FAILED,
            "no link listed between %s" % ", ".join(missing),
            details=topo.stdout,
            duration_s=watch.elapsed(),
        )
    message = summary
    if slow:
        message = "warning: only linked across CPU sockets (%s); %s" % ("; ".join(slow), summary)
    return Result("checks/gpu.topology", Status.PASSED, message, duration_s=watch.elapsed())


class GpuSampler:
    """Samples GPU utilisation and memory in a thread while a notebook runs; keeps the peaks."""

    def __init__(self, env: Mapping[str, str], interval_s: float) -> None:
        self._env = env
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.util_peak: Optional[int] = None
        self.mem_peak: Optional[int] = None
        self.samples = 0

    def __enter__(self) -> "GpuSampler":
        self._thread = threading.Thread(target=self._loop, name="grt-gpu-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self._interval):
                return

    def sample(self) -> None:
        result = run_command(SAMPLE, self._env, max(5.0, 5 * self._interval))
        if not result.ok:
            return
        for line in result.stdout.splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != 2:
                continue
            try:
                util, mem = int(float(parts[0])), int(float(parts[1]))
            except ValueError:
                continue
            self.util_peak = util if self.util_peak is None else max(self.util_peak, util)
            self.mem_peak = mem if self.mem_peak is None else max(self.mem_peak, mem)
            self.samples += 1

    def metrics(self) -> Dict[str, Any]:
        if not self.samples:
            return {}
        return {
            "gpu_util_peak_pct": self.util_peak,
            "gpu_mem_peak_mib": self.mem_peak,
            "gpu_samples": self.samples,
        }


def has_nvidia_smi(env: Mapping[str, str]) -> bool:
    return which("nvidia-smi", env) is not None
