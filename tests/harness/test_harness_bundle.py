"""The bundle codec: what the harness prints and the orchestrator reads back."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import random
import string

import pytest

from gradient_runtime_test.harness.bundle import (
    BundleCorrupted,
    BundleError,
    BundleMissing,
    BundleTruncated,
    BundleUndecodable,
    decode,
    encode_lines,
    write_lines,
)

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
    assert begin[:3] == ["GRT-BUNDLE-BEGIN", "v1", "c0ffee12"]
    n = int(begin[3].removeprefix("chunks="))
    chars = int(begin[4].removeprefix("chars="))
    assert n == len(lines) - 2 > 10
    text = "".join(line.split()[3] for line in lines[1:-1])
    assert len(text) == chars
    assert begin[5] == "sha256=" + hashlib.sha256(base64.b64decode(text)).hexdigest()
    assert lines[1].startswith(f"GRT-BUNDLE c0ffee12 1/{n} ")
    assert lines[-1] == "GRT-BUNDLE-END c0ffee12"
    assert all(len(line.split()[3]) <= 900 for line in lines[1:-1])
    assert max(len(line) for line in lines) <= 1000


def test_interleaved_with_other_log_lines_and_other_bundles() -> None:
    ours = encode_lines(big_payload(), "c0ffee12")
    theirs = encode_lines({"other": True}, "deadbeef")
    log = []
    for i, line in enumerate(ours):
        log += [f"[I 21:30:0{i % 10}] kernel chatter {i}", line]
        if i < len(theirs):
            log.append(theirs[i])
    assert decode("\n".join(log), "c0ffee12") == big_payload()
    assert decode(log, "deadbeef") == {"other": True}


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


def test_missing_end_line_is_fine_when_complete() -> None:
    assert decode(encode_lines(PAYLOAD, "c0ffee12")[:-1], "c0ffee12") == PAYLOAD


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
    with pytest.raises(BundleTruncated, match=rf"chunks 3\.\.{n} of {n} missing \(no END line\)"):
        decode(lines[:3], "c0ffee12")


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


def frame(packed: bytes, bundle_id: str = "c0ffee12") -> list[str]:
    text = base64.b64encode(packed).decode()
    digest = hashlib.sha256(packed).hexdigest()
    return [
        f"GRT-BUNDLE-BEGIN v1 {bundle_id} chunks=1 chars={len(text)} sha256={digest}",
        f"GRT-BUNDLE {bundle_id} 1/1 {text}",
        f"GRT-BUNDLE-END {bundle_id}",
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
    lines[0] = lines[0].replace(" v1 ", " v2 ")
    with pytest.raises(BundleUndecodable, match="unsupported bundle version v2"):
        decode(lines, "c0ffee12")


def test_last_complete_copy_wins() -> None:
    first = encode_lines({"run": 1}, "c0ffee12")
    second = encode_lines({"run": 2}, "c0ffee12")
    assert decode(first + second, "c0ffee12") == {"run": 2}
    # a second copy cut short (the container ended while printing) does not hide the first
    assert decode(first + second[:1], "c0ffee12") == {"run": 1}


def test_all_are_bundle_errors() -> None:
    for cls in (BundleMissing, BundleTruncated, BundleCorrupted, BundleUndecodable):
        assert issubclass(cls, BundleError)


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
