"""The bundle codec: what the harness prints and the orchestrator reads back."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import os
import random
import string
import zlib
from typing import Any

import pytest

from gradient_runtime_test.harness.bundle import (
    MAX_FRAME_CHARS,
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    BundleCorrupted,
    BundleError,
    BundleForged,
    BundleMissing,
    BundleTooLarge,
    BundleTruncated,
    BundleUndecodable,
    LimitExceeded,
    check_depth,
    fits,
    frame_mac,
    inflate,
    loads_bounded,
    write_lines,
)
from gradient_runtime_test.harness.bundle import decode as _decode
from gradient_runtime_test.harness.bundle import encode_lines as _encode_lines

KEY = "the-cells-nonce"


def encode_lines(payload: Any, bundle_id: str, key: str = KEY) -> list[str]:
    return _encode_lines(payload, bundle_id, key)


def decode(log: Any, bundle_id: str, key: str = KEY) -> dict[str, Any]:
    return _decode(log, bundle_id, key)


PAYLOAD = {
    "schema": 1,
    "bundle_id": "c0ffee12",
    "tests": [{"name": "checks/gpu.count", "status": "passed", "message": "ünïcode ✓"}],
    "notebooks": {"a.ipynb": {"cells": [{"source": "x" * 5000}]}},
}


def big_payload() -> dict[str, object]:
    rng = random.Random(7)  # incompressible text: many chunks
    noise = "".join(rng.choice(string.ascii_letters) for _ in range(20_000))
    return dict(PAYLOAD, noise=noise)


def test_round_trip() -> None:
    assert decode(encode_lines(PAYLOAD, "c0ffee12"), "c0ffee12") == PAYLOAD


def test_frame_format_and_line_lengths() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    begin = lines[0].split()
    assert begin[:3] == ["GRT-BUNDLE-BEGIN", "v2", "c0ffee12"]
    n = int(begin[3].removeprefix("chunks="))
    chars = int(begin[4].removeprefix("chars="))
    assert n == len(lines) - 2 > 10
    text = "".join(line.split()[3] for line in lines[1:-1])
    assert len(text) == chars
    assert begin[5] == "sha256=" + hashlib.sha256(base64.b64decode(text)).hexdigest()
    assert lines[1].startswith(f"GRT-BUNDLE c0ffee12 1/{n} ")
    expected_mac = hmac.new(
        KEY.encode(), lines[0].encode(), hashlib.sha256
    ).hexdigest()  # HMAC of the BEGIN line as printed
    assert lines[-1] == f"GRT-BUNDLE-END c0ffee12 mac={expected_mac}"
    assert all(len(line.split()[3]) <= 900 for line in lines[1:-1])
    assert max(len(line) for line in lines) <= 1000


def test_interleaved_with_other_log_lines_and_other_bundles() -> None:
    ours = encode_lines(big_payload(), "c0ffee12")
    theirs = encode_lines({"other": True}, "deadbeef", "another-nonce")
    log = []
    for i, line in enumerate(ours):
        log += [f"[I 21:30:0{i % 10}] kernel chatter {i}", line]
        if i < len(theirs):
            log.append(theirs[i])
    assert decode("\n".join(log), "c0ffee12") == big_payload()
    assert decode(log, "deadbeef", "another-nonce") == {"other": True}


def test_prefixes_and_trailing_whitespace_are_tolerated() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    log = [f"2026-11-28T21:30:00.123Z stdout F {line}  \r" for line in lines]
    assert decode(log, "c0ffee12") == big_payload()


def test_duplicates_and_disorder_are_tolerated() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    chunks = lines[1:-1]
    shuffled = chunks + chunks[:3]
    random.Random(1).shuffle(shuffled)
    assert decode([lines[0], *shuffled, lines[-1]], "c0ffee12") == big_payload()


def test_without_its_end_line_a_frame_is_not_a_result() -> None:
    with pytest.raises(BundleTruncated, match="no END line"):
        decode(encode_lines(PAYLOAD, "c0ffee12")[:-1], "c0ffee12")


def test_missing() -> None:
    with pytest.raises(BundleMissing, match="not found"):
        decode("just\nsome\nlogs\n", "c0ffee12")
    with pytest.raises(BundleMissing):
        decode(encode_lines(PAYLOAD, "deadbeef"), "c0ffee12")


def test_truncated_names_the_missing_chunks() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    n = len(lines) - 2
    kept = lines[:3] + lines[6:]  # chunks 3..5 gone
    with pytest.raises(BundleTruncated, match=rf"chunks 3\.\.5 of {n} missing") as info:
        decode(kept, "c0ffee12")
    assert info.value.missing == (3, 4, 5)
    with pytest.raises(BundleTruncated, match=rf"chunks 3\.\.{n} of {n} missing"):
        decode([*lines[:3], lines[-1]], "c0ffee12")


def test_line_cut_short_by_a_log_pipeline_is_truncation() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    lines[2] = lines[2][:500]
    with pytest.raises(BundleTruncated, match="header announced"):
        decode(lines, "c0ffee12")


def test_a_longer_duplicate_repairs_a_cut_line() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    cut = lines[2][:500]
    assert decode([lines[0], cut, *lines[1:]], "c0ffee12") == big_payload()


def test_header_missing() -> None:
    with pytest.raises(BundleTruncated, match="no GRT-BUNDLE-BEGIN header"):
        decode(encode_lines(PAYLOAD, "c0ffee12")[1:], "c0ffee12")


def test_corrupted_chunk_fails_the_checksum() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    head, chunk = lines[2].rsplit(" ", 1)
    flipped = chunk[:10] + ("A" if chunk[10] != "A" else "B") + chunk[11:]
    lines[2] = head + " " + flipped
    with pytest.raises(BundleCorrupted, match="checksum mismatch"):
        decode(lines, "c0ffee12")


def test_conflicting_copies_are_corruption() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    head, chunk = lines[2].rsplit(" ", 1)
    other = head + " " + ("B" if chunk[0] != "B" else "C") + chunk[1:]
    with pytest.raises(BundleCorrupted, match="conflicting"):
        decode([*lines, other], "c0ffee12")


def frame(packed: bytes, bundle_id: str = "c0ffee12", key: str = KEY) -> list[str]:
    """A frame around any bytes, authenticated with `key` (what only the harness could print)."""
    text = base64.b64encode(packed).decode()
    digest = hashlib.sha256(packed).hexdigest()
    chunks = [text[i : i + 900] for i in range(0, len(text), 900)] or [""]
    n = len(chunks)
    return [
        f"GRT-BUNDLE-BEGIN v2 {bundle_id} chunks={n} chars={len(text)} sha256={digest}",
        *(f"GRT-BUNDLE {bundle_id} {i + 1}/{n} {c}" for i, c in enumerate(chunks)),
        f"GRT-BUNDLE-END {bundle_id} mac={frame_mac(key, bundle_id, n, len(text), digest)}",
    ]


@pytest.mark.parametrize(
    "packed",
    [gzip.compress(b"not json"), gzip.compress(b"[1, 2]"), b"not gzip at all"],
    ids=["not-json", "not-an-object", "not-gzip"],
)
def test_undecodable(packed: bytes) -> None:
    with pytest.raises(BundleUndecodable, match="undecodable"):
        decode(frame(packed), "c0ffee12")


def test_unknown_version() -> None:
    lines = encode_lines(PAYLOAD, "c0ffee12")
    lines[0] = lines[0].replace(" v2 ", " v3 ")
    with pytest.raises(BundleUndecodable, match="unsupported bundle version v3"):
        decode(lines, "c0ffee12")


# --- forged and repeated frames --------------------------------------------------------------------


def test_identical_repeats_are_one_frame() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    assert decode(lines + lines + lines[2:5], "c0ffee12") == big_payload()  # a log read twice


def test_a_frame_without_the_nonce_is_forged() -> None:
    forged = encode_lines({"tests": []}, "c0ffee12", key="a guess")
    with pytest.raises(BundleForged, match="result frame forged or repeated: the END line"):
        decode(forged, "c0ffee12")
    no_mac = encode_lines(PAYLOAD, "c0ffee12")
    no_mac[-1] = "GRT-BUNDLE-END c0ffee12"
    with pytest.raises(BundleForged, match="does not match this cell's nonce"):
        decode(no_mac, "c0ffee12")


@pytest.mark.parametrize("forged_first", [True, False], ids=["before", "after"])
def test_two_different_frames_for_one_id_are_forged(forged_first: bool) -> None:
    real = encode_lines({"tests": [{"name": "notebooks/a.ipynb", "status": "failed"}]}, "c0ffee12")
    forged = encode_lines({"tests": []}, "c0ffee12", key="stolen? no: guessed")
    log = forged + real if forged_first else real + forged
    with pytest.raises(BundleForged, match="2 different frames for bundle c0ffee12"):
        decode(log, "c0ffee12")


def test_two_authentic_frames_are_repeated_not_a_result() -> None:
    first = encode_lines({"run": 1}, "c0ffee12")
    second = encode_lines({"run": 2}, "c0ffee12")  # the harness ran twice
    with pytest.raises(BundleForged, match="forged or repeated"):
        decode(first + second, "c0ffee12")


def test_a_second_end_line_is_forged() -> None:
    lines = encode_lines(PAYLOAD, "c0ffee12")
    with pytest.raises(BundleForged, match="2 different END lines"):
        decode([*lines, "GRT-BUNDLE-END c0ffee12 mac=" + "0" * 64], "c0ffee12")


def test_a_replayed_header_with_other_chunks_is_forged() -> None:
    lines = encode_lines(big_payload(), "c0ffee12")
    head, chunk = lines[3].rsplit(" ", 1)
    swapped = head + " " + chunk[::-1]
    with pytest.raises(BundleForged, match="conflicting"):
        decode([lines[0], swapped, *lines[1:]], "c0ffee12")


def test_all_are_bundle_errors() -> None:
    for cls in (BundleMissing, BundleTruncated, BundleCorrupted, BundleUndecodable):
        assert issubclass(cls, BundleError)
    assert issubclass(BundleForged, BundleCorrupted)
    assert issubclass(BundleTooLarge, BundleUndecodable)


# --- caps ----------------------------------------------------------------------------------------


def test_a_frame_announcing_more_than_the_cap_is_refused_before_collecting() -> None:
    lines = encode_lines(PAYLOAD, "c0ffee12")
    fields = lines[0].split()
    fields[4] = f"chars={MAX_FRAME_CHARS + 1}"
    with pytest.raises(BundleTooLarge, match="over a cap"):
        decode([" ".join(fields), *lines[1:]], "c0ffee12")


def test_a_gzip_bomb_is_refused_while_inflating() -> None:
    bomb = gzip.compress(b"[" + b"0," * (MAX_PAYLOAD_BYTES // 2) + b"0]", 9)
    assert len(bomb) < MAX_PAYLOAD_BYTES // 100
    with pytest.raises(BundleTooLarge, match="inflates to more than"):
        decode(frame(bomb), "c0ffee12")


def test_json_nested_too_deep_is_refused() -> None:
    deep = gzip.compress(b'{"a":' * 100_000 + b"0" + b"}" * 100_000)
    with pytest.raises(BundleTooLarge, match="nested deeper"):
        decode(frame(deep), "c0ffee12")
    just = {"a": [[[[0]]]]}
    check_depth(just, 5)
    with pytest.raises(LimitExceeded):
        check_depth(just, 4)


def test_json_of_too_many_containers_is_refused_before_parsing() -> None:
    many = gzip.compress(b'{"a":[' + b"[]," * 2_000_000 + b"[]]}")
    with pytest.raises(BundleTooLarge, match="arrays and objects"):
        decode(frame(many), "c0ffee12")


def test_inflate_and_loads_bounded_for_other_readers() -> None:
    assert inflate(gzip.compress(b"x" * 100), limit=100) == b"x" * 100
    with pytest.raises(LimitExceeded):
        inflate(gzip.compress(b"x" * 101), limit=100)
    with pytest.raises(ValueError, match="truncated"):
        inflate(gzip.compress(b"x" * 100)[:-5])
    with pytest.raises(ValueError):
        inflate(b"plain text")
    assert inflate(zlib.compress(b"z"), wbits=15) == b"z"
    assert loads_bounded(b'{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(LimitExceeded):
        loads_bounded(b"[" * 50 + b"]" * 50, max_depth=MAX_JSON_DEPTH, max_containers=49)
    with pytest.raises(LimitExceeded):
        loads_bounded(b"1" * 11, max_bytes=10)


def test_fits_keeps_the_harness_within_every_cap() -> None:
    assert fits(PAYLOAD, 4_000_000)
    assert not fits(PAYLOAD, 10)  # over bundle_chars
    deep: Any = 0
    for _ in range(MAX_JSON_DEPTH + 1):
        deep = [deep]
    assert not fits({"tests": [], "notebooks": {"x": deep}}, 4_000_000)
    assert not fits({"blob": "x" * (MAX_PAYLOAD_BYTES + 1)}, 4_000_000)  # compresses, too big


def test_bad_bundle_id_is_refused() -> None:
    with pytest.raises(ValueError, match="bundle id"):
        encode_lines(PAYLOAD, "has space")


def test_write_lines_writes_whole_lines() -> None:
    read_fd, write_fd = os.pipe()
    lines = encode_lines(big_payload(), "c0ffee12")
    try:
        write_lines(lines, write_fd)
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, encoding="utf-8") as pipe:
        assert pipe.read() == "\n".join(lines) + "\n"
