"""`grt doctor` and `grt doctor --probe` under the canary key: it travels in the X-API-Key header
only, never in a request body, the probe's notebook, its output, or the probe's report (the
`canaries` fixture searches all of them, and every file under tmp_path, at teardown)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.paperspace import FakePaperspace
from tests.hardening.conftest import Canaries
from tests.hardening.helpers import gradient_env
from tests.preflight.helpers import write_matrices

pytestmark = pytest.mark.server


def test_doctor_and_its_probe_keep_the_key_to_its_header(
    ps: FakePaperspace, canaries: Canaries, gradient_sdk: Any, tmp_path: Path
) -> None:
    ps.api_key = canaries.api_key  # only the canary is accepted: every request carried it
    matrices = write_matrices(tmp_path)
    env = gradient_env(ps, canaries.api_key)

    doctor = canaries.grt(["doctor", "--matrices", str(matrices), "--format", "json"], env)
    assert doctor.code == 0, doctor.text
    report = tmp_path / "probe.json"
    probe = canaries.grt(
        ["doctor", "--probe", "--yes", "--matrices", str(matrices), "--probe-out", str(report)],
        env,
    )
    assert probe.code == 0, probe.text
    assert json.loads(report.read_text())["ended"] is True
    assert all(nb.deleted for nb in ps.notebooks.values()) and len(ps.notebooks) == 1


def test_a_refused_key_is_named_never_shown(
    ps: FakePaperspace, canaries: Canaries, gradient_sdk: Any, tmp_path: Path
) -> None:
    ps.api_key = "the-right-key"
    matrices = write_matrices(tmp_path)
    result = canaries.grt(
        ["doctor", "--matrices", str(matrices)], gradient_env(ps, canaries.api_key)
    )
    assert result.code == 2
    assert "PAPERSPACE_API_KEY: the Gradient API refused the key (Invalid API token)" in result.err
