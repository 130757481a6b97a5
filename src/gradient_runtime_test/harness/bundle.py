"""The result bundle: framed, chunked, checksummed lines on stdout (docs/harness-protocol.md).

Encoding: payload JSON -> gzip -> base64 -> chunks of at most ``CHUNK_CHARS``, framed as::

    GRT-BUNDLE-BEGIN v1 <bundle_id> chunks=<n> chars=<len of base64> sha256=<hex of gzip bytes>
    GRT-BUNDLE <bundle_id> <i>/<n> <chunk>
    GRT-BUNDLE-END <bundle_id>

Decoding tolerates other log lines in between, a prefix before each marker (a log pipeline's
timestamp), trailing whitespace, exact duplicate lines, chunks out of order, and a missing END
line; anything short of a complete payload whose checksum matches raises a ``BundleError``
subclass saying what is wrong. The orchestrator imports this module; it stays stdlib-only.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import hashlib
import json
import os
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

VERSION = 1
CHUNK_CHARS = 900
BEGIN = "GRT-BUNDLE-BEGIN"
CHUNK = "GRT-BUNDLE"
END = "GRT-BUNDLE-END"


def without_frames(lines: Iterable[str]) -> List[str]:
    """The lines of a log that are not bundle frames (any bundle's): what people read."""
    return [line for line in lines if CHUNK not in line]


_BEGIN_RE = re.compile(
    r"GRT-BUNDLE-BEGIN v(\d+) (\S+) chunks=(\d+) chars=(\d+) sha256=([0-9a-fA-F]{64})\s*$"
)
_CHUNK_RE = re.compile(r"GRT-BUNDLE (\S+) (\d+)/(\d+) ([A-Za-z0-9+/=]*)\s*$")


class BundleError(Exception):
    """No usable bundle. Subclasses say why; the message is meant for people."""


class BundleMissing(BundleError):
    """No frame for the bundle id at all."""


class BundleTruncated(BundleError):
    """A frame was found, but chunks are missing or shorter than announced."""

    def __init__(self, message: str, missing: Tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing  # 1-based chunk numbers


class BundleCorrupted(BundleError):
    """All chunks are there, but they do not add up (checksum, conflicting copies)."""


class BundleUndecodable(BundleError):
    """The bytes are verified, but are not gzip-compressed JSON of an object."""


def encode_payload(payload: Mapping[str, Any]) -> Tuple[str, str]:
    """``(base64 text, sha256 hex of the gzip bytes)`` for ``payload``."""
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    packed = gzip.compress(raw, compresslevel=6, mtime=0)
    return base64.b64encode(packed).decode("ascii"), hashlib.sha256(packed).hexdigest()


def encoded_chars(payload: Mapping[str, Any]) -> int:
    """Length of the base64 text ``payload`` encodes to (what ``bundle_chars`` caps)."""
    return len(encode_payload(payload)[0])


def encode_lines(
    payload: Mapping[str, Any], bundle_id: str, chunk_chars: int = CHUNK_CHARS
) -> List[str]:
    """The bundle's lines, without line ends."""
    if not re.match(r"^\S+$", bundle_id):
        raise ValueError("bundle id must be non-empty without whitespace: %r" % bundle_id)
    if not 1 <= chunk_chars <= CHUNK_CHARS:
        raise ValueError("chunk_chars must be between 1 and %d" % CHUNK_CHARS)
    text, digest = encode_payload(payload)
    chunks = [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)] or [""]
    n = len(chunks)
    lines = [
        "%s v%d %s chunks=%d chars=%d sha256=%s" % (BEGIN, VERSION, bundle_id, n, len(text), digest)
    ]
    lines.extend("%s %s %d/%d %s" % (CHUNK, bundle_id, i + 1, n, c) for i, c in enumerate(chunks))
    lines.append("%s %s" % (END, bundle_id))
    return lines


def write_lines(lines: Iterable[str], fd: int = 1) -> None:
    """Write each line with a single ``os.write`` (lines stay whole among other output)."""
    for line in lines:
        data = (line + "\n").encode("utf-8")
        while data:
            written = os.write(fd, data)
            data = data[written:]


@dataclasses.dataclass
class _Frame:
    chunks: int
    chars: int
    sha256: str  # lower-case hex
    parts: Dict[int, str] = dataclasses.field(default_factory=dict)
    conflicts: List[int] = dataclasses.field(default_factory=list)
    ended: bool = False


def decode(log: Union[str, Iterable[str]], bundle_id: str) -> Dict[str, Any]:
    """The payload of bundle ``bundle_id`` found in ``log`` (text, or an iterable of lines).

    If the bundle was printed more than once (the harness ran again), the last complete copy
    wins. Raises ``BundleMissing``, ``BundleTruncated``, ``BundleCorrupted`` or
    ``BundleUndecodable`` (all ``BundleError``).
    """
    lines = log.splitlines() if isinstance(log, str) else log
    frames: List[_Frame] = []
    early: List[Tuple[int, int, str]] = []  # chunks seen before any BEGIN for this id
    for line in lines:
        if bundle_id not in line:
            continue
        begin = _find(line, BEGIN + " ", _BEGIN_RE)
        if begin is not None and begin.group(2) == bundle_id:
            if int(begin.group(1)) != VERSION:
                raise BundleUndecodable(
                    "bundle %s: unsupported bundle version v%s (this reader knows v%d)"
                    % (bundle_id, begin.group(1), VERSION)
                )
            frames.append(_Frame(int(begin.group(3)), int(begin.group(4)), begin.group(5).lower()))
            continue
        chunk = _find(line, CHUNK + " ", _CHUNK_RE)
        if chunk is not None and chunk.group(1) == bundle_id:
            item = (int(chunk.group(2)), int(chunk.group(3)), chunk.group(4))
            if frames:
                _add(frames[-1], *item)
            else:
                early.append(item)
            continue
        if frames and re.search(re.escape(END) + " " + re.escape(bundle_id) + r"\s*$", line):
            frames[-1].ended = True
    if not frames:
        if early:
            raise BundleTruncated(
                "bundle %s: %d chunk line(s) but no GRT-BUNDLE-BEGIN header"
                % (bundle_id, len(early))
            )
        raise BundleMissing("bundle %s: not found (no GRT-BUNDLE-BEGIN line)" % bundle_id)
    for item in early:
        _add(frames[0], *item)
    problem: Optional[BundleError] = None
    for frame in reversed(frames):
        try:
            return _assemble(frame, bundle_id)
        except BundleError as exc:
            problem = problem or exc
    assert problem is not None
    raise problem


def _find(line: str, marker: str, pattern: "re.Pattern[str]") -> Optional["re.Match[str]"]:
    at = line.find(marker)
    while at >= 0:
        match = pattern.match(line, at)
        if match:
            return match
        at = line.find(marker, at + 1)
    return None


def _add(frame: _Frame, index: int, total: int, text: str) -> None:
    if total != frame.chunks or not 1 <= index <= total:
        frame.conflicts.append(index)
        return
    seen = frame.parts.get(index)
    if seen is None:
        frame.parts[index] = text
    elif seen != text:
        # keep the longer copy: a log pipeline may have cut one short
        if not (seen.startswith(text) or text.startswith(seen)):
            frame.conflicts.append(index)
        frame.parts[index] = max(seen, text, key=len)


def _ranges(numbers: List[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3..5, 9"``."""
    runs: List[List[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join("%d" % a if a == b else "%d..%d" % (a, b) for a, b in runs)


def _assemble(frame: _Frame, bundle_id: str) -> Dict[str, Any]:
    missing = [i for i in range(1, frame.chunks + 1) if i not in frame.parts]
    if missing:
        raise BundleTruncated(
            "bundle %s truncated: chunks %s of %d missing%s"
            % (bundle_id, _ranges(missing), frame.chunks, "" if frame.ended else " (no END line)"),
            tuple(missing),
        )
    if frame.conflicts:
        raise BundleCorrupted(
            "bundle %s corrupted: conflicting or out-of-range copies of chunk(s) %s"
            % (bundle_id, _ranges(sorted(set(frame.conflicts))))
        )
    text = "".join(frame.parts[i] for i in range(1, frame.chunks + 1))
    if len(text) != frame.chars:
        raise BundleTruncated(
            "bundle %s truncated: %d base64 characters, header announced %d (lines cut short?)"
            % (bundle_id, len(text), frame.chars)
        )
    try:
        packed = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleCorrupted(
            "bundle %s corrupted: invalid base64: %s" % (bundle_id, exc)
        ) from None
    if hashlib.sha256(packed).hexdigest() != frame.sha256:
        raise BundleCorrupted("bundle %s corrupted: sha256 checksum mismatch" % bundle_id)
    try:
        payload = json.loads(gzip.decompress(packed).decode("utf-8"))
    except (OSError, EOFError, ValueError, UnicodeError) as exc:
        raise BundleUndecodable(
            "bundle %s undecodable: not gzip-compressed UTF-8 JSON: %s" % (bundle_id, exc)
        ) from None
    if not isinstance(payload, dict):
        raise BundleUndecodable("bundle %s undecodable: payload is not a JSON object" % bundle_id)
    return payload
