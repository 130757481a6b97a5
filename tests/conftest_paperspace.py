"""Pytest plugin: a fake Paperspace API per test, and the real SDK pointed at it.

Fixtures:
- ``fake_paperspace``: a started :class:`tests.fakes.paperspace.FakePaperspace` (function scope;
  starting one takes a few milliseconds). One hour of ``shutdownTimeout`` lasts 1 s and stop's
  SIGTERM..SIGKILL grace is 1 s. ``REQUESTS_CA_BUNDLE`` trusts its metrics endpoint and
  ``NO_PROXY`` keeps requests to it off any proxy. The test fails at teardown if the fake had an
  internal error (a bug in the fake, not in the code under test).
- ``gradient_sdk``: the ``gradient`` module, imported without its deprecation warnings, with its
  ``CONFIG_HOST``/``CONFIG_LOG_HOST`` pointed at the fake (restored afterwards).
- ``notebooks_client``: ``gradient.NotebooksClient(api_key=FAKE_API_KEY)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.paperspace import FakePaperspace

FAKE_API_KEY = "fake-api-key-0123456789"


def grt_environment(
    fake: FakePaperspace, *, api_key: str, project: str, **tuning: str
) -> dict[str, str]:
    """The environment of a `grt` process pointed at the fake: nothing else from this one's but
    PATH and HOME; `tuning` sets the GRT_* knobs (short polls, fast retries) a test wants.
    `REQUESTS_CA_BUNDLE` is included for subprocesses; in-process calls have it from the
    `fake_paperspace` fixture."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PAPERSPACE_API_KEY": api_key,
        "PAPERSPACE_CONFIG_HOST": fake.url,
        "PAPERSPACE_CONFIG_LOG_HOST": fake.log_url,
        "PAPERSPACE_PROJECT_ID": project,
        "REQUESTS_CA_BUNDLE": str(fake.ca_bundle),
        "NO_PROXY": "127.0.0.1",
        **tuning,
    }


def import_gradient() -> Any:
    """``import gradient`` without the two DeprecationWarnings its import emits."""
    from gradient_runtime_test.providers.gradient_api import load_sdk

    return load_sdk()


@pytest.fixture
def fake_paperspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePaperspace]:
    fake = FakePaperspace(hour_s=1.0, stop_grace_s=1.0, workdir=tmp_path / "fake-paperspace")
    with fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_bundle))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1,localhost")
        yield fake
    if fake.internal_errors:
        pytest.fail("fake Paperspace internal errors:\n" + "\n".join(fake.internal_errors))


@pytest.fixture
def gradient_sdk(fake_paperspace: FakePaperspace, monkeypatch: pytest.MonkeyPatch) -> Any:
    gradient = import_gradient()
    config = gradient.api_sdk.config.config
    monkeypatch.setattr(config, "CONFIG_HOST", fake_paperspace.url)
    monkeypatch.setattr(config, "CONFIG_LOG_HOST", fake_paperspace.log_url)
    return gradient


@pytest.fixture
def notebooks_client(gradient_sdk: Any) -> Any:
    return gradient_sdk.NotebooksClient(api_key=FAKE_API_KEY)
