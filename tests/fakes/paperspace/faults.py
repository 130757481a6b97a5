"""Fault knobs of the fake Paperspace API.

Every knob can be set when the fake is built (``FakePaperspace(faults=Faults(...))``) or changed at
any time while it runs (``fake.faults.capacity_machines.add("A100")``). Knobs that shape a
notebook's life (start-up delay, stuck, error, replay) are read once, when the notebook is created.

Machine sets and maps accept ``"*"`` to mean every machine type.
"""

from __future__ import annotations

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

ReplayLog = str | Callable[[Any], str]


@dataclass
class Rule:
    """One armed request fault: answer ``status`` or drop the connection, ``remaining`` times."""

    path_substring: str
    remaining: int
    kind: Literal["status", "drop"]
    status: int = 500
    body: bytes = b""
    after_processing: bool = False


def machine_matches(machines: set[str] | dict[str, str], machine: str) -> bool:
    return "*" in machines or machine in machines


@dataclass
class Faults:
    """What goes wrong (or differs from a plain healthy notebook), and when.

    - ``start_delay_s``: seconds a notebook spends in ``Pending`` (first quarter) then
      ``Provisioning`` (the rest) before it is ``Running``.
    - ``capacity_machines``: creating a notebook on these fails with :data:`CAPACITY_MESSAGE`.
    - ``running_limit``: at most this many notebooks may be active (not ``Stopped``/``Error``);
      creating one more fails with :data:`RUNNING_LIMIT_MESSAGE`.
    - ``stuck_machines``: notebooks on these never leave ``Provisioning`` (until stopped).
    - ``error_machines``: notebooks on these end in ``Error`` at the end of provisioning, with the
      mapped text as ``jobError`` (an empty text means :data:`DEFAULT_ERROR_MESSAGE`).
    - ``replay_log``: instead of running the command, print this text (or ``replay_log(notebook)``)
      as the notebook's log, one row a line, ``replay_line_delay_s`` apart, then stop. For load
      tests: no process is started.
    - ``log_line_limit``: log rows longer than this are cut (log pipelines truncate long lines).
    - request faults: :meth:`fail_next`, :meth:`drop_next`, :meth:`lose_next_create`.
    """

    start_delay_s: float = 0.0
    capacity_machines: set[str] = field(default_factory=set)
    running_limit: int | None = None
    stuck_machines: set[str] = field(default_factory=set)
    error_machines: dict[str, str] = field(default_factory=dict)
    replay_log: ReplayLog | None = None
    replay_line_delay_s: float = 0.0
    log_line_limit: int | None = None
    rules: list[Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def fail_next(
        self, path_substring: str, count: int = 1, *, status: int = 500, body: bytes = b""
    ) -> None:
        """Answer the next ``count`` requests whose path contains ``path_substring`` with
        ``status`` and ``body`` (default: 500 with an empty body), without processing them."""
        with self._lock:
            self.rules.append(Rule(path_substring, count, "status", status=status, body=body))

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
            self.stuck_machines = set()
            self.error_machines = {}
            self.replay_log = None
            self.replay_line_delay_s = 0.0
            self.log_line_limit = None
            self.rules = []
