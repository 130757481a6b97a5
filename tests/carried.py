"""What a notebook command carries (docs/harness-protocol.md, "Delivery"), read back for tests and
the fakes: the spec grt handed the harness (with the cell's nonce), and the harness archive."""

from __future__ import annotations

import base64
import shlex
import zlib
from typing import Any

from gradient_runtime_test.harness.pack import BOOTSTRAP
from gradient_runtime_test.harness.protocol import unpack_spec


def _words(command: str) -> list[str]:
    words = shlex.split(command)
    at = words.index(BOOTSTRAP)  # exec "$(command -v python3 ...)" -c BOOTSTRAP HARNESS SPEC N ...
    return words[at + 1 :]


def carried_spec(command: str) -> dict[str, Any]:
    """The spec (a JSON object) a notebook command hands the harness."""
    spec = unpack_spec(_words(command)[1].encode("ascii"))
    assert isinstance(spec, dict)
    return spec


def carried_harness(command: str) -> bytes | str:
    """The harness archive a command carries, or the `URL SHA256` it downloads it from."""
    harness = _words(command)[0]
    if " " in harness:
        return harness
    return zlib.decompress(base64.b85decode(harness))


def carried_program(command: str) -> list[str]:
    """What the bootstrap `exec`s: N, N `NAME=value` words, then the program and arguments."""
    return _words(command)[2:]
