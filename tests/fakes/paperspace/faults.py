"""Fault knobs of the fake Paperspace API.

Every knob can be set when the fake is built (``FakePaperspace(faults=Faults(...))``) or changed at
any time while it runs (``fake.faults.capacity_machines.add("A100")``). Knobs that shape a
notebook's life (start-up delay, stuck, error, replay) are read once, when the notebook is created.

Machine sets and maps accept ``"*"`` to mean every machine type.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

# The real API's text, quoted in Paperspace/gradient-cli issue #327.
CAPACITY_MESSAGE = (
    "We are currently out of capacity for the selected VM type. Try again in a few minutes, "
    "or select a different instance."
)
# No real text was ever recorded for the team plan's cap on running notebooks; the plan page calls
# it "Running Notebook limit". This wording is ours.
RUNNING_LIMIT_MESSAGE = (
    "You have reached your running notebook limit ({limit}). "
    "Stop a running notebook or upgrade your plan to start another one."
)
# Recorded (tests/example_responses.py of the SDK) for unknown ids.
NOT_FOUND_MESSAGE = "Not found. Please contact support@paperspace.com for help."
# Recorded: the API's answer to a wrong X-API-Key.
INVALID_TOKEN_MESSAGE = "Invalid API token"
DEFAULT_ERROR_MESSAGE = (
    "Error pulling container during provisioning: "
    "failed to pull image (fake Paperspace error_machines)"
)
# No real text was recorded for these either: the fake's own words (see ``refuse_delete_while``).
DELETE_WHILE_STOPPING_MESSAGE = "Cannot delete notebook while it is {state}"
RATE_LIMIT_MESSAGE = "Too many requests, please slow down"
COMMAND_TOO_LONG_MESSAGE = "command is too long"
# What the fake allows on one log row before cutting it (the log pipeline's line cap). Real
# pipelines cut long lines somewhere; the stricter reading is a cap near DESIGN's 1,000 characters.
LOG_LINE_LIMIT = 1000
# How many notebooks one list page holds when the request names no (or a larger) limit. The
# `gradient` CLI pages at 20; the API's own cap was never recorded.
LIST_PAGE_SIZE = 20

ReplayLog = str | Callable[[Any], str]


@dataclass
class Rule:
    """One armed request fault, ``remaining`` times: answer ``status`` (with ``headers``), drop
    the connection, or stall (hold the request unanswered until the fake closes)."""

    path_substring: str
    remaining: int
    kind: Literal["status", "drop", "stall"]
    status: int = 500
    body: bytes = b""
    after_processing: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Interrupt:
    """A notebook that the platform ends by itself ``after_s`` seconds after it is ``Running``:
    its processes are killed (the container is gone) and it shows ``state`` from then on, with
    ``job_error`` as ``jobError``. ``state`` may be any text: ``Preempted``, ``Cancelled``,
    ``Failed``, ``Error``, ``Cancel``, or one no client knows."""

    after_s: float
    state: str = "Preempted"
    job_error: str | None = "Notebook was preempted"


def machine_matches(machines: set[str] | dict[str, str], machine: str) -> bool:
    return "*" in machines or machine in machines


@dataclass
class Faults:
    """What goes wrong (or differs from a plain healthy notebook), and when.

    - ``start_delay_s``: seconds a notebook spends in ``Pending`` (first quarter) then
      ``Provisioning`` (the rest) before it is ``Running``.
    - ``capacity_machines``: creating a notebook on these fails with ``capacity_message``
      (:data:`CAPACITY_MESSAGE`).
    - ``running_limit``: at most this many notebooks may be active (not ``Stopped``/``Error``);
      creating one more fails with ``running_limit_message`` (:data:`RUNNING_LIMIT_MESSAGE`, our
      own wording: set other words to play a limit worded in a way no client recognises).
    - ``stuck_machines``: notebooks on these never leave ``Provisioning`` (until stopped).
    - ``error_machines``: notebooks on these end in ``Error`` at the end of provisioning, with the
      mapped text as ``jobError`` (an empty text means :data:`DEFAULT_ERROR_MESSAGE`).
    - ``replay_log``: instead of running the command, print this text (or ``replay_log(notebook)``)
      as the notebook's log, one row a line, ``replay_line_delay_s`` apart, then stop. For load
      tests: no process is started.
    - ``log_line_limit``: log rows longer than this are cut (log pipelines truncate long lines);
      :data:`LOG_LINE_LIMIT` by default, ``None`` for no cap.
    - ``start_states``: the states a notebook shows while it starts, in order (the first for a
      quarter of ``start_delay_s``, the others share the rest), e.g. ``("Pending",
      "Provisioned", "Provisioning")`` or a state no client knows.
    - ``interrupt_machines``: notebooks on these are ended by the platform (:class:`Interrupt`).
    - ``teardown_s``: once its command has ended, a notebook shows ``Stopping`` this long before
      ``Stopped`` (the platform tears the container down).
    - ``refuse_delete_while``: states in which a delete is refused (400,
      :data:`DELETE_WHILE_STOPPING_MESSAGE`); by default while ``Stopping``.
    - ``list_page_size``: at most this many notebooks per list answer when the request asks for
      no limit or a larger one (:data:`LIST_PAGE_SIZE`; ``None``: unpaged).
    - ``log_page_size``: at most this many rows per logs answer, whatever ``limit`` asks
      (``None``: as many as asked).
    - wording: ``capacity_message`` (the refusal of a machine out of capacity),
      ``delete_refusal_message`` (a refused delete; ``{state}`` is the state in lower case),
      ``stop_ended_message`` (when set, a stop of a notebook that has ended is refused with it;
      by default it answers 200), ``max_command_chars`` with ``command_refusal_message`` (a
      create whose decoded command is longer is refused).
    - the team: ``offered_machines`` (the machine types list; ``None``: every type the fake
      knows) and ``unavailable_machines`` (listed with ``isAvailable: false``).
    - log delivery: every ``late_log_every``-th row reaches the logs API ``late_log_s`` seconds
      after the rows that follow it (they are served first; it keeps its line number); every
      ``duplicate_log_every``-th row is served twice; ``reverse_log_rows`` serves each answer's
      rows in reverse order.
    - ``stalled_servers``: requests to these servers (``"api"``, ``"logs"``, ``"metrics"``) are
      accepted and never answered (until the knob is cleared: then they are answered, late).
    - request faults: :meth:`fail_next`, :meth:`rate_limit_next`, :meth:`drop_next`,
      :meth:`stall_next`, :meth:`lose_next_create`.
    """

    start_delay_s: float = 0.0
    capacity_machines: set[str] = field(default_factory=set)
    running_limit: int | None = None
    running_limit_message: str = RUNNING_LIMIT_MESSAGE
    stuck_machines: set[str] = field(default_factory=set)
    error_machines: dict[str, str] = field(default_factory=dict)
    replay_log: ReplayLog | None = None
    replay_line_delay_s: float = 0.0
    log_line_limit: int | None = LOG_LINE_LIMIT
    start_states: tuple[str, ...] = ("Pending", "Provisioning")
    interrupt_machines: dict[str, Interrupt] = field(default_factory=dict)
    teardown_s: float = 0.0
    refuse_delete_while: frozenset[str] = frozenset({"Stopping"})
    list_page_size: int | None = LIST_PAGE_SIZE
    log_page_size: int | None = None
    capacity_message: str = CAPACITY_MESSAGE
    delete_refusal_message: str = DELETE_WHILE_STOPPING_MESSAGE
    stop_ended_message: str | None = None
    max_command_chars: int | None = None
    command_refusal_message: str = COMMAND_TOO_LONG_MESSAGE
    offered_machines: set[str] | None = None
    unavailable_machines: set[str] = field(default_factory=set)
    late_log_every: int | None = None
    late_log_s: float = 0.5
    duplicate_log_every: int | None = None
    reverse_log_rows: bool = False
    stalled_servers: set[str] = field(default_factory=set)
    rules: list[Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def fail_next(
        self,
        path_substring: str,
        count: int = 1,
        *,
        status: int = 500,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` requests whose path contains ``path_substring`` with
        ``status``, ``body`` and ``headers`` (default: 500 with an empty body), without
        processing them."""
        with self._lock:
            self.rules.append(
                Rule(
                    path_substring, count, "status", status=status, body=body, headers=headers or {}
                )
            )

    def rate_limit_next(
        self, path_substring: str, count: int = 1, *, retry_after: str | None = "1"
    ) -> None:
        """Answer the next ``count`` matching requests ``429 Too Many Requests``, with
        ``Retry-After: <retry_after>`` (seconds or an HTTP date; ``None``: no header)."""
        body = json.dumps({"status": 429, "message": RATE_LIMIT_MESSAGE}).encode()
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        self.fail_next(path_substring, count, status=429, body=body, headers=headers)

    def stall_next(self, path_substring: str, count: int = 1) -> None:
        """Accept the next ``count`` matching requests and never answer them (until the fake
        closes: then the connection is dropped)."""
        with self._lock:
            self.rules.append(Rule(path_substring, count, "stall"))

    def drop_next(
        self, path_substring: str, count: int = 1, *, after_processing: bool = False
    ) -> None:
        """Close the connection without any response for the next ``count`` matching requests.

        With ``after_processing`` the request takes effect first (the response is lost, not the
        request)."""
        with self._lock:
            self.rules.append(
                Rule(path_substring, count, "drop", after_processing=after_processing)
            )

    def lose_next_create(self, count: int = 1) -> None:
        """The next ``count`` creates make their notebook, then the response is lost."""
        self.drop_next("/notebooks/v2/createNotebook", count, after_processing=True)

    def take_rule(self, path: str) -> Rule | None:
        """Consume one use of the first armed rule matching ``path`` (used by the server)."""
        with self._lock:
            for rule in self.rules:
                if rule.remaining > 0 and rule.path_substring in path:
                    rule.remaining -= 1
                    return rule
            return None

    def clear(self) -> None:
        """Back to a healthy platform (all knobs to their defaults)."""
        with self._lock:
            self.start_delay_s = 0.0
            self.capacity_machines = set()
            self.running_limit = None
            self.running_limit_message = RUNNING_LIMIT_MESSAGE
            self.stuck_machines = set()
            self.error_machines = {}
            self.replay_log = None
            self.replay_line_delay_s = 0.0
            self.log_line_limit = LOG_LINE_LIMIT
            self.start_states = ("Pending", "Provisioning")
            self.interrupt_machines = {}
            self.teardown_s = 0.0
            self.refuse_delete_while = frozenset({"Stopping"})
            self.list_page_size = LIST_PAGE_SIZE
            self.log_page_size = None
            self.capacity_message = CAPACITY_MESSAGE
            self.delete_refusal_message = DELETE_WHILE_STOPPING_MESSAGE
            self.stop_ended_message = None
            self.max_command_chars = None
            self.command_refusal_message = COMMAND_TOO_LONG_MESSAGE
            self.offered_machines = None
            self.unavailable_machines = set()
            self.late_log_every = None
            self.late_log_s = 0.5
            self.duplicate_log_every = None
            self.reverse_log_rows = False
            self.stalled_servers = set()
            self.rules = []
