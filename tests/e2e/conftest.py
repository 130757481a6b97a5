"""Fixtures for end-to-end runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.workspace import WORKSPACE_URL, make_workspace
from tests.fakes.paperspace import FakePaperspace
from tests.harness.helpers import fake_nvidia_smi


@pytest.fixture
def fake(fake_paperspace: FakePaperspace, tmp_path: Path) -> FakePaperspace:
    fake_paperspace.hour_s = 600.0  # shutdownTimeout 6 h = 1 h here: never reached by these tests
    fake_paperspace.repositories[WORKSPACE_URL] = make_workspace(tmp_path)
    gpu_bin = tmp_path / "gpu-bin"
    fake_nvidia_smi(gpu_bin)  # the A4000 "machine" sees an RTX A4000
    fake_paperspace.machine_bins["A4000"] = gpu_bin
    return fake_paperspace
