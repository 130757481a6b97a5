"""The result bundle: framed, chunked, authenticated lines on stdout (docs/harness-protocol.md).

Encoding: payload JSON -> gzip -> base64 -> chunks of at most ``CHUNK_CHARS``, framed as::

    GRT-BUNDLE-BEGIN v2 <bundle_id> chunks=<n> chars=<len of base64> sha256=<hex of gzip bytes>
    GRT-BUNDLE <bundle_id> <i>/<n> <chunk>
    GRT-BUNDLE-END <bundle_id> mac=<hex HMAC-SHA256 of the BEGIN line's fields, keyed by the nonce>

The bundle id is public (it also names the notebook); the nonce is the cell's secret, handed to
the harness out of sight of notebook code and never printed. The END line is the harness's final
word, printed once every kernel is gone: only a frame whose END line carries the right MAC is a
result, and the sha256 in the authenticated header covers every chunk.

Decoding tolerates other log lines in between, a prefix before each marker (a log pipeline's
timestamp), trailing whitespace, exact duplicate lines (a log re-read), chunks out of order and
lines cut short when a full copy is also there. It refuses (a ``BundleError`` saying why) anything
short of one complete, authenticated payload: a second, different frame for the same id, a wrong
or missing MAC, conflicting chunks, and anything over a cap (base64 characters, inflated bytes,
JSON depth and containers). The caps are reusable (``inflate``, ``loads_bounded``) for other readers
of untrusted results. The orchestrator imports this module; it stays stdlib-only (Python 3.8+).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import hashlib
import hmac
import json
import os
import re
import zlib
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

VERSION = 2
CHUNK_CHARS = 900
BEGIN = "GRT-BUNDLE-BEGIN"
CHUNK = "GRT-BUNDLE"
END = "GRT-BUNDLE-END"

# Caps on what a reader accepts (the harness keeps its bundles within them: ``fits``).
MAX_FRAME_CHARS = 4000000  # base64 characters of one frame (the spec's default bundle_chars)
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024  # the inflated JSON
MAX_JSON_DEPTH = 64  # nested arrays and objects (an executed notebook needs about 8)
MAX_JSON_CONTAINERS = 1000000  # arrays and objects, counted as '[' and '{' characters


def without_frames(lines: Iterable[str]) -> List[str]:
    """The lines of a log that are not bundle frames (any bundle's): what people read."""
    return [line for line in lines if CHUNK not in line]


_BEGIN_RE = re.compile(
    r"GRT-BUNDLE-BEGIN v(\d+) (\S+) chunks=(\d+) chars=(\d+) sha256=([0-9a-fA-F]{64})\s*$"
)
_CHUNK_RE = re.compile(r"GRT-BUNDLE (\S+) (\d+)/(\d+) ([A-Za-z0-9+/=]*)\s*$")
_END_RE = re.compile(r"GRT-BUNDLE-END (\S+)(?: mac=([0-9a-fA-F]*))?\s*$")


class BundleError(Exception):
    """No usable bundle. Subclasses say why; the message is meant for people."""


class BundleMissing(BundleError):
    """No frame for the bundle id at all."""


class BundleTruncated(BundleError):
    """A frame was found, but chunks or its END line are missing, or lines are cut short."""

    def __init__(self, message: str, missing: Tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing  # 1-based chunk numbers


class BundleCorrupted(BundleError):
    """All chunks are there, but they do not add up (checksum, conflicting copies)."""


class BundleForged(BundleCorrupted):
    """Not the harness's one result: a second, different frame for the id, conflicting copies
    of a chunk, or an END line whose MAC does not match the cell's nonce."""


class BundleUndecodable(BundleError):
    """The bytes are verified, but are not gzip-compressed JSON of an object."""


class BundleTooLarge(BundleUndecodable):
    """Over a cap: base64 characters, inflated bytes, JSON depth or containers."""


class LimitExceeded(ValueError):
    """``inflate`` or ``loads_bounded`` met data over one of their caps."""


# --- encoding ------------------------------------------------------------------------------------


def _raw(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _pack(raw: bytes) -> Tuple[str, str]:
    packed = gzip.compress(raw, compresslevel=6, mtime=0)
    return base64.b64encode(packed).decode("ascii"), hashlib.sha256(packed).hexdigest()


def encode_payload(payload: Mapping[str, Any]) -> Tuple[str, str]:
    """``(base64 text, sha256 hex of the gzip bytes)`` for ``payload``."""
    return _pack(_raw(payload))


def fits(payload: Mapping[str, Any], bundle_chars: int) -> bool:
    """Whether ``payload`` encodes to at most ``bundle_chars`` characters and stays within every
    cap a reader applies (so that the orchestrator accepts it)."""
    raw = _raw(payload)
    if len(raw) > MAX_PAYLOAD_BYTES or not _few_containers(raw):
        return False
    try:
        check_depth(payload)
    except LimitExceeded:
        return False
    return len(_pack(raw)[0]) <= min(bundle_chars, MAX_FRAME_CHARS)


def frame_mac(key: str, bundle_id: str, chunks: int, chars: int, sha256: str) -> str:
    """The END line's MAC: HMAC-SHA256 of the BEGIN line's fields, keyed by the cell's nonce."""
    message = "%s v%d %s chunks=%d chars=%d sha256=%s" % (
        BEGIN,
        VERSION,
        bundle_id,
        chunks,
        chars,
        sha256.lower(),
    )
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def encode_lines(
    payload: Mapping[str, Any], bundle_id: str, key: str, chunk_chars: int = CHUNK_CHARS
) -> List[str]:
    """The bundle's lines, without line ends; ``key`` is the cell's nonce."""
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
    lines.append("%s %s mac=%s" % (END, bundle_id, frame_mac(key, bundle_id, n, len(text), digest)))
    return lines


def write_lines(lines: Iterable[str], fd: int = 1) -> None:
    """Write each line with a single ``os.write`` (lines stay whole among other output)."""
    for line in lines:
        data = (line + "\n").encode("utf-8")
        while data:
            written = os.write(fd, data)
            data = data[written:]


# --- bounded decoding (reusable) -----------------------------------------------------------------


def inflate(data: bytes, limit: int = MAX_PAYLOAD_BYTES, wbits: int = 31) -> bytes:
    """``data`` decompressed (gzip by default), never holding more than ``limit`` + 1 bytes of
    output: raises ``LimitExceeded`` past ``limit``, ``ValueError`` for a broken stream."""
    stream = zlib.decompressobj(wbits)
    try:
        out = stream.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ValueError("not a compressed stream: %s" % exc) from None
    if len(out) > limit:
        raise LimitExceeded("inflates to more than %d bytes" % limit)
    if not stream.eof or stream.unused_data:
        raise ValueError("compressed stream truncated or followed by other data")
    return out


def _few_containers(raw: bytes, limit: int = MAX_JSON_CONTAINERS) -> bool:
    # '[' and '{' inside strings count too: an upper bound, cheap, and far above real results
    return raw.count(b"[") + raw.count(b"{") <= limit


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise ``LimitExceeded`` if arrays and objects in ``value`` nest deeper than ``limit``."""
    pending: List[Tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            raise LimitExceeded("nested deeper than %d levels" % limit)
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def loads_bounded(
    raw: bytes,
    max_bytes: int = MAX_PAYLOAD_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    max_containers: int = MAX_JSON_CONTAINERS,
) -> Any:
    """JSON from UTF-8 ``raw`` within the caps (``LimitExceeded``; ``ValueError`` if not JSON).
    The container count is checked before parsing, so memory stays bounded by ``max_bytes``."""
    if len(raw) > max_bytes:
        raise LimitExceeded("%d bytes, more than %d" % (len(raw), max_bytes))
    if not _few_containers(raw, max_containers):
        raise LimitExceeded("more than %d arrays and objects" % max_containers)
    try:
        value = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise LimitExceeded("nested deeper than %d levels" % max_depth) from None
    check_depth(value, max_depth)
    return value


# --- decoding ------------------------------------------------------------------------------------

_Header = Tuple[int, int, int, str]  # version, chunks, chars, sha256 (lower-case hex)


@dataclasses.dataclass
class _Frame:
    header: _Header
    parts: Dict[int, str] = dataclasses.field(default_factory=dict)
    conflicts: List[int] = dataclasses.field(default_factory=list)

    @property
    def chunks(self) -> int:
        return self.header[1]


@dataclasses.dataclass
class _Scan:
    """Everything a log says about one bundle id."""

    frames: Dict[_Header, _Frame] = dataclasses.field(default_factory=dict)
    early: List[Tuple[int, int, str]] = dataclasses.field(default_factory=list)
    macs: List[str] = dataclasses.field(default_factory=list)  # distinct, in order seen


def decode(
    log: Union[str, Iterable[str]], bundle_id: str, key: str, max_chars: int = MAX_FRAME_CHARS
) -> Dict[str, Any]:
    """The payload of bundle ``bundle_id`` found in ``log`` (text, or an iterable of lines),
    authenticated with ``key`` (the cell's nonce).

    Raises ``BundleMissing``, ``BundleTruncated``, ``BundleCorrupted`` (``BundleForged``) or
    ``BundleUndecodable`` (``BundleTooLarge``): all ``BundleError``.
    """
    lines = log.splitlines() if isinstance(log, str) else log
    scan = _scan(lines, bundle_id, max_chars)
    if not scan.frames:
        if scan.early or scan.macs:
            raise BundleTruncated(
                "bundle %s: %d chunk or END line(s) but no GRT-BUNDLE-BEGIN header"
                % (bundle_id, len(scan.early) + len(scan.macs))
            )
        raise BundleMissing("bundle %s: not found (no GRT-BUNDLE-BEGIN line)" % bundle_id)
    if len(scan.frames) > 1:
        raise BundleForged(
            "result frame forged or repeated: %d different frames for bundle %s"
            % (len(scan.frames), bundle_id)
        )
    (frame,) = scan.frames.values()
    version, chunks, chars, _ = frame.header
    if version != VERSION:
        raise BundleUndecodable(
            "bundle %s: unsupported bundle version v%d (this reader knows v%d)"
            % (bundle_id, version, VERSION)
        )
    if chars > max_chars or chunks > max_chars:
        raise BundleTooLarge(
            "bundle %s over a cap: %d base64 characters announced (at most %d)"
            % (bundle_id, chars, max_chars)
        )
    _authenticate(scan.macs, key, bundle_id, frame.header)
    for item in scan.early:
        _add(frame, *item)
    return _assemble(frame, bundle_id)


def _scan(lines: Iterable[str], bundle_id: str, max_chars: int) -> _Scan:
    scan = _Scan()
    current: Optional[_Frame] = None
    for line in lines:
        if bundle_id not in line:
            continue
        begin = _find(line, BEGIN + " ", _BEGIN_RE)
        if begin is not None and begin.group(2) == bundle_id:
            header = (int(begin.group(1)), int(begin.group(3)), int(begin.group(4)))
            key = (*header, begin.group(5).lower())
            current = scan.frames.setdefault(key, _Frame(key))  # identical repeats: one frame
            continue
        chunk = _find(line, CHUNK + " ", _CHUNK_RE)
        if chunk is not None and chunk.group(1) == bundle_id:
            item = (int(chunk.group(2)), int(chunk.group(3)), chunk.group(4))
            if current is None:
                if len(scan.early) < max_chars // CHUNK_CHARS + 1:
                    scan.early.append(item)
            elif current.header[2] <= max_chars:  # no use collecting a frame over the cap
                _add(current, *item)
            continue
        end = _find(line, END + " ", _END_RE)
        if end is not None and end.group(1) == bundle_id:
            mac = (end.group(2) or "").lower()
            if mac not in scan.macs:
                scan.macs.append(mac)
    return scan


def _authenticate(macs: List[str], key: str, bundle_id: str, header: _Header) -> None:
    if not macs:
        raise BundleTruncated("bundle %s truncated: no END line" % bundle_id)
    if len(macs) > 1:
        raise BundleForged(
            "result frame forged or repeated: %d different END lines for bundle %s"
            % (len(macs), bundle_id)
        )
    _, chunks, chars, digest = header
    if not hmac.compare_digest(macs[0], frame_mac(key, bundle_id, chunks, chars, digest)):
        raise BundleForged(
            "result frame forged or repeated: the END line of bundle %s does not match this"
            " cell's nonce" % bundle_id
        )


def _find(line: str, marker: str, pattern: "re.Pattern[str]") -> Optional["re.Match[str]"]:
    at = line.find(marker)
    while at >= 0:
        match = pattern.match(line, at)
        if match:
            return match
        at = line.find(marker, at + 1)
    return None


def _add(frame: _Frame, index: int, total: int, text: str) -> None:
    if total != frame.chunks or not 1 <= index <= total or len(text) > CHUNK_CHARS:
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
    _, chunks, chars, digest = frame.header
    if frame.conflicts:
        raise BundleForged(
            "result frame forged or repeated: conflicting or out-of-range copies of chunk(s) %s"
            " of bundle %s" % (_ranges(sorted(set(frame.conflicts))), bundle_id)
        )
    if len(frame.parts) < chunks:
        missing = [i for i in range(1, chunks + 1) if i not in frame.parts]
        raise BundleTruncated(
            "bundle %s truncated: chunks %s of %d missing" % (bundle_id, _ranges(missing), chunks),
            tuple(missing),
        )
    text = "".join(frame.parts[i] for i in range(1, chunks + 1))
    if len(text) != chars:
        raise BundleTruncated(
            "bundle %s truncated: %d base64 characters, header announced %d (lines cut short?)"
            % (bundle_id, len(text), chars)
        )
    try:
        packed = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleCorrupted(
            "bundle %s corrupted: invalid base64: %s" % (bundle_id, exc)
        ) from None
    if hashlib.sha256(packed).hexdigest() != digest:
        raise BundleCorrupted("bundle %s corrupted: sha256 checksum mismatch" % bundle_id)
    return _payload(packed, bundle_id)


def _payload(packed: bytes, bundle_id: str) -> Dict[str, Any]:
    try:
        payload = loads_bounded(inflate(packed))
    except LimitExceeded as exc:
        raise BundleTooLarge("bundle %s over a cap: %s" % (bundle_id, exc)) from None
    except (ValueError, UnicodeError) as exc:
        raise BundleUndecodable(
            "bundle %s undecodable: not gzip-compressed UTF-8 JSON: %s" % (bundle_id, exc)
        ) from None
    if not isinstance(payload, dict):
        raise BundleUndecodable("bundle %s undecodable: payload is not a JSON object" % bundle_id)
    return payload
