"""How our notebooks are named and tagged: one scheme for creating them (jobs.py), following them
(the gradient provider lists by run tag) and finding what a killed run left (`grt sweep`)."""

from __future__ import annotations

import re
import uuid

TAG = "grt"  # every notebook we create carries it
RUN_TAG_PREFIX = f"{TAG}-run-"
CELL_ID_CHARS = 12  # hex characters of a cell's random id (also the harness bundle id)
RUN_ID_CHARS = 10
# `grt: <runtime> on <machine> [<cell id>]`: a notebook killed between create and tagging is found
# by its name (names travel in the create request; tags follow in separate requests).
NAME = re.compile(rf"^{TAG}: .+ on [A-Za-z0-9._-]+ \[[0-9a-f]{{{CELL_ID_CHARS}}}\]$")


def new_run_id() -> str:
    return uuid.uuid4().hex[:RUN_ID_CHARS]


def new_cell_id() -> str:
    return uuid.uuid4().hex[:CELL_ID_CHARS]


def notebook_name(runtime: str, machine: str, cell_id: str) -> str:
    return f"{TAG}: {runtime} on {machine} [{cell_id}]"


def is_ours(name: str | None) -> bool:
    return bool(NAME.match(name or ""))


def tags(*, run_id: str, cell_id: str, runtime_slug: str, machine: str) -> tuple[str, ...]:
    return (
        TAG,
        f"{RUN_TAG_PREFIX}{run_id}",
        f"{TAG}-cell-{cell_id}",
        f"{TAG}-runtime-{runtime_slug}",
        f"{TAG}-machine-{machine.lower()}",
    )


def run_tag(all_tags: tuple[str, ...]) -> str | None:
    """The run tag among a notebook's tags."""
    return next((t for t in all_tags if t.startswith(RUN_TAG_PREFIX)), None)
