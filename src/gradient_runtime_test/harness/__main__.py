"""Command line: ``python3 grt-harness.pyz --spec-fd 0 [--end-tree PID] [--remove DIR]``.

The notebook command's bootstrap starts the harness with the spec on a pipe (``--spec-fd``), read
to its end, which comes when the bootstrap has ``exec``ed Jupyter: from then on no process's
command line or environment holds the spec or its nonce (docs/harness-protocol.md, "Delivery").
``--spec-file PATH`` is for tests and runs by hand.

Exit status: 0 when a bundle was printed (whatever the tests say), 2 for an unusable spec,
3 when the harness itself crashed (a bundle with a ``harness/internal`` error is still printed
whenever possible).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import traceback
from typing import Any, Callable, Dict, List, Mapping, Optional

from . import HARNESS_VERSION, lockdown, protocol, tree
from .bundle import encode_lines, write_lines
from .capping import fit_bundle
from .model import Recorder
from .protocol import NONCE, Caps, Keep, Result, Status, unpack_spec
from .run import build_payload, end_notebook, run, stderr_log, utc_now
from .spec import SpecError, parse_spec, peek_bundle_id

EXIT_OK = 0
EXIT_SPEC = 2
EXIT_CRASH = 3


@dataclasses.dataclass(frozen=True)
class Effects:
    """What the harness does to its own process and to the processes below it (in-process tests
    replace both: locking down a test runner, or killing its children, would harm the tests)."""

    lock_down: Callable[[], Dict[str, bool]] = lockdown.lock_down
    end_leftovers: Callable[[], int] = tree.end_leftovers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grt-harness", description="Test this runtime and print a result bundle on stdout."
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--spec-fd", type=int, metavar="FD", help="read the spec (protocol.pack_spec) from FD"
    )
    source.add_argument("--spec-file", metavar="PATH", help="the spec as a JSON file (tests)")
    parser.add_argument(
        "--end-tree",
        type=int,
        metavar="PID",
        help="after the bundle, end PID and every process below it, unless the keep policy "
        "says to keep the notebook",
    )
    parser.add_argument(
        "--remove", metavar="DIR", help="a folder to remove when done (the archive's own)"
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "nbclient", "nbconvert"),
        default="auto",
        help="how to execute notebooks (default: nbclient when importable, else nbconvert)",
    )
    return parser


def _read_fd(fd: int) -> bytes:
    """Everything on ``fd`` up to its end; then the descriptor is closed (a standard one is
    pointed at /dev/null), so that nothing is left to read the spec through."""
    parts = []
    try:
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            parts.append(data)
    finally:
        os.close(fd)
        if fd <= 2:
            null = os.open(os.devnull, os.O_RDONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    return b"".join(parts)


def _load(args: argparse.Namespace) -> Any:
    if args.spec_fd is not None:
        try:
            return unpack_spec(_read_fd(args.spec_fd))
        except (OSError, ValueError) as exc:
            raise SpecError(["--spec-fd %d: %s" % (args.spec_fd, exc)]) from None
    try:
        with open(args.spec_file, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise SpecError(["--spec-file %s: %s" % (args.spec_file, exc)]) from None


def _peek_nonce(raw: Any) -> str:
    value = raw.get("nonce") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and NONCE.match(value) else ""


def emit(payload: Any, bundle_id: str, key: str, bundle_chars: int) -> None:
    """Print the bundle; if that fails, print one carrying the failure instead."""
    try:
        fit_bundle(payload, bundle_chars)
        lines = encode_lines(payload, bundle_id, key)
    except Exception:
        stderr_log("could not encode the payload:\n" + traceback.format_exc())
        crash = Result(
            "harness/internal", Status.ERROR, "could not encode the payload", traceback.format_exc()
        )
        minimal = protocol.payload(
            bundle_id=bundle_id,
            harness_version=HARNESS_VERSION,
            started_at=str(payload.get("started_at", "")),
            finished_at=str(payload.get("finished_at", "")),
            tests=[crash],
        )
        lines = encode_lines(minimal, bundle_id, key)
    sys.stdout.flush()
    write_lines(lines, sys.stdout.fileno())


def main(
    argv: Optional[List[str]] = None,
    *,
    runner: Callable[..., None] = run,
    environ: Optional[Mapping[str, str]] = None,
    effects: Effects = Effects(),
) -> int:
    """Run the harness; ``runner``, ``environ`` and ``effects`` are there for tests."""
    args = _parser().parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    started = utc_now()
    recorder = Recorder()
    recorder.environment["lockdown"] = effects.lock_down()  # before the spec is read
    raw: Any = None
    try:
        raw = _load(args)
        spec = parse_spec(raw)
    except SpecError as exc:
        return _spec_failed(args, exc, raw, recorder, started)

    code = EXIT_OK
    try:
        runner(spec, env, recorder, engine_name=args.engine)
    except BaseException as exc:  # whatever broke, the bundle must still go out
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            raise
        details = traceback.format_exc()
        stderr_log("internal error:\n" + details)
        recorder.add(
            Result("harness/internal", Status.ERROR, "%s: %s" % (type(exc).__name__, exc), details)
        )
        code = EXIT_CRASH
    _end_leftovers(effects)
    payload = build_payload(spec.bundle_id, recorder, started, utc_now())
    emit(payload, spec.bundle_id, spec.nonce, spec.caps.bundle_chars)
    _finish(args, spec.keep, recorder.any_failed, spec.end_delay_s)
    return code


def _spec_failed(
    args: argparse.Namespace, exc: SpecError, raw: Any, recorder: Recorder, started: str
) -> int:
    """An unusable spec: a bundle saying so, whenever the bundle id can be read."""
    stderr_log(str(exc))
    bundle_id = exc.bundle_id or peek_bundle_id(raw)
    if bundle_id is None:
        stderr_log("no usable bundle_id in the spec: no bundle printed")
        _finish(args, Keep.NEVER, True, protocol.Spec.end_delay_s)
        return EXIT_SPEC
    recorder.add(Result("harness/spec", Status.ERROR, "invalid spec", "\n".join(exc.problems)))
    payload = build_payload(bundle_id, recorder, started, utc_now())
    emit(payload, bundle_id, _peek_nonce(raw), Caps().bundle_chars)
    keep = raw.get("keep") if isinstance(raw, dict) else None
    policy = Keep(keep) if keep in [k.value for k in Keep] else Keep.NEVER
    _finish(args, policy, True, protocol.Spec.end_delay_s)
    return EXIT_SPEC


def _end_leftovers(effects: Effects) -> None:
    """The final line comes after every kernel, and whatever notebooks started, is gone."""
    left = effects.end_leftovers()
    if left:
        stderr_log("ended %d process(es) the notebooks left running" % left)


def _finish(args: argparse.Namespace, keep: Keep, failed: bool, delay_s: float) -> None:
    if args.remove:
        shutil.rmtree(args.remove, ignore_errors=True)
    if args.end_tree is not None:
        end_notebook(args.end_tree, keep, failed, delay_s=delay_s)


if __name__ == "__main__":
    sys.exit(main())
