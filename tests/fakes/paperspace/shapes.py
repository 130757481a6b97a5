"""Response bodies of the fake Paperspace API, shaped like the recorded ones."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .runtime import FakeNotebook

TAG_CREATED = "2024-05-01T10:05:00.000Z"
CLUSTER_ID = "clfake0001"  # the one cluster the fake offers its machines in

# (label, kind, cpus, ram GiB, gpu count, gpu label, gpu memory GiB)
MACHINE_TYPES: tuple[tuple[str, str, int, int, int, str | None, int], ...] = (
    ("C4", "cpu", 4, 8, 0, None, 0),
    ("C5", "cpu", 8, 16, 0, None, 0),
    ("C7", "cpu", 12, 32, 0, None, 0),
    ("Free-CPU", "cpu", 2, 4, 0, None, 0),
    ("Free-GPU", "gpu", 8, 30, 1, "Quadro M4000", 8),
    ("Free-P5000", "gpu", 8, 30, 1, "Quadro P5000", 16),
    ("P4000", "gpu", 8, 30, 1, "Quadro P4000", 8),
    ("P5000", "gpu", 8, 30, 1, "Quadro P5000", 16),
    ("RTX4000", "gpu", 8, 30, 1, "Quadro RTX4000", 8),
    ("A4000", "gpu", 8, 45, 1, "RTX A4000", 16),
    ("A5000", "gpu", 8, 45, 1, "RTX A5000", 24),
    ("A6000", "gpu", 8, 45, 1, "RTX A6000", 48),
    ("A6000x2", "gpu", 16, 90, 2, "RTX A6000", 48),
    ("V100-32G", "gpu", 8, 30, 1, "Tesla V100-SXM2-32GB", 32),
    ("A100", "gpu", 12, 90, 1, "A100-SXM4-40GB", 40),
    ("A100-80G", "gpu", 12, 90, 1, "A100-SXM4-80GB", 80),
    ("H100", "gpu", 20, 250, 1, "H100 80GB HBM3", 80),
)
GPU_CHARTS = frozenset(
    {
        "gpuMemoryFree",
        "gpuMemoryUsed",
        "gpuPowerDraw",
        "gpuTemp",
        "gpuUtilization",
        "gpuMemoryUtilization",
    }
)
CHART_NAMES = ("cpuPercentage", "memoryUsage", *sorted(GPU_CHARTS))
MAX_POINTS = 720


def error_body(message: str, status: int, name: str = "Error") -> dict[str, Any]:
    """The wrapped envelope (``{"error": {...}}``) the recorded 404s use."""
    return {"error": {"name": name, "status": status, "message": message}}


def tag_rows(notebook: FakeNotebook) -> list[dict[str, Any]]:
    return [
        {
            "tagId": index,
            "entity": "notebook",
            "entityId": notebook.numeric_id,
            "dtCreated": TAG_CREATED,
            "dtDeleted": None,
            "userId": 1,
            "id": index,
            "entity_id": notebook.numeric_id,
            "tag": {"name": tag, "dtCreated": TAG_CREATED, "id": index},
        }
        for index, tag in enumerate(notebook.tags, start=1)
    ]


def vm_types(
    offered: Iterable[str] | None = None, unavailable: Iterable[str] = ()
) -> dict[str, list[dict[str, Any]]]:
    """The machine types list, shaped like the recorded one (``LIST_OF_VM_MACHINE_TYPES``):
    ``offered`` labels (``None``: every type in :data:`MACHINE_TYPES`; a label it does not know
    gets a plain CPU or GPU shape), those in ``unavailable`` (``"*"``: all) with
    ``isAvailable: false``."""
    blocked = set(unavailable)
    known = {spec[0]: spec for spec in MACHINE_TYPES}
    labels = list(known) if offered is None else sorted(set(offered))
    entries = []
    for index, label in enumerate(labels, start=1):
        spec = known.get(label) or _plain(label)
        entries.append(
            _vm_entry(spec, index, available="*" not in blocked and label not in blocked)
        )
    return {"1": entries}


def _plain(label: str) -> tuple[str, str, int, int, int, str | None, int]:
    if has_gpu(label):
        return (label, "gpu", 8, 30, 1, f"{label} (fake)", 16)
    return (label, "cpu", 4, 8, 0, None, 0)


def _vm_entry(
    spec: tuple[str, str, int, int, int, str | None, int], index: int, *, available: bool
) -> dict[str, Any]:
    label, kind, cpus, ram_gib, gpus, gpu_label, gpu_gib = spec
    gpu_model = (
        {"model": "None", "label": "None", "memInBytes": "0"}  # as recorded for CPU types
        if gpu_label is None
        else {"model": "passthrough", "label": gpu_label, "memInBytes": str(gpu_gib << 30)}
    )
    return {
        "showDisabled": False,
        "isAvailable": available,
        "isPreemptible": False,
        "vmTypeId": index,
        "vmType": {
            "label": label,
            "kind": kind,
            "cpus": cpus,
            "ram": str(ram_gib << 30),
            "gpuCount": gpus,
            "isPreemptible": False,
            "deploymentType": kind,
            "deploymentSize": "small",
            "id": index,
            "gpuModel": gpu_model,
        },
        "clusters": [
            {"id": CLUSTER_ID, "name": "PS Notebooks (fake)", "type": "Kubernetes Processing Site"}
        ],
    }


def project(project_id: str, name: str) -> dict[str, Any]:
    """A project as ``GET /projects/`` lists it (the SDK reads ``handle``, ``name``,
    ``repoName``, ``repoUrl`` and ``dtCreated``)."""
    return {
        "handle": project_id,
        "name": name,
        "repoName": None,
        "repoUrl": None,
        "dtCreated": TAG_CREATED,
        "dtDeleted": None,
        "isPrivate": True,
        "tags": [],
    }


def has_gpu(machine_type: str) -> bool:
    known = {label: gpus for label, _, _, _, gpus, _, _ in MACHINE_TYPES}
    if machine_type in known:
        return known[machine_type] > 0
    return not re.fullmatch(r"C\d+|.*-CPU", machine_type)


def parse_interval(text: str) -> int | None:
    match = re.fullmatch(r"(\d+)([smhd])", text)
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _generated(chart: str, rng: random.Random, index: int) -> str:
    busy = index > 0  # the first sample is taken before the work starts
    if chart == "gpuUtilization":
        return str(rng.randint(55, 99) if busy else rng.randint(0, 3))
    if chart == "gpuMemoryUtilization":
        return str(rng.randint(20, 60) if busy else rng.randint(0, 2))
    if chart == "cpuPercentage":
        return f"{rng.uniform(1, 40):.1f}"
    if chart == "memoryUsage":
        return str(rng.randint(500, 4000) << 20)
    if chart == "gpuMemoryUsed":
        return str(rng.randint(1000, 12000) << 20)
    if chart == "gpuMemoryFree":
        return str(rng.randint(4000, 15000) << 20)
    if chart == "gpuPowerDraw":
        return f"{rng.uniform(40, 280):.2f}"
    if chart == "gpuTemp":
        return str(rng.randint(35, 80))
    return "0"


def metrics_charts(
    notebook: FakeNotebook,
    *,
    charts: Sequence[str],
    start: dt.datetime | None,
    end: dt.datetime | None,
    step_s: int,
    overrides: Mapping[str, Sequence[float]],
) -> dict[str, Any]:
    """``{chart: {handle: [{"time_stamp", "value"}]}}``; ``None`` for a chart without data.

    Samples cover the notebook's running time within ``[start, end]``, one per ``step_s``, with a
    seeded series: idle at the first sample, then busy. ``overrides[chart]``, when given, is served
    instead, exactly: one sample per value, ``step_s`` apart, the last one at the latest time.
    GPU charts of CPU machines are ``None``."""
    began = notebook.started_at
    if began is None:
        return dict.fromkeys(charts)
    stop = min(end or dt.datetime.now(dt.UTC), notebook.finished_at or dt.datetime.now(dt.UTC))
    first = max(began, start) if start is not None and start <= stop else began
    first_s = int(first.timestamp()) // step_s * step_s
    stamps = list(range(first_s, int(stop.timestamp()) + 1, step_s))[-MAX_POINTS:] or [first_s]
    result: dict[str, Any] = {}
    for chart in charts:
        if chart in GPU_CHARTS and not has_gpu(notebook.spec.machine_type):
            result[chart] = None
            continue
        given = overrides.get(chart)
        if given:
            last = stamps[-1]
            samples = [
                (last - (len(given) - 1 - index) * step_s, _format(value))
                for index, value in enumerate(given)
            ]
        else:
            rng = random.Random(f"{notebook.handle}/{chart}")
            samples = [(stamp, _generated(chart, rng, i)) for i, stamp in enumerate(stamps)]
        result[chart] = {
            notebook.handle: [{"time_stamp": stamp, "value": value} for stamp, value in samples]
        }
    return result


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
