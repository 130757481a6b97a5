"""Command line: ``python3 grt-harness.pyz --spec B64 [--end-pid PID]``.

Exit status: 0 when a bundle was printed (whatever the tests say), 2 for an unusable spec,
3 when the harness itself crashed (a bundle with a ``harness/internal`` error is still printed
whenever possible).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any, Callable, List, Mapping, Optional

from . import HARNESS_VERSION, protocol
from .bundle import encode_lines, write_lines
from .capping import fit_bundle
from .model import Recorder
from .protocol import Caps, Keep, Result, Status
from .run import build_payload, end_process, run, stderr_log, utc_now
from .spec import SpecError, decode_spec_arg, parse_spec, peek_bundle_id

EXIT_OK = 0
EXIT_SPEC = 2
EXIT_CRASH = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grt-harness", description="Test this runtime and print a result bundle on stdout."
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--spec", metavar="B64", help="the spec: base64 of UTF-8 JSON")
    source.add_argument("--spec-file", metavar="PATH", help="the spec as a JSON file")
    parser.add_argument(
        "--end-pid",
        type=int,
        metavar="PID",
        help="SIGTERM this process after printing the bundle, unless the keep policy says not to",
    )
    parser.add_argument(
        "--end-delay",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="wait this long after the bundle before ending --end-pid (default: 2)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "nbclient", "nbconvert"),
        default="auto",
        help="how to execute notebooks (default: nbclient when importable, else nbconvert)",
    )
    return parser


def _load(args: argparse.Namespace) -> Any:
    if args.spec is not None:
        return decode_spec_arg(args.spec)
    try:
        with open(args.spec_file, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise SpecError(["--spec-file %s: %s" % (args.spec_file, exc)]) from None


def emit(payload: Any, bundle_id: str, bundle_chars: int) -> None:
    """Print the bundle; if that fails, print one carrying the failure instead."""
    try:
        fit_bundle(payload, bundle_chars)
        lines = encode_lines(payload, bundle_id)
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
        lines = encode_lines(minimal, bundle_id)
    sys.stdout.flush()
    write_lines(lines, sys.stdout.fileno())


def main(
    argv: Optional[List[str]] = None,
    *,
    runner: Callable[..., None] = run,
    environ: Optional[Mapping[str, str]] = None,
) -> int:
    """Run the harness; ``runner`` and ``environ`` are there for tests."""
    args = _parser().parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    started = utc_now()
    recorder = Recorder()
    raw: Any = None
    try:
        raw = _load(args)
        spec = parse_spec(raw)
    except SpecError as exc:
        stderr_log(str(exc))
        bundle_id = exc.bundle_id or peek_bundle_id(raw)
        if bundle_id is None:
            stderr_log("no usable bundle_id in the spec: no bundle printed")
            return EXIT_SPEC
        recorder.add(Result("harness/spec", Status.ERROR, "invalid spec", "\n".join(exc.problems)))
        emit(build_payload(bundle_id, recorder, started, utc_now()), bundle_id, Caps().bundle_chars)
        if args.end_pid is not None:
            keep = raw.get("keep") if isinstance(raw, dict) else None
            policy = Keep(keep) if keep in [k.value for k in Keep] else Keep.NEVER
            end_process(args.end_pid, policy, True, delay_s=args.end_delay)
        return EXIT_SPEC

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
    emit(
        build_payload(spec.bundle_id, recorder, started, utc_now()),
        spec.bundle_id,
        spec.caps.bundle_chars,
    )
    if args.end_pid is not None:
        end_process(args.end_pid, spec.keep, recorder.any_failed, delay_s=args.end_delay)
    return code


if __name__ == "__main__":
    sys.exit(main())
