"""A runtime for end-to-end runs: the example workspace in a git repository, and matrices naming it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKSPACE_URL = "https://github.com/example-org/example-workspace"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]

MACHINES = """\
machines:
  C5: {accelerator: cpu}
  A4000: {accelerator: gpu, count: 1, model: A4000, memory_gb: 16, price_per_hour: 0.76}
  A6000: {accelerator: gpu, count: 1, model: A6000, memory_gb: 48, price_per_hour: 1.89}
"""


def make_workspace(root: Path, *, failing: bool = False) -> Path:
    """The example workspace as a git repository (optionally with a failing notebook added)."""
    repo = root / "workspace-repo"
    shutil.copytree(REPO / "examples" / "workspace", repo)
    if failing:
        (repo / "broken.ipynb").write_text(
            '{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {},'
            ' "outputs": [], "source": "x = 1"}, {"cell_type": "code", "execution_count": null,'
            ' "id": "b", "metadata": {}, "outputs": [], "source": "1 / 0"}], "metadata":'
            ' {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},'
            ' "nbformat": 4, "nbformat_minor": 5}'
        )
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "."], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "workspace"], cwd=repo, check=True)
    return repo


def make_matrices(
    root: Path, *, machines: str = "[C5, A4000]", notebooks: str = "[hello.ipynb]", extra: str = ""
) -> Path:
    matrices = root / "matrices"
    (matrices / "runtimes").mkdir(parents=True)
    (matrices / "machines.yaml").write_text(MACHINES)
    (matrices / "runtimes" / "e2e.yaml").write_text(
        f"name: E2E Runtime\ncontainer: paperspace/gradient-base:pt112\nworkspace: {WORKSPACE_URL}\n"
        f"machines: {machines}\nnotebooks: {notebooks}\nchecks:\n  commands: [git]\n  imports: [json]\n{extra}"
    )
    return matrices
