"""Timeouts and retries of the Gradient provider: the retry policy on its own, then the provider
driving the real SDK through the fake's stalls, 429s, 503s, paged lists, refused deletes and
late or repeated log lines."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from typing import Any

import pytest

from gradient_runtime_test.providers import base
from gradient_runtime_test.providers.base import Handle, Launch, NotebookState
from gradient_runtime_test.providers.gradient import GradientProvider
from gradient_runtime_test.providers.gradient_api import GradientApi
from gradient_runtime_test.providers.gradient_http import Timeouts, retry_after_seconds
from gradient_runtime_test.providers.retrying import RetryPolicy
from gradient_runtime_test.settings import PaperspaceSettings
from tests.conftest_paperspace import FAKE_API_KEY
from tests.fakes.paperspace import FakePaperspace
from tests.fakes.paperspace.faults import LIST_PAGE_SIZE, Interrupt

IMAGE = "paperspace/gradient-base:pt112-tf29-jax0317-py39-20230125"


# --- the policy alone ---------------------------------------------------------------------------


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    policy = RetryPolicy(retry_after_max_s=5.0)
    assert policy.delay(0, 2.5, lambda: 0.0) == 2.5
    assert policy.delay(3, 600.0, lambda: 1.0) == 5.0


def test_back_off_doubles_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=6.0)
    assert [policy.delay(n, None, lambda: 1.0) for n in range(5)] == [1, 2, 4, 6, 6]
    assert [policy.delay(n, None, lambda: 0.0) for n in range(3)] == [0.5, 1, 2]


def test_a_budget_bounds_retries_of_a_silent_api_but_not_of_a_rate_limit() -> None:
    policy = RetryPolicy(attempts=4, budget_s=10.0)
    assert policy.again(0, elapsed_s=1, silent_s=1, retry_after_s=None)
    assert not policy.again(0, elapsed_s=10, silent_s=1, retry_after_s=None)
    assert not policy.again(0, elapsed_s=1, silent_s=10, retry_after_s=None)
    assert policy.again(2, elapsed_s=50, silent_s=50, retry_after_s=3.0)  # it answered 429
    assert not policy.again(3, elapsed_s=0, silent_s=0, retry_after_s=3.0)  # attempts used up


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = time.time()
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-4") == 0.0
    later = retry_after_seconds(email.utils.formatdate(now + 90, usegmt=True), now=now)
    assert later == pytest.approx(90.0, abs=1.0)  # HTTP dates have whole seconds
    assert retry_after_seconds(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0
    for bad in (None, "", "soon", "Wed, 99 Foo"):
        assert retry_after_seconds(bad) is None


# --- the provider against the fake ---------------------------------------------------------------


class Sleeps:
    """Records the provider's waits and sleeps a little (so fake clocks move)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(min(seconds, 0.01))


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def provider_for(
    fake: FakePaperspace,
    sleeps: Sleeps,
    *,
    timeouts: Timeouts | None = None,
    **retry: Any,
) -> GradientProvider:
    timeouts = timeouts or Timeouts(1.0, 5.0)
    api = GradientApi(FAKE_API_KEY, config_host=fake.url, log_host=fake.log_url, timeouts=timeouts)
    policy = RetryPolicy(**{"backoff_s": 0.05, "retry_after_max_s": 2.0, **retry})
    settings = PaperspaceSettings(api_key=FAKE_API_KEY, project_id="pr1")
    return GradientProvider(
        settings, api=api, retry=policy, sleep=sleeps, jitter=lambda: 1.0, poll_interval_s=0.05
    )


def launch(name: str = "grt: R on A4000 [0123456789ab]", **changes: Any) -> Launch:
    values: dict[str, Any] = {
        "cell_id": "0123456789ab",
        "name": name,
        "machine": "A4000",
        "container": IMAGE,
        "command": "echo hello; exec jupyter lab",
        "environment": {},
        "workspace": None,
        "workspace_ref": None,
        "shutdown_timeout_h": 1,
        "tags": ("grt", "grt-run-r1"),
        **changes,
    }
    return Launch(**values)


def gets(fake: FakePaperspace) -> list[Any]:
    return [r for r in fake.requests if r.path == "/notebooks/getNotebook"]


@pytest.mark.server
def test_429_on_create_is_retried_after_retry_after(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, sleeps: Sleeps
) -> None:
    provider = provider_for(fake_paperspace, sleeps)
    fake_paperspace.faults.rate_limit_next("createNotebook", 2, retry_after="1")
    # the create's own tag request, then the provider's retry of it
    fake_paperspace.faults.rate_limit_next("updateTags", 2, retry_after="600")

    handle = provider.create(launch())

    assert sleeps.waits == [1.0, 1.0, 2.0]  # Retry-After, and 600 s capped at 2 s
    assert list(fake_paperspace.notebooks) == [handle.notebook_id]  # never created twice
    assert "grt-run-r1" in fake_paperspace.notebook(handle.notebook_id).tags


@pytest.mark.server
def test_429_without_retry_after_and_503_back_off_with_jitter(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, sleeps: Sleeps
) -> None:
    provider = provider_for(fake_paperspace, sleeps)
    handle = provider.create(launch())
    fake_paperspace.faults.rate_limit_next("getNotebooks", 2, retry_after=None)
    fake_paperspace.faults.fail_next(
        "getNotebooks", status=503, body=b"Service Unavailable", headers={"Retry-After": "0"}
    )
    sleeps.waits.clear()

    states = provider.states([handle])

    assert sleeps.waits == [0.05, 0.1, 0.0]  # back-off, doubling; then the 503's Retry-After
    assert states[handle.notebook_id] in (NotebookState.STARTING, NotebookState.RUNNING)


@pytest.mark.server
def test_a_stalled_api_ends_a_call_within_the_budget(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, sleeps: Sleeps
) -> None:
    provider = provider_for(
        fake_paperspace, sleeps, timeouts=Timeouts(1.0, 0.2), attempts=10, budget_s=0.5
    )
    fake_paperspace.faults.stalled_servers = {"api"}
    started = time.monotonic()

    with pytest.raises(base.TransientError, match="ReadTimeout"):
        provider.create(launch())

    # tries until the API has been silent for the budget: a create, an adoption lookup, ...
    assert time.monotonic() - started < 3.0
    creates = fake_paperspace.requests_to("createNotebook")
    assert 1 <= len(creates) <= 3
    assert provider.metrics(Handle("nany", "x")) == {}  # no wait on a silent API


@pytest.mark.server
def test_a_stalled_log_host_times_out(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, sleeps: Sleeps
) -> None:
    provider = provider_for(fake_paperspace, sleeps, timeouts=Timeouts(1.0, 0.2), budget_s=0.3)
    handle = provider.create(launch())
    fake_paperspace.faults.stalled_servers = {"logs"}
    with pytest.raises(base.TransientError, match="read notebook logs"):
        provider.logs(handle)


@pytest.mark.server
def test_states_page_through_the_list(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, sleeps: Sleeps
) -> None:
    provider = provider_for(fake_paperspace, sleeps)
    fake_paperspace.faults.replay_log = ""
    count = LIST_PAGE_SIZE * 2 + 3
    handles = [provider.create(launch(f"grt: R on C5 [{i:012x}]")) for i in range(count)]
    fake_paperspace.clear_requests()

    states = provider.states(handles)

    assert len(states) == count
    assert len(fake_paperspace.requests_to("getNotebooks")) == 3
    assert gets(fake_paperspace) == []  # none fell back to a get


@pytest.mark.server
@pytest.mark.parametrize(
    ("raw", "state", "detail"),
    [
        ("Preempted", NotebookState.PREEMPTED, "Preempted: spot instance reclaimed"),
        ("Cancelled", NotebookState.FAILED, "Cancelled"),
        ("Cancel", NotebookState.FAILED, "Cancel"),
        ("Failed", NotebookState.FAILED, "Failed: OOMKilled"),
        ("Error", NotebookState.FAILED, "Error: node lost"),
        ("Hibernating", NotebookState.UNKNOWN, "Hibernating"),
    ],
)
@pytest.mark.usefixtures("gradient_sdk")  # puts the SDK's hosts back afterwards
def test_every_state_is_mapped_with_the_platforms_words(
    fake_paperspace: FakePaperspace,
    caplog: pytest.LogCaptureFixture,
    raw: str,
    state: NotebookState,
    detail: str,
) -> None:
    words = detail.partition(": ")[2] or None
    fake_paperspace.faults.interrupt_machines = {"A4000": Interrupt(0.1, raw, words)}
    provider = provider_for(fake_paperspace, Sleeps())
    handle = provider.create(launch())
    fake_paperspace.notebook(handle.notebook_id).wait_for_state(raw)

    assert provider.states([handle]) == {handle.notebook_id: state}
    assert provider.states([handle]) == {handle.notebook_id: state}
    assert handle.detail == detail
    unknown = [r for r in caplog.records if "does not know" in r.getMessage()]
    assert len(unknown) == (1 if state == NotebookState.UNKNOWN else 0)  # logged once


@pytest.mark.server
def test_provisioned_is_starting(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, sleeps: Sleeps
) -> None:
    fake_paperspace.faults.start_delay_s = 5.0
    fake_paperspace.faults.start_states = ("Provisioned",)
    provider = provider_for(fake_paperspace, sleeps)
    handle = provider.create(launch())
    assert provider.states([handle]) == {handle.notebook_id: NotebookState.STARTING}
    provider.stop(handle)


@pytest.mark.server
def test_a_delete_refused_while_stopping_waits_for_stopped(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, sleeps: Sleeps
) -> None:
    fake_paperspace.faults.teardown_s = 0.4
    provider = provider_for(fake_paperspace, sleeps)
    handle = provider.create(launch())
    fake_paperspace.notebook(handle.notebook_id).wait_for_state("Running")

    provider.stop(handle)
    fake_paperspace.notebook(handle.notebook_id).wait_for_state("Stopping")
    provider.delete(handle)

    assert fake_paperspace.notebook(handle.notebook_id).deleted
    deletes = fake_paperspace.requests_to("deleteNotebook")
    assert len(deletes) == 2  # refused once while stopping, then done
    assert gets(fake_paperspace)  # it looked until it had stopped


@pytest.mark.server
def test_an_unrecognised_create_refusal_is_kept_verbatim(
    fake_paperspace: FakePaperspace,
    gradient_sdk: Any,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    words = "Your team cannot start more GPU notebooks on its current plan"
    body = json.dumps({"error": {"name": "Error", "status": 403, "message": words}}).encode()
    fake_paperspace.faults.fail_next("createNotebook", status=403, body=body)
    provider = provider_for(fake_paperspace, sleeps)

    with caplog.at_level(logging.WARNING), pytest.raises(base.RefusedError) as refused:
        provider.create(launch())

    assert words in refused.value.message
    assert any(words in r.getMessage() and "HTTP 403" in r.getMessage() for r in caplog.records)
    assert len(fake_paperspace.requests_to("createNotebook")) == 1  # not retried blindly


@pytest.mark.server
def test_logs_come_back_in_order_each_line_once(
    fake_paperspace: FakePaperspace, gradient_sdk: Any, sleeps: Sleeps
) -> None:
    provider = provider_for(fake_paperspace, sleeps)
    handle = provider.create(launch(command="for i in 1 2 3 4 5; do echo row $i; done"))
    fake_paperspace.notebook(handle.notebook_id).wait_for_state("Stopped")
    fake_paperspace.faults.duplicate_log_every = 2
    fake_paperspace.faults.reverse_log_rows = True

    assert provider.logs(handle) == [f"row {i}" for i in range(1, 6)]
    assert provider.logs(handle) == []
    page = provider.api.logs(handle.notebook_id)
    assert page.ended and page.next_line == 6
