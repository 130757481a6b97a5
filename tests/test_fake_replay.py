"""The fake Paperspace API replaying a `grt doctor --probe` report: its knobs take the report's
wording, states and log caps, and the real SDK sees them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradient_runtime_test.providers.gradient_api import ApiError, GradientApi, NotFoundError
from tests.conftest_paperspace import FAKE_API_KEY
from tests.fakes.paperspace import FakePaperspace, Faults
from tests.fakes.paperspace.replay import knobs, replay_report

REPORT = Path(__file__).parent / "data" / "probe-report.json"
DELETE_WORDS = "Notebook is being stopped. Delete it once it has stopped {retry later}"
NOT_FOUND = "Not found. Please contact support@paperspace.com for help."


def test_the_knobs_a_report_sets() -> None:
    assert knobs(replay_report(REPORT)) == {
        "start_states": ("Pending", "Provisioned", "Provisioning"),
        "refuse_delete_while": frozenset({"Stopping"}),
        "delete_refusal_message": DELETE_WORDS.replace("{", "{{").replace("}", "}}"),
        "stop_ended_message": NOT_FOUND,
        "log_line_limit": 1500,
        "log_page_size": 50,
        "reverse_log_rows": False,
    }  # the unpaged list was not capped: the fake keeps its stricter page of 20


def test_refusals_become_the_fakes_words() -> None:
    capacity = {
        "schema": 1,
        "kind": "grt-probe",
        "create": {"accepted": False, "kind": "CapacityError", "command_chars": 45012,
                   "words": "We are currently out of capacity for the selected VM type."},
    }  # fmt: skip
    assert knobs(capacity) == {
        "capacity_message": "We are currently out of capacity for the selected VM type."
    }
    too_long = {
        **capacity,
        "create": {**capacity["create"], "kind": "ApiError", "words": "too long"},
    }
    assert knobs(too_long) == {"max_command_chars": 45011, "command_refusal_message": "too long"}
    accepted = {
        **capacity,
        "delete_while_stopping": {"tried": True, "accepted": True},
        "create": {},
    }
    assert knobs(accepted) == {"refuse_delete_while": frozenset()}


def test_what_is_not_a_probe_report_is_refused(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"schema": 1, "cells": []}))
    with pytest.raises(ValueError, match="not a grt-probe report"):
        FakePaperspace(replay=tmp_path / "results.json")


@pytest.mark.server
def test_the_sdk_sees_the_replayed_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(start_delay_s=1.2, teardown_s=0.6)
    fake = FakePaperspace(faults=faults, hour_s=1.0, stop_grace_s=1.0, replay=REPORT)
    with fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_bundle))
        api = GradientApi(FAKE_API_KEY, config_host=fake.url, log_host=fake.log_url)
        command = "head -c 1600 /dev/zero | tr '\\0' y; echo; seq 1 120; exec jupyter lab"
        handle = api.create(
            name="replayed", machine_type="C4", container="img", project_id="pr", command=command
        ).id
        seen = []
        while not seen or seen[-1] != "Running":
            state = api.get(handle).raw_state or ""
            if not seen or seen[-1] != state:
                seen.append(state)
            time.sleep(0.05)
        assert seen == ["Pending", "Provisioned", "Provisioning", "Running"]
        time.sleep(0.3)
        rows = api.log_rows(handle, limit=100)
        assert len(rows) == 50  # the report's page size
        assert rows[0].message == "y" * 1500  # the report's line cap
        api.stop(handle)
        with pytest.raises(ApiError) as refused:
            api.delete(handle)
        assert refused.value.message.endswith(DELETE_WORDS)  # verbatim, braces and all
        fake.notebook(handle).wait_for_state("Stopped")
        with pytest.raises(NotFoundError, match=r"Not found\. Please contact"):
            api.stop(handle)
        api.delete(handle)
        assert fake.notebook(handle).deleted
        fake.reset()
        assert fake.faults.log_line_limit == 1500  # reset keeps what the report said


@pytest.mark.server
def test_the_fakes_command_line_replays_a_report(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.paperspace", "--replay", str(REPORT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("export PAPERSPACE_CONFIG_HOST=http://127.0.0.1:")
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    bad = subprocess.run(
        [sys.executable, "-m", "tests.fakes.paperspace", "--replay", str(Path(__file__))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--replay:" in bad.stderr
