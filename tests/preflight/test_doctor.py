"""`grt doctor` against the fake Paperspace API, through the real SDK: what it finds, its exit
codes, and that it creates nothing (only GET requests reach the fake)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.paperspace import FakePaperspace, NotebookSpec
from tests.hardening.helpers import Result, grt
from tests.preflight.helpers import PROJECT, doctor_env, write_matrices, writes

pytestmark = pytest.mark.server


@pytest.fixture
def matrices(tmp_path: Path) -> Path:
    return write_matrices(tmp_path)


def doctor(fake: FakePaperspace, matrices: Path, *args: str, **env: str) -> Result:
    return grt(["doctor", "--matrices", str(matrices), *args], doctor_env(fake, **env))


def rows(result: Result) -> dict[str, list[str]]:
    """The table's rows: check -> ["RESULT detail", ...]."""
    found: dict[str, list[str]] = {}
    for line in result.out.splitlines()[1:]:
        if not line.strip():
            break
        check, mark, detail = re.split(r" {2,}", line, maxsplit=2)
        found.setdefault(check, []).append(f"{mark} {detail}")
    return found


def spawn(fake: FakePaperspace, name: str, tags: list[str], *, start: bool = True) -> str:
    notebook = fake.spawn(
        NotebookSpec(machine_type="C5", name=name, project_id=PROJECT, command="sleep 60"),
        start=start,
    )
    notebook.tags = tags
    return notebook.handle


def test_a_good_key_and_everything_offered_passes_creating_nothing(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path
) -> None:
    result = doctor(fake_paperspace, matrices)

    assert result.code == 0, result.text
    table = rows(result)
    assert table["api key"] == ["ok accepted (0 notebooks visible)"]
    assert table["project"] == [f"ok {PROJECT} (Project {PROJECT}) answers"]
    assert table["machines"] == [
        "ok 3 of 3 planned machines offered and available now: A4000, A6000, C5"
    ]
    assert table["leftovers"] == ["ok no grt notebook left behind"]
    assert table["latency"][0].startswith("ok list notebooks ")
    assert "Doctor: all good, a run can start." in result.out
    assert writes(fake_paperspace) == []  # nothing created, stopped, deleted or tagged
    assert not fake_paperspace.notebooks
    assert {r.path for r in fake_paperspace.requests} == {
        "/notebooks/getNotebooks", "/projects/", "/vmTypes/getVmTypesByClusters",
    }  # fmt: skip


def test_a_machine_not_available_now_is_named_and_fails(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path
) -> None:
    fake_paperspace.faults.unavailable_machines = {"A6000"}
    fake_paperspace.faults.offered_machines = {"C5", "A6000", "H100"}  # A4000: not offered

    result = doctor(fake_paperspace, matrices)

    assert result.code == 1, result.text
    assert rows(result)["machines"] == [
        "FAIL A4000: not offered to this team, or not available now (used by Doctor Runtime)",
        "FAIL A6000: not offered to this team, or not available now (used by Doctor Runtime)",
        "ok 1 of 3 planned machines offered and available now: C5",
    ]
    assert "Doctor: 2 problems a run would trip on." in result.out
    assert writes(fake_paperspace) == []


def test_machines_are_looked_up_in_the_cluster_a_run_would_use(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path
) -> None:
    result = doctor(fake_paperspace, matrices, "--cluster-id", "clother01", "--machine", "C5")
    assert result.code == 1
    assert rows(result)["machines"] == [
        "FAIL C5: not offered to this team, or not available now in cluster clother01"
        " (used by Doctor Runtime)"
    ]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"status": 400, "message": "Invalid API token"}),  # what the API answers (recorded)
        (401, {"error": {"name": "Error", "status": 401, "message": "Access is denied"}}),
    ],
)
def test_a_refused_key_is_one_line_and_exit_2_without_the_key(
    fake_paperspace: FakePaperspace,
    gradient_sdk: Any,
    matrices: Path,
    status: int,
    body: dict[str, Any],
) -> None:
    key = "psk-doctor-refused-3141592653"
    fake_paperspace.faults.fail_next("getNotebooks", status=status, body=json.dumps(body).encode())

    result = doctor(fake_paperspace, matrices, PAPERSPACE_API_KEY=key)

    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        "ERROR: PAPERSPACE_API_KEY: the Gradient API refused the key"
        f" ({body.get('message') or body['error']['message']}) (valid: an API key of the"
        " Gradient team, as the console shows it)"
    ]
    assert key not in result.text
    assert len(fake_paperspace.requests) == 1 and writes(fake_paperspace) == []


def test_no_key_or_a_bad_flag_asks_nothing(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path
) -> None:
    no_key = doctor(fake_paperspace, matrices, PAPERSPACE_API_KEY="")
    assert no_key.code == 2 and "PAPERSPACE_API_KEY is not set" in no_key.err
    bad_limit = doctor(fake_paperspace, matrices, "--running-limit", "ten")
    assert bad_limit.code == 2
    assert bad_limit.err.startswith("ERROR: --running-limit: 'ten' is not valid (valid: a number")
    unknown = doctor(fake_paperspace, matrices, "--machine", "A100")
    assert unknown.code == 2 and "--machine" in unknown.err
    assert fake_paperspace.requests == []


def test_an_unknown_or_missing_project_fails(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path
) -> None:
    fake_paperspace.projects = {"prjother": "Someone else's"}
    unknown = doctor(fake_paperspace, matrices)
    assert unknown.code == 1
    assert rows(unknown)["project"] == [
        f"FAIL {PROJECT}: this key's team has no such project (notebooks could not be created"
        " in it)"
    ]
    missing = doctor(fake_paperspace, matrices, PAPERSPACE_PROJECT_ID="")
    assert missing.code == 1
    assert rows(missing)["project"][0].startswith("FAIL no project: a run needs one")


def test_running_notebooks_at_the_plans_limit_fail(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path
) -> None:
    spawn(fake_paperspace, "someone's notebook", [])
    fake_paperspace.spawn(NotebookSpec(machine_type="C5", name="stopped one"), start=False)
    fake_paperspace.notebook(spawn(fake_paperspace, "another", [])).wait_for_state("Running")

    at_limit = doctor(fake_paperspace, matrices, "--running-limit", "2")
    assert at_limit.code == 1
    assert rows(at_limit)["running"] == [
        "FAIL 2 notebooks running now, the plan's limit is 2: a run would wait until one of"
        " them ends"
    ]
    room = doctor(fake_paperspace, matrices, GRT_RUNNING_LIMIT="10")
    assert room.code == 0, room.text
    assert rows(room)["running"] == [
        "ok 2 notebooks running now, the plan's limit is 10: room for 8 more"
    ]


def test_leftovers_are_named_with_the_sweep_that_ends_them(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path
) -> None:
    spawn(fake_paperspace, "grt: X on C5 [0123456789ab]", ["grt", "grt-run-77aa01bb02"])
    spawn(
        fake_paperspace, "grt: X on C5 [00000000beef]", ["grt", "grt-run-5e5e5e5e5e"], start=False
    )
    spawn(fake_paperspace, "grt: X on C5 [0000000dead0]", [])  # killed before its tags were set

    result = doctor(fake_paperspace, matrices, "--format", "json")

    assert result.code == 1
    data = json.loads(result.out)
    leftovers = [f for f in data["findings"] if f["check"] == "leftovers"]
    assert [(f["level"], f["subject"]) for f in leftovers] == [
        ("error", ""), ("warning", "5e5e5e5e5e"), ("error", "77aa01bb02"),
    ]  # fmt: skip
    assert "end them with `grt sweep --older-than 0s`" in leftovers[0]["message"]
    assert "1 notebook of run 5e5e5e5e5e (Stopped)" in leftovers[1]["message"]
    assert leftovers[2]["message"].endswith("end them with `grt sweep --run 77aa01bb02`")
    assert len(data["leftovers"]) == 3 and data["running"] == {"count": 2, "limit": None}
    assert writes(fake_paperspace) == []


def test_in_actions_each_finding_is_an_annotation_and_the_table_a_summary(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path, tmp_path: Path
) -> None:
    fake_paperspace.faults.unavailable_machines = {"A4000"}
    summary = tmp_path / "summary.md"
    result = doctor(
        fake_paperspace,
        matrices,
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "api key: accepted (0 notebooks visible)"
    assert (
        "::error title=grt doctor%3A machines::A4000: not offered to this team, or not available"
        " now (used by Doctor Runtime)"
    ) in lines
    assert "CHECK" not in result.out  # no table in the log...
    assert "| " not in summary.read_text() and "CHECK      RESULT  DETAIL" in summary.read_text()


def test_an_api_that_does_not_answer_is_a_finding(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, matrices: Path
) -> None:
    fake_paperspace.faults.fail_next("getNotebooks", count=10, status=503)
    result = doctor(fake_paperspace, matrices)
    assert result.code == 1
    assert rows(result)["api key"][0].startswith("FAIL the Gradient API did not answer:")
