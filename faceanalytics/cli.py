"""The ``faceanalytics`` command line.

Exit status: 0 when the work ran (bad records are quarantined, not errors),
2 for a usage error, 1 for a system error (disk, permissions, …).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .schema import SOURCES


def _data_dir(s: str):
    """A local folder, or an ``s3://bucket/prefix`` URI kept as text (``Path`` would
    collapse its ``//``)."""
    return s if "://" in s else Path(s)


_DATA_HELP = "data directory: a folder, or s3://bucket/prefix (ingest and rebuild)"


def _date(s: str) -> str:
    """A date or ISO time (``2026-10-01``, ``2026-10-01T08:00Z``), checked, kept as text."""
    import datetime as dt

    try:
        dt.datetime.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or ISO time: {s!r}") from None
    return s


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="faceanalytics", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser("ingest", help="archive and flatten JSONL records into the tables")
    ing.add_argument("files", nargs="+", type=Path, metavar="FILE.jsonl")
    ing.add_argument("--data", required=True, type=_data_dir, help=_DATA_HELP)
    ing.add_argument("--source", choices=SOURCES, help="source of bare payloads (no envelope)")
    ing.add_argument("--keep-pii", action="store_true", help="write ID numbers, names, addresses plain")
    ing.add_argument("--chunk-size", type=int, default=10_000, help=argparse.SUPPRESS)
    # every record through the Python flatteners (benchmarks/bench_ingest.py measures that path)
    ing.add_argument("--python-path", action="store_true", help=argparse.SUPPRESS)

    rb = sub.add_parser("rebuild", help="rebuild every table from the raw archive")
    rb.add_argument("--data", required=True, type=_data_dir, help=_DATA_HELP)
    rb.add_argument("--keep-pii", action="store_true")

    fe = sub.add_parser("fetch", help="fetch results from a provider (or the sandbox)")
    fe.add_argument("what_provider", choices=["megvii-lite", "megvii-liveness", "baidu"],
                    metavar="megvii-lite|megvii-liveness|baidu")
    ids = fe.add_mutually_exclusive_group(required=True)
    ids.add_argument("--ids", type=Path, help="file with one biz_id per line (Megvii)")
    ids.add_argument("--tokens", type=Path, help="file with one verify_token per line (Baidu)")
    fe.add_argument("--what", default="stat,getall,detail",
                    help="Baidu result APIs, comma-separated: stat,getall,detail,simple,media")
    fe.add_argument("--data", required=True, type=_data_dir)
    fe.add_argument("--base-url", help="provider base URL (https://, or http:// on loopback)")
    fe.add_argument("--concurrency", type=int, default=8,
                    help="requests in flight; keep it within your account's limit (default 8)")
    fe.add_argument("--refresh-pending", action="store_true",
                    help="re-poll NOT_STARTED/PROCESSING sessions (never past the 3-call quota)")
    fe.add_argument("--return-image", type=int, default=0, choices=range(5),
                    help="Lite return_image (0 none .. 4 all)")
    fe.add_argument("--keep-pii", action="store_true")
    fe.add_argument("--no-progress", action="store_true")

    # The sandbox parses its own options (see `faceanalytics sandbox --help`); importing it
    # here would slow every other command down.
    sb = sub.add_parser("sandbox", help="serve both providers' protocols on loopback", add_help=False)
    sb.add_argument("sandbox_args", nargs=argparse.REMAINDER)

    rc = sub.add_parser("receive", help="receive notify_url/return_url callbacks (verifies sign)")
    rc.add_argument("--data", required=True, type=_data_dir)
    rc.add_argument("--port", type=int, default=8090)
    rc.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default loopback; put a TLS reverse proxy in front)")
    rc.add_argument("--max-body", type=int, default=1 << 20, help="largest body accepted, bytes")

    dm = sub.add_parser("decrypt-media", help="decrypt a will_file download with MEGVII_API_SECRET")
    dm.add_argument("infile", type=Path, metavar="IN")
    dm.add_argument("outfile", type=Path, metavar="OUT")

    dl = sub.add_parser("download-media",
                        help="download and decrypt the will_file URLs the tables reference")
    dl.add_argument("--data", required=True, type=_data_dir)
    dl.add_argument("--base-url", help="only to check it: will_file URLs are absolute")

    rv = sub.add_parser("review", help="write the review report: one self-contained HTML file")
    rv.add_argument("--data", required=True, type=_data_dir, help=_DATA_HELP)
    rv.add_argument("--out", required=True, type=_data_dir, metavar="REPORT.html")
    rv.add_argument("--since", type=_date, metavar="DATE",
                    help="start of the period (UTC, by session time; default: 30 days before --until)")
    rv.add_argument("--until", type=_date, metavar="DATE",
                    help="end of the period, exclusive (default: the day after the latest session)")

    demo = sub.add_parser("demo", help="run the main job on the sandbox")
    demo.add_argument("--data", type=Path, default=Path("data"))
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sandbox"]:  # its own parser: `faceanalytics sandbox --help`
        from .sandbox import main as sandbox_main

        return sandbox_main(argv[1:]) or 0
    args = _parser().parse_args(argv)
    from ._fs import StorageConfigError

    try:
        return _run(args)
    except StorageConfigError as e:  # e.g. fetch into s3://, or http to a non-loopback endpoint
        print(f"faceanalytics {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"faceanalytics: {e}", file=sys.stderr)
        return 1


def _streaming_memory() -> None:
    """Chunked ingest allocates and frees the same sizes over and over: the system
    allocator hands freed chunks back, Arrow's default mimalloc pool keeps them
    (about a third more peak memory for the same speed, and another ~50 MB with
    fewer glibc arenas; measured by benchmarks/bench_ingest.py)."""
    import ctypes
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    try:  # glibc: two malloc arenas instead of eight per core (the threads share them)
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass
    # Not done: fixing M_MMAP_THRESHOLD at 1 MiB gave ~30 MB less peak at 100k and at 1M
    # payloads alike, but cost ~6% more CPU faulting fresh pages in (bench_ingest.py).


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
                     chunk_size=args.chunk_size, fast=not args.python_path)
        _print_report(rep)
        return 0
    if args.command == "rebuild":
        from .ingest import rebuild

        rep = rebuild(args.data, keep_pii=args.keep_pii)
        _print_report(rep)
        return 0
    if args.command == "fetch":
        return _fetch(args)
    if args.command == "receive":
        from .receive import serve

        return serve(args.data, host=args.host, port=args.port, max_body=args.max_body)
    if args.command == "decrypt-media":
        return _decrypt_media(args)
    if args.command == "download-media":
        from .media import download_will_files

        try:
            rep = download_will_files(args.data, base_url=args.base_url)
        except ValueError as e:
            print(f"faceanalytics download-media: {e}", file=sys.stderr)
            return 2
        print(rep.summary())
        return 0
    if args.command == "review":
        return _review(args)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.data)
    raise AssertionError(args.command)


def _review(args) -> int:
    from .report import review_period, write_report

    if isinstance(args.data, Path) and not args.data.is_dir():
        print(f"faceanalytics review: no such data directory: {args.data}", file=sys.stderr)
        return 2
    try:
        review_period(args.data, args.since, args.until)      # since < until, before any work
    except ValueError as e:
        print(f"faceanalytics review: {e}", file=sys.stderr)
        return 2
    print(write_report(args.data, args.out, since=args.since, until=args.until))
    return 0


def _fetch(args) -> int:
    from .clients import ConfigurationError
    from .fetch import fetch_baidu, fetch_megvii

    if args.concurrency < 1:
        print("faceanalytics fetch: --concurrency must be at least 1", file=sys.stderr)
        return 2
    ids_file = args.ids or args.tokens
    if not ids_file.is_file():
        print(f"faceanalytics fetch: no such file: {ids_file}", file=sys.stderr)
        return 2
    try:
        if args.what_provider == "baidu":
            rep = fetch_baidu(ids_file, args.data, what=args.what, base_url=args.base_url,
                              concurrency=args.concurrency, progress=not args.no_progress,
                              keep_pii=args.keep_pii)
        else:
            rep = fetch_megvii(ids_file, args.data, kind=args.what_provider.split("-", 1)[1],
                               base_url=args.base_url, concurrency=args.concurrency,
                               refresh_pending=args.refresh_pending, return_image=args.return_image,
                               progress=not args.no_progress, keep_pii=args.keep_pii)
    except (ConfigurationError, ValueError) as e:
        print(f"faceanalytics fetch: {e}", file=sys.stderr)
        return 2
    print(f"fetched {rep.fetched}  landed {rep.landed}  quarantined {rep.quarantined}  "
          f"skipped {rep.skipped}  failed {rep.failed}  calls spent {rep.calls}")
    for reason, n in rep.reasons.most_common(8):
        print(f"  {n:>6}  {reason}")
    if rep.fatal:
        print(f"faceanalytics fetch: stopped: {rep.fatal}", file=sys.stderr)
        return 2
    return 0


def _decrypt_media(args) -> int:
    import os

    from ._fs import atomic_write_bytes
    from .media import decrypt_will_file

    secret = os.environ.get("MEGVII_API_SECRET")
    if not secret:
        print("faceanalytics decrypt-media: set MEGVII_API_SECRET (the key is its first 32 "
              "characters)", file=sys.stderr)
        return 2
    if not args.infile.is_file():
        print(f"faceanalytics decrypt-media: no such file: {args.infile}", file=sys.stderr)
        return 2
    try:
        plain = decrypt_will_file(args.infile.read_bytes(), secret)
    except ValueError as e:
        print(f"faceanalytics decrypt-media: {e}", file=sys.stderr)
        return 2
    atomic_write_bytes(args.outfile, plain, mode=0o600)
    print(f"wrote {len(plain)} bytes to {args.outfile}")
    return 0


def _print_report(rep) -> None:
    print(f"read {rep.read}  landed {rep.landed}  quarantined {rep.quarantined}  "
          f"skipped {rep.skipped}  (python path {rep.python_path}: shapes the field spec "
          f"does not describe)")
    for reason, n in sorted(rep.reasons.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  quarantined {n:>6}  {reason}")


if __name__ == "__main__":
    sys.exit(main())
