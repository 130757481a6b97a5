"""Run the fake Paperspace API until interrupted: ``python -m tests.fakes.paperspace --port 8080``.

It prints the environment to export so that the SDK (and ``grt run --provider gradient``) talks to
it. Notebooks really run their commands on this machine, in ``--workdir`` (default: a temporary
folder removed on exit).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from .faults import Faults
from .server import FakePaperspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.paperspace", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="API port (CONFIG_HOST); 0: any")
    parser.add_argument("--log-port", type=int, default=0, help="logs port (CONFIG_LOG_HOST)")
    parser.add_argument("--metrics-port", type=int, default=0, help="HTTPS metrics port")
    parser.add_argument("--workdir", type=Path, help="keep notebook folders here")
    parser.add_argument("--api-key", help="accept only this API key (default: any)")
    parser.add_argument("--start-delay", type=float, default=2.0, help="seconds to start")
    parser.add_argument(
        "--hour-seconds",
        type=float,
        default=3600.0,
        help="real seconds per hour of shutdownTimeout",
    )
    parser.add_argument("--stop-grace", type=float, default=5.0, help="SIGTERM..SIGKILL seconds")
    parser.add_argument(
        "--no-capacity",
        action="append",
        default=[],
        metavar="MACHINE",
        help="machine type that is out of capacity (repeatable; * for all)",
    )
    parser.add_argument("--running-limit", type=int, help="team plan's running notebook limit")
    parser.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        help="take wording, states and log caps from a `grt doctor --probe` report",
    )
    parser.add_argument(
        "--repository",
        action="append",
        default=[],
        metavar="URL=PATH",
        help="serve this workspace URL from a local folder or git repository (repeatable)",
    )
    args = parser.parse_args(argv)
    repositories = {}
    for item in args.repository:
        url, sep, path = item.partition("=")
        if not sep or not Path(path).is_dir():
            parser.error(f"--repository: {item!r} is not URL=PATH with an existing folder")
        repositories[url] = Path(path).resolve()

    if args.replay is not None and not args.replay.is_file():
        parser.error(f"--replay: {str(args.replay)!r} is not a file")
    faults = Faults(
        start_delay_s=args.start_delay,
        capacity_machines=set(args.no_capacity),
        running_limit=args.running_limit,
    )
    try:
        fake = make_fake(args, faults)
    except ValueError as exc:  # a replay file that is not a probe report
        parser.error(f"--replay: {exc}")
    fake.repositories.update(repositories)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with fake:
        for key, value in fake.env().items():
            print(f"export {key}={value}", flush=True)
        print(
            f"# fake Paperspace API running; notebooks in {fake.workdir}; Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0


def make_fake(args: argparse.Namespace, faults: Faults) -> FakePaperspace:
    return FakePaperspace(
        faults=faults,
        api_key=args.api_key,
        workdir=args.workdir,
        hour_s=args.hour_seconds,
        stop_grace_s=args.stop_grace,
        port=args.port,
        log_port=args.log_port,
        metrics_port=args.metrics_port,
        replay=args.replay,
    )


if __name__ == "__main__":
    raise SystemExit(main())
