"""The fake Paperspace API's knobs for the platform as it really behaves (issue 13): stalls, 429s,
every notebook state, late and repeated log lines, deletes refused while stopping, paged lists and
the line cap. Each is driven through the real ``gradient`` SDK."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import pytest

from gradient_runtime_test.harness import bundle
from gradient_runtime_test.providers import naming
from gradient_runtime_test.providers.gradient_api import GradientApi, RateLimitError
from gradient_runtime_test.providers.gradient_http import Exchange, Timeouts, scope
from tests.conftest_paperspace import FAKE_API_KEY
from tests.fakes.paperspace import FakePaperspace
from tests.fakes.paperspace.faults import (
    DELETE_WHILE_STOPPING_MESSAGE,
    LIST_PAGE_SIZE,
    LOG_LINE_LIMIT,
    Interrupt,
)
from tests.test_fake_paperspace import IMAGE, create, log_lines

pytestmark = pytest.mark.server


def states_seen(fake: FakePaperspace, handle: str, until: str, timeout: float = 10) -> list[str]:
    """The states the notebook shows, in order, until `until`."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = fake.notebook(handle).state
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == until:
            return seen
        time.sleep(0.005)
    raise AssertionError(f"{handle} never reached {until}: {seen}")


def test_a_stalled_server_answers_nothing_until_cleared(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    fake_paperspace.faults.stalled_servers = {"api"}
    found: list[Any] = []
    caller = threading.Thread(target=lambda: found.append(notebooks_client.list(tags=[])))
    caller.start()
    caller.join(0.5)
    assert caller.is_alive() and found == []  # accepted, never answered
    assert fake_paperspace.requests_to("getNotebooks")

    fake_paperspace.faults.stalled_servers = set()
    caller.join(5)
    assert found == [[]]  # answered, late


def test_a_stalled_request_is_cut_by_a_read_timeout(
    fake_paperspace: FakePaperspace, gradient_sdk: Any
) -> None:
    api = GradientApi(FAKE_API_KEY, config_host=fake_paperspace.url, timeouts=Timeouts(1, 0.3))
    fake_paperspace.faults.stall_next("getNotebooks")
    started = time.monotonic()
    with pytest.raises(Exception, match="ReadTimeout"):
        api.list_all()
    assert time.monotonic() - started < 3
    assert api.list_all() == []  # only the next request stalled


def test_429_with_retry_after(fake_paperspace: FakePaperspace, gradient_sdk: Any) -> None:
    api = GradientApi(FAKE_API_KEY, config_host=fake_paperspace.url)
    fake_paperspace.faults.rate_limit_next("getNotebooks", retry_after="7")
    fake_paperspace.faults.rate_limit_next("getNotebooks", retry_after=None)

    with pytest.raises(RateLimitError) as first:
        api.list_all()
    with pytest.raises(RateLimitError) as second:
        api.list_all()

    assert (first.value.status, first.value.retry_after_s) == (429, 7.0)
    assert (second.value.status, second.value.retry_after_s) == (429, None)
    assert not first.value.maybe_applied


@pytest.mark.parametrize(
    ("state", "job_error"),
    [
        ("Preempted", "Notebook was preempted"),
        ("Cancelled", None),
        ("Cancel", None),
        ("Failed", "OOMKilled"),
        ("Error", "Node lost"),
        ("Hibernating", None),  # a state no client knows
    ],
)
def test_the_platform_ends_a_notebook_in_any_state(
    fake_paperspace: FakePaperspace, notebooks_client: Any, state: str, job_error: str | None
) -> None:
    fake_paperspace.faults.interrupt_machines = {"A4000": Interrupt(0.3, state, job_error)}
    handle = create(notebooks_client, "echo started; exec jupyter lab")
    ended = create(notebooks_client, "echo started; exec jupyter lab", machine_type="C5")

    seen = states_seen(fake_paperspace, handle, state)
    assert seen[seen.index("Running") + 1 :] in (["Stopping", state], [state]), seen
    notebook = notebooks_client.get(handle)
    assert (notebook.state, notebook.job_error) == (state, job_error)
    assert not fake_paperspace.notebook(handle).active
    assert fake_paperspace.notebook(handle).returncode is not None  # its processes are gone
    lines = log_lines(notebooks_client, handle)
    assert (lines[0], lines[-1]) == ("started", "PSEOF")
    assert notebooks_client.get(ended).state == "Running"  # other machines: not interrupted


def test_start_up_states_are_a_knob(fake_paperspace: FakePaperspace, notebooks_client: Any) -> None:
    fake_paperspace.faults.start_delay_s = 0.4
    fake_paperspace.faults.start_states = ("Pending", "Provisioned", "Provisioning")
    handle = create(notebooks_client)
    assert states_seen(fake_paperspace, handle, "Running") == [
        "Pending",
        "Provisioned",
        "Provisioning",
        "Running",
    ]


def test_a_delete_is_refused_while_the_notebook_stops(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    fake_paperspace.faults.teardown_s = 0.5
    handle = create(notebooks_client)
    fake_paperspace.notebook(handle).wait_for_state("Running")
    notebooks_client.stop(handle)
    fake_paperspace.notebook(handle).wait_for_state("Stopping")

    refused = DELETE_WHILE_STOPPING_MESSAGE.format(state="stopping")
    with pytest.raises(gradient_sdk.api_sdk.sdk_exceptions.ResourceFetchingError, match=refused):
        notebooks_client.delete(handle)
    fake_paperspace.notebook(handle).wait_for_state("Stopped")
    notebooks_client.delete(handle)
    assert fake_paperspace.notebook(handle).deleted


def test_an_ending_notebook_tears_down_before_it_is_stopped(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    fake_paperspace.faults.teardown_s = 0.3
    handle = create(notebooks_client, "echo done")
    assert states_seen(fake_paperspace, handle, "Stopped")[-3:] == [
        "Running",
        "Stopping",
        "Stopped",
    ]


def test_lists_are_paged(fake_paperspace: FakePaperspace, notebooks_client: Any) -> None:
    fake_paperspace.faults.replay_log = ""  # no process: notebooks start and stop at once
    handles = {create(notebooks_client, tags=["grt-run-p"]) for _ in range(LIST_PAGE_SIZE + 5)}

    unpaged = notebooks_client.list(tags=[])
    first, meta = notebooks_client.list(tags=["grt-run-p"], limit=100, offset=0, get_meta=True)
    rest = notebooks_client.list(tags=["grt-run-p"], limit=LIST_PAGE_SIZE, offset=LIST_PAGE_SIZE)

    assert len(unpaged) == len(first) == LIST_PAGE_SIZE and meta["total"] == len(handles)
    assert {nb.id for nb in first} | {nb.id for nb in rest} == handles
    fake_paperspace.faults.list_page_size = None
    assert len(notebooks_client.list(tags=[])) == len(handles)


def test_late_log_rows_come_after_later_ones(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    fake_paperspace.faults.late_log_every = 3
    fake_paperspace.faults.late_log_s = 0.6
    handle = create(notebooks_client, "for i in 1 2 3 4 5 6 7; do echo row $i; done")
    fake_paperspace.notebook(handle).wait_for_state("Stopped")

    early = [(row.line, row.message) for row in notebooks_client.logs(handle)]
    assert early == [(1, "row 1"), (2, "row 2"), (4, "row 4"), (5, "row 5"), (7, "row 7")]
    time.sleep(0.7)
    assert log_lines(notebooks_client, handle) == [*(f"row {i}" for i in range(1, 8)), "PSEOF"]


def test_log_rows_served_twice_and_in_reverse(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    handle = create(notebooks_client, "for i in 1 2 3 4; do echo row $i; done")
    fake_paperspace.notebook(handle).wait_for_state("Stopped")
    fake_paperspace.faults.duplicate_log_every = 2
    fake_paperspace.faults.reverse_log_rows = True

    lines = [row.line for row in notebooks_client.logs(handle)]

    assert lines == [5, 4, 4, 3, 2, 2, 1]  # 5 is PSEOF


def test_long_lines_are_cut_at_the_line_cap_by_default(
    fake_paperspace: FakePaperspace, notebooks_client: Any
) -> None:
    widths = (LOG_LINE_LIMIT - 1, LOG_LINE_LIMIT, LOG_LINE_LIMIT + 1, LOG_LINE_LIMIT + 500)
    handle = create(notebooks_client, "; ".join(f"printf '%0{w}d\\n' 7" for w in widths))
    fake_paperspace.notebook(handle).wait_for_state("Stopped")
    *lines, end = log_lines(notebooks_client, handle)
    assert [len(line) for line in lines] == [LOG_LINE_LIMIT - 1, *[LOG_LINE_LIMIT] * 3]
    assert end == "PSEOF"


def test_bundle_frames_fit_under_the_line_cap_end_to_end(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    """The bundle's CHUNK_CHARS leaves every frame line under the cap the fake measures above,
    even with a 12-character bundle id and 99,999 chunks; a large bundle comes back whole."""
    bundle_id = "f" * naming.CELL_ID_CHARS
    widest = f"{bundle.CHUNK} {bundle_id} 99999/99999 " + "A" * bundle.CHUNK_CHARS
    assert len(widest) <= LOG_LINE_LIMIT
    payload = {"noise": secrets.token_urlsafe(40_000)}  # does not compress: many chunks
    lines = bundle.encode_lines(payload, bundle_id)
    assert len(lines) > 30 and max(len(line) for line in lines) <= LOG_LINE_LIMIT

    fake_paperspace.faults.replay_log = "\n".join(lines)
    handle = create(notebooks_client)
    fake_paperspace.notebook(handle).wait_for_state("Stopped")
    api = GradientApi(
        FAKE_API_KEY, config_host=fake_paperspace.url, log_host=fake_paperspace.log_url
    )
    read = [text for _, text in api.logs(handle).lines]
    assert bundle.decode(read, bundle_id) == payload


def test_outside_a_scope_the_sdk_sends_as_it_always_did(
    fake_paperspace: FakePaperspace, notebooks_client: Any, gradient_sdk: Any
) -> None:
    """The timeout hook changes nothing for SDK calls made outside `GradientApi` (no timeout);
    inside a scope, the answer's status is seen."""
    GradientApi(FAKE_API_KEY, config_host=fake_paperspace.url)  # installs the hook
    fake_paperspace.faults.stall_next("getNotebooks")
    ended: list[BaseException] = []

    def call() -> None:
        try:
            notebooks_client.list(tags=[])
        except Exception as exc:  # dropped when the fake closes at the end of the test
            ended.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(0.5)
    assert caller.is_alive() and not ended  # no timeout: it waits, as the plain SDK does

    exchange = Exchange()
    with scope(Timeouts(), exchange):
        handle = notebooks_client.create(machine_type="C5", container=IMAGE, project_id="p")
    assert (exchange.status, exchange.answered) == (200, True)
    assert handle in fake_paperspace.notebooks
