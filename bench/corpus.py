"""The benchmark corpora, written at run time into a scratch folder.

- ``light``: 8 notebooks of 3 light cells each (kernel start-up dominates, as in most example
  notebooks' first minute).
- ``heavy``: 3 notebooks whose cells compute for a while (pure Python, about a second a cell on
  a 2020s x86 core), so the time goes to the notebooks, not to kernels.

Each corpus comes with a matrices folder for ``grt run --provider local``: one CPU machine, one
runtime listing the corpus, and one listing no notebooks at all (the fixed cost of a run: CLI,
harness start-up, its checks with their own kernel, the result bundle, the output folder).
"""

from __future__ import annotations

import json
from pathlib import Path

RUNTIME = {"light": "Bench Light", "heavy": "Bench Heavy"}
EMPTY = "Bench Checks Only"  # no notebooks: what `grt run` costs whatever the notebooks


def _notebook(sources: list[str]) -> dict[str, object]:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(sources)
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def light_sources(i: int) -> list[str]:
    return [
        f"import json, math\nvalues = [math.sqrt(k) for k in range({1000 + i})]",
        "total = sum(values)\nprint(f'total={total:.3f}')",
        "assert total > 0\njson.dumps({'n': len(values)})",
    ]


def heavy_sources(i: int) -> list[str]:
    loops = 8_000_000 + 1_000_000 * i
    return [
        f"def work(n):\n    s = 0\n    for k in range(n):\n        s += k * k % 7\n    return s\n\nfirst = work({loops})\nfirst",
        f"import hashlib\nh = b'seed'\nfor _ in range({2_000_000 + 200_000 * i}):\n    h = hashlib.sha256(h).digest()\nh.hex()[:16]",
        f"second = sorted(((k * 7919) % 100_003 for k in range({3_000_000 + 300_000 * i})))\nassert len(second) == {3_000_000 + 300_000 * i}\nsecond[:3]",
    ]


def write_corpus(root: Path, kind: str) -> tuple[Path, Path, list[Path]]:
    """Write corpus ``kind`` under ``root``; returns (matrices dir, workspace dir, notebook paths)."""
    workspace = root / kind / "workspace"
    matrices = root / kind / "matrices"
    workspace.mkdir(parents=True, exist_ok=True)
    (matrices / "runtimes").mkdir(parents=True, exist_ok=True)
    if kind == "light":
        sources = {f"light_{i:02d}.ipynb": light_sources(i) for i in range(1, 9)}
    elif kind == "heavy":
        sources = {f"heavy_{i}.ipynb": heavy_sources(i) for i in range(1, 4)}
    else:
        raise ValueError(kind)
    paths = []
    for name, cells in sources.items():
        path = workspace / name
        path.write_text(json.dumps(_notebook(cells), indent=1))
        paths.append(path)
    (matrices / "machines.yaml").write_text(
        "machines:\n  C5: {accelerator: cpu, description: benchmark CPU machine}\n"
    )
    notebooks = "".join(f"  - {p.name}\n" for p in paths)
    for name, listed in ((RUNTIME[kind], f"notebooks:\n{notebooks}"), (EMPTY, "notebooks: []\n")):
        slug = name.lower().replace(" ", "-")
        (matrices / "runtimes" / f"{slug}.yaml").write_text(
            f"name: {name}\n"
            "container: paperspace/gradient-base:bench  # not used by the local provider\n"
            "workspace: ../workspace\n"  # relative to the matrices folder
            "machines: [C5]\n"
            f"{listed}"
        )
    return matrices, workspace, paths
