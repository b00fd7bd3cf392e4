"""The ``faceanalytics`` command line.

Exit status: 0 when the work ran (bad records are quarantined, not errors),
2 for a usage error, 1 for a system error (disk, permissions, …).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .schema import SOURCES


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="faceanalytics", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser("ingest", help="archive and flatten JSONL records into the tables")
    ing.add_argument("files", nargs="+", type=Path, metavar="FILE.jsonl")
    ing.add_argument("--data", required=True, type=Path, help="data directory")
    ing.add_argument("--source", choices=SOURCES, help="source of bare payloads (no envelope)")
    ing.add_argument("--keep-pii", action="store_true", help="write ID numbers, names, addresses plain")
    ing.add_argument("--chunk-size", type=int, default=10_000, help=argparse.SUPPRESS)

    rb = sub.add_parser("rebuild", help="rebuild every table from the raw archive")
    rb.add_argument("--data", required=True, type=Path)
    rb.add_argument("--keep-pii", action="store_true")

    demo = sub.add_parser("demo", help="run the main job on bundled/sandbox data")
    demo.add_argument("--data", type=Path, default=Path("data"))
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"faceanalytics: {e}", file=sys.stderr)
        return 1


def _streaming_memory() -> None:
    """Chunked ingest allocates and frees the same sizes over and over: the system
    allocator hands freed chunks back, Arrow's default mimalloc pool keeps them
    (about a third more peak memory for the same speed, measured by
    benchmarks/bench_ingest.py)."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def _run(args) -> int:
    if args.command in ("ingest", "rebuild", "fetch"):
        _streaming_memory()
    if args.command == "ingest":
        from .ingest import ingest

        missing = [str(f) for f in args.files if not f.is_file()]
        if missing:
            print(f"faceanalytics ingest: no such file: {', '.join(missing)}", file=sys.stderr)
            return 2
        rep = ingest(args.files, args.data, source=args.source, keep_pii=args.keep_pii,
                     chunk_size=args.chunk_size)
        _print_report(rep)
        return 0
    if args.command == "rebuild":
        from .ingest import rebuild

        rep = rebuild(args.data, keep_pii=args.keep_pii)
        _print_report(rep)
        return 0
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.data)
    raise AssertionError(args.command)


def _print_report(rep) -> None:
    print(f"read {rep.read}  landed {rep.landed}  quarantined {rep.quarantined}  "
          f"skipped {rep.skipped}")
    for reason, n in sorted(rep.reasons.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  quarantined {n:>6}  {reason}")


if __name__ == "__main__":
    sys.exit(main())
