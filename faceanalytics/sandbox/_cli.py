"""``faceanalytics sandbox``: serve the sandbox until SIGINT/SIGTERM."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .._args import listen_error, port_number
from ._server import Sandbox


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="faceanalytics sandbox",
        description="Serve a local stand-in for Megvii FaceID and Baidu faceprint (127.0.0.1 only).")
    parser.add_argument("--port", type=port_number, default=8800, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated sessions (default 0)")
    parser.add_argument("--n-lite", type=int, default=2000, help="Megvii Lite sessions")
    parser.add_argument("--n-liveness", type=int, default=500, help="Megvii web liveness v2 sessions")
    parser.add_argument("--n-baidu", type=int, default=300, help="Baidu verify_tokens")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added delay of every answer, ms")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="random extra delay up to this, ms")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="in-flight requests allowed per provider (0 = unlimited)")
    parser.add_argument("--fault-500", type=float, default=0.0, help="share of requests answered 500")
    parser.add_argument("--fault-drop", type=float, default=0.0, help="share of connections dropped")
    parser.add_argument("--fault-slow", type=float, default=0.0, help="share of slow answers")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="delay of a slow answer (default 5 s)")
    parser.add_argument("--wild", type=float, default=0.0, metavar="RATE",
                        help="share of sessions answered with shapes seen in the wild but not in "
                             "the documents (numbers as strings, extra or missing fields, ...); "
                             "default 0: the documented shapes only")
    parser.add_argument("--reference-date", metavar="YYYY-MM-DD",
                        help="sessions fall in the --window-days before this day (default: today, UTC)")
    parser.add_argument("--window-days", type=float, default=120.0,
                        help="days the sessions spread over (default 120)")
    parser.add_argument("--ids-out", metavar="FILE_PREFIX",
                        help="write FILE_PREFIX-megvii-lite.txt, -megvii-liveness.txt, -baidu.txt")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Serve with parsed arguments (``build_parser(subparser)`` lets a parent CLI add them)."""
    try:
        sandbox = Sandbox(
            port=args.port, seed=args.seed, n_lite=args.n_lite, n_liveness=args.n_liveness,
            n_baidu=args.n_baidu, latency_ms=args.latency_ms, jitter_ms=args.jitter_ms,
            concurrency=args.concurrency or None, fault_rate_500=args.fault_500,
            fault_rate_drop=args.fault_drop, fault_rate_slow=args.fault_slow,
            slow_seconds=args.slow_seconds, wild=args.wild, reference_date=args.reference_date,
            window_days=args.window_days)
        sandbox.start()
    except (ValueError, OSError) as exc:
        said = listen_error(exc, "127.0.0.1", args.port) if isinstance(exc, OSError) else None
        print(f"faceanalytics sandbox: {said or exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # Fake sandbox credentials: printed on purpose, as lines a shell can `export`.
        for name, value in sandbox.env().items():
            print(f"{name}={value}")
        if args.ids_out:
            for kind, path in sandbox.write_ids_files(args.ids_out).items():
                print(f"# {kind} ids: {path}")
        print(f"# serving on {sandbox.url}; Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sandbox.stop()
    return 0
