"""Running `grt` in a subprocess against the fake Paperspace API."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest_paperspace import FAKE_API_KEY
from tests.fakes.paperspace import FakePaperspace

PROJECT = "prj0e2e"


def grt_env(fake: FakePaperspace) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PAPERSPACE_API_KEY": FAKE_API_KEY,
        "PAPERSPACE_CONFIG_HOST": fake.url,
        "PAPERSPACE_CONFIG_LOG_HOST": fake.log_url,
        "PAPERSPACE_PROJECT_ID": PROJECT,
        "REQUESTS_CA_BUNDLE": str(fake.ca_bundle),
        "NO_PROXY": "127.0.0.1",
        "GRT_POLL_INTERVAL": "0.2",
        "GRT_UNAVAILABLE_DELAY": "0.5",
        "GRT_RETRY_BACKOFF": "0.05",
    }


def run_grt(
    fake: FakePaperspace, *argv: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        env=grt_env(fake),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_grt(fake: FakePaperspace, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gradient_runtime_test", *argv],
        env=grt_env(fake),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
