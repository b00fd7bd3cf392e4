"""The ``faceanalytics`` command line.

Exit status: 0 when the work ran (bad records are quarantined, not errors),
2 for a usage error, 1 for a system error (disk, permissions, a provider that
could not be reached at all, …), and 3 from ``review --fail-on-findings`` when
the review wrote its files and found something (a scheduled job's alert).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._args import byte_count, port_number
from .errors import UsageError


def _data_dir(s: str):
    """A local folder (resolved as every entry point resolves one: ``~`` expanded), or an
    ``s3://bucket/prefix`` URI kept as text (``Path`` would collapse its ``//``)."""
    from .storage.paths import data_path

    return s if "://" in s else data_path(s)


EXIT_FINDINGS = 3           # review --fail-on-findings: every file written, and the findings list is not empty
_DATA_HELP = "data directory: a folder, or s3://bucket/prefix (ingest and rebuild)"
_KEEP_PII_HELP = "write ID numbers, names, addresses, phone numbers plain (default: masked)"
# Kept here, not imported from .pipeline.fetch: building the parser must stay cheap.
_ID_FILE_HELP = (
    "one id per line (UTF-8, or UTF-16 with a BOM; blank lines and #-comments skipped). If the "
    "first line names the id column (biz_id / verify_token, or --column NAME) the file is read "
    "as a CSV (comma, tab or semicolon; quoted fields as Excel writes them) and that column is "
    "taken; otherwise each whole line is one id, so a biz_id (<unix time>,<id>) keeps its comma. "
    "Lines that cannot be an id are listed and never sent.")


def _file(s: str) -> Path:
    """A local file, ``~`` expanded as ``--data`` is: quoted (``"~/out.mp4"``, or from a script
    or a config), ``decrypt-media IN "~/out.mp4"`` wrote into a folder named ``~`` in the working
    directory, and ``ingest "~/a.jsonl"`` said there was no such file."""
    return Path(s).expanduser()


def _base_url(s: str) -> str:
    """``--base-url``, blanks around it dropped; empty is refused.  ``--base-url "$URL"`` with
    ``URL`` unset fell back to the real provider (MEGVII_BASE_URL, else api.megvii.com): the
    operator meant the sandbox or a stand-in, and the production credentials and quota were
    used instead."""
    if not s.strip():
        raise argparse.ArgumentTypeError("empty (an unset shell variable?); give the URL, or leave "
                                         "--base-url out to use MEGVII_BASE_URL / BAIDU_BASE_URL")
    return s.strip()


def _lang(s: str) -> str:
    from ._i18n import LANGS, normalize_lang

    try:
        return normalize_lang(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(LANGS)}, not {s!r}") from None


def _date(s: str) -> str:
    """A date or ISO time (``2026-10-01``, ``2026-10-01T08:00Z``), checked by the rule every
    entry point uses (:func:`faceanalytics._time.parse_time`), kept as text."""
    from ._time import parse_time

    try:
        parse_time(s, "date")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("date: ")) from None
    return s


def _tz(s: str) -> str | None:
    from ._time import parse_tz

    try:
        return parse_tz(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _what(s: str) -> str:
    """``fetch baidu --what``: at least one API named (``--what ""`` fetched nothing and exited 0).
    Unknown names are refused by fetch, before any call, and each API is asked once there."""
    if not any(w.strip() for w in s.split(",")):
        raise argparse.ArgumentTypeError("name at least one Baidu result API: stat,getall,detail,simple,media")
    return s


class _Once(argparse._StoreAction):
    """An option of :data:`_ONE_PLACE` given twice with two values is refused (exit 2): argparse
    keeps the last, so ``fetch --ids a.txt --ids b.txt`` fetched b's ids only and said nothing of a's,
    and ``--data A --data B`` wrote into B alone.  The same value twice is harmless."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_given", {})
        if self.dest in given and given[self.dest] != values:
            both = "" if self.dest == "base_url" else f" ({given[self.dest]}, {values})"  # a URL may hold a password
            parser.error(f"{'/'.join(self.option_strings)} given twice{both}; it takes one value")
        given[self.dest] = values
        super().__call__(parser, namespace, values, option_string)


# The one-value options naming where records come from, go to, or whom they are asked of.
# The others (--since, --tz, --concurrency, ...) keep argparse's last-wins: a script's
# defaults overridden by a flag added at the end.
_ONE_PLACE = frozenset({"data", "ids", "tokens", "column", "base_url", "source", "out", "xlsx", "labels"})


def _once_each(parser: argparse.ArgumentParser) -> None:
    """Those options, in ``parser`` and its subcommands, refuse a second, different value."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _once_each(sub)
        elif type(action) is argparse._StoreAction and action.option_strings and action.dest in _ONE_PLACE:
            action.__class__ = _Once


def _common(json_summary: bool) -> argparse.ArgumentParser:
    """-q/-v on every command, --json on those that end with a summary."""
    c = argparse.ArgumentParser(add_help=False)
    c.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no detail lines (errors and the result are still printed)")
    c.add_argument("-v", "--verbose", action="count", default=0,
                   help="log what is done to stderr (-vv: debugging detail)")
    if json_summary:
        c.add_argument("--json", action="store_true",
                       help="print the result as one JSON object on stdout (nothing else goes there)")
    return c


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from .schema import SOURCES  # imports pyarrow: not before main() has chosen its allocator

    p = argparse.ArgumentParser(prog="faceanalytics", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"faceanalytics {__version__}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    summary, plain = [_common(True)], [_common(False)]

    ing = sub.add_parser("ingest", help="archive and flatten JSONL records into the tables", parents=summary)
    ing.add_argument("files", nargs="+", type=_file, metavar="FILE.jsonl",
                     help="JSONL files of envelopes or bare payloads, or the tool's own raw archive files "
                          "(DATA/raw/<day>/*.jsonl.zst)")
    ing.add_argument("--data", required=True, type=_data_dir, help=_DATA_HELP)
    ing.add_argument("--source", choices=SOURCES, help="source of bare payloads (no envelope)")
    ing.add_argument("--keep-pii", action="store_true", help=_KEEP_PII_HELP)
    ing.add_argument("--chunk-size", type=int, default=10_000, help=argparse.SUPPRESS)
    # every record through the Python flatteners (benchmarks/bench_ingest.py measures that path)
    ing.add_argument("--python-path", action="store_true", help=argparse.SUPPRESS)

    rb = sub.add_parser("rebuild", help="rebuild every table from the raw archive", parents=summary)
    rb.add_argument("--data", required=True, type=_data_dir, help=_DATA_HELP)
    rb.add_argument("--keep-pii", action="store_true", help=_KEEP_PII_HELP)

    fe = sub.add_parser("fetch", help="fetch results from a provider (or the sandbox)", parents=summary)
    fe.add_argument("what_provider", choices=["megvii-lite", "megvii-liveness", "baidu"],
                    metavar="megvii-lite|megvii-liveness|baidu", help="which provider API to ask")
    ids = fe.add_mutually_exclusive_group(required=True)
    ids.add_argument("--ids", type=_file, help="file of biz_ids (Megvii): " + _ID_FILE_HELP)
    ids.add_argument("--tokens", type=_file, help="file of verify_tokens (Baidu), read the same way")
    fe.add_argument("--column", metavar="NAME",
                    help="read the ids from this column of a CSV whose first line is a header")
    fe.add_argument("--what", type=_what,
                    help="Baidu result APIs, comma-separated: stat,getall,detail,simple,media "
                         "(default stat,getall,detail)")
    fe.add_argument("--data", required=True, type=_data_dir, help="data directory (a local folder: fetch journals "
                    "each answer to disk as it arrives)")
    fe.add_argument("--base-url", type=_base_url, help="provider base URL (https://, or http:// on loopback); "
                    "default: MEGVII_BASE_URL / BAIDU_BASE_URL, else the real provider")
    fe.add_argument("--concurrency", type=int, default=8,
                    help="requests in flight; keep it within your account's limit (default 8)")
    fe.add_argument("--refresh-pending", action="store_true",
                    help="re-poll NOT_STARTED/PROCESSING sessions (never past the 3-call quota)")
    fe.add_argument("--return-image", type=int, choices=range(5),
                    help="Lite return_image (0 none .. 4 all; default 0)")
    fe.add_argument("--keep-pii", action="store_true", help=_KEEP_PII_HELP)
    fe.add_argument("--no-progress", action="store_true", help="no progress bar (as -q)")

    # The sandbox parses its own options (see `faceanalytics sandbox --help`); importing it
    # here would slow every other command down.
    sb = sub.add_parser("sandbox", help="serve both providers' protocols on loopback", add_help=False)
    sb.add_argument("sandbox_args", nargs=argparse.REMAINDER,
                    help="the sandbox's own options (faceanalytics sandbox --help)")

    rc = sub.add_parser("receive", help="receive notify_url/return_url callbacks (verifies sign)", parents=plain)
    rc.add_argument("--data", required=True, type=_data_dir, help="data directory (a local folder)")
    rc.add_argument("--port", type=port_number, default=8090, help="port to listen on (default 8090)")
    rc.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default loopback; put a TLS reverse proxy in front)")
    rc.add_argument("--max-body", type=byte_count(1, 64 << 20), default=64 << 10,
                    help="largest body read, bytes (default 64 KiB: a callback carries no images; at most 64 MiB, "
                         "held in memory while it is judged)")
    rc.add_argument("--rejected-bytes", type=byte_count(0), default=16 << 20,
                    help="disk kept for rejected requests, rotating (default 16 MiB)")

    dm = sub.add_parser("decrypt-media", help="decrypt a will_file download with MEGVII_API_SECRET",
                        parents=summary)
    dm.add_argument("infile", type=_file, metavar="IN", help="the encrypted file as downloaded")
    dm.add_argument("outfile", type=_file, metavar="OUT", help="where to write the decrypted file")

    dl = sub.add_parser("download-media",
                        help="download and decrypt the will_file URLs the tables reference", parents=summary)
    dl.add_argument("--data", required=True, type=_data_dir, help="data directory (a local folder)")
    dl.add_argument("--base-url", type=_base_url, help="the Megvii base URL; only links on its hosts (e.g. "
                    "*.megvii.com; on loopback only its own host and port) are downloaded "
                    "(default: MEGVII_BASE_URL, else the real provider)")
    dl.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                    help="also download from HOST (or every host under .example.com); repeatable")
    dl.add_argument("--max-bytes", type=byte_count(1), default=256 << 20,
                    help="largest file downloaded, bytes (streamed to disk; default 256 MiB)")

    rv = sub.add_parser("review", help="write the review report: one self-contained HTML file", parents=summary,
                        epilog=f"exit status: 0 done, 2 usage error, {EXIT_FINDINGS} done but the findings list "
                               "is not empty (with --fail-on-findings)")
    rv.add_argument("--data", required=True, type=_data_dir, help=_DATA_HELP)
    rv.add_argument("--out", required=True, type=_data_dir, metavar="REPORT.html",
                    help="the report file to write (its findings go beside it as REPORT.findings.json)")
    rv.add_argument("--since", type=_date, metavar="DATE",
                    help="start of the period (by session time, in --tz; default: 30 days before --until)")
    rv.add_argument("--until", type=_date, metavar="DATE",
                    help="end of the period, exclusive (default: the day after the latest session)")
    rv.add_argument("--tz", type=_tz, metavar="ZONE",
                    help="time zone whose calendar days and weeks the review counts, and of dates given "
                         "without an offset (an IANA name such as Asia/Shanghai; default UTC)")
    rv.add_argument("--segment", action="append", metavar="KEY", dest="segments",
                    help="split by this biz_extra_data key or sessions column (repeatable; default: the "
                         "low-cardinality keys the sessions carry)")
    rv.add_argument("--level", action="append", metavar="LEVEL", dest="levels",
                    help="the false-accept level in force, e.g. 1e-4, or per comparison kind, e.g. faceid=1e-5 "
                         "(repeatable; default 1e-4)")
    rv.add_argument("--labels", type=_file, metavar="FILE",
                    help="outcome labels (CSV or Parquet: session_id, genuine): adds FAR/FRR per level")
    rv.add_argument("--engine", choices=["duckdb", "spark", "pandas"], default="duckdb",
                    help="where the counting runs (default duckdb; spark for data past one machine)")
    rv.add_argument("--lang", type=_lang, default="en", metavar="{en,zh-CN}",
                    help="language of the report, its findings' texts and the workbook (default en)")
    rv.add_argument("--xlsx", type=_data_dir, metavar="BOOK.xlsx",
                    help="also write the review's tables to this Excel workbook, one sheet each")
    rv.add_argument("--fail-on-findings", action="store_true",
                    help=f"exit with status {EXIT_FINDINGS} when the findings list is not empty (after writing "
                         "every file), so a scheduled job can alert")

    demo = sub.add_parser("demo", help="run the main job on the sandbox", parents=plain)
    demo.add_argument("--data", type=_data_dir, default=Path("data"), help="data directory (default ./data)")
    _once_each(p)
    return p


class _Usage(UsageError):
    """A usage error: one line on stderr, exit status 2, nothing done."""


# What Ctrl-C leaves behind, said per command (each checked by interrupting it and running it again).
_INTERRUPTED = {
    "ingest": "the chunks landed before Ctrl-C are kept; run the same command again: they are skipped, "
              "the rest land, nothing lands twice",
    "rebuild": "the tables are as they were (a rebuild is built beside them and moved in whole); "
               "run rebuild again",
    "fetch": "every answer received is kept (DATA/raw/journal) and lands on the next run; run the same "
             "command again: only the ids not yet answered are asked",
    "demo": "every answer received is kept (DATA/raw/journal); run demo again to finish",
    "review": "no file is left half-written (each is written whole, then renamed into place)",
    "decrypt-media": "OUT is not written (it is written whole, then renamed into place)",
    "download-media": "files downloaded whole are kept; run the same command again for the rest",
}


def _interrupted(command: str | None) -> int:
    """Ctrl-C: one line saying what was kept (no traceback), exit status 130."""
    kept = _INTERRUPTED.get(command or "")
    print(f"faceanalytics{' ' + command if command else ''}: interrupted" + (f"; {kept}" if kept else ""),
          file=sys.stderr, flush=True)
    return 130


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _main(argv)
    except KeyboardInterrupt:  # also while parsing or importing (pyarrow takes a moment)
        return _interrupted(next((a for a in argv if a in _INTERRUPTED), None))


def _main(argv: list) -> int:
    if argv[:1] == ["sandbox"]:  # its own parser: `faceanalytics sandbox --help`
        from .sandbox import main as sandbox_main

        return sandbox_main(argv[1:]) or 0
    if next((a for a in argv if not a.startswith("-")), None) in _STREAMING:
        from .pipeline._arrow import arrow_with_system_allocator

        arrow_with_system_allocator()  # before anything imports pyarrow
    args = _parser().parse_args(argv)
    _logging(args.verbose)
    from .redact import NotUtf8Secret
    from .storage.errors import DamagedTable, StorageConfigError

    try:
        return _run(args)
    except (_Usage, StorageConfigError, NotUtf8Secret) as e:  # e.g. fetch into s3://, or http to a non-loopback endpoint
        print(f"faceanalytics {args.command}: {_message(e)}", file=sys.stderr)
        return 2
    except DamagedTable as e:  # the tables are derived: rebuild recreates them
        print(f"faceanalytics {args.command}: {_message(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return _interrupted(args.command)
    except OSError as e:
        print(f"faceanalytics {args.command}: {_message(e)}{_DISK_FULL if _disk_full(e) else ''}", file=sys.stderr)
        return 1
    except Exception as e:
        if not _out_of_memory(e):
            raise
        print(f"faceanalytics {args.command}: {_message(str(e).splitlines()[0])}{_OUT_OF_MEMORY}", file=sys.stderr)
        return 1


_OUT_OF_MEMORY = ("; DuckDB counts within a memory limit of its own and spills to disk past it, but not every "
                  "count can: review a shorter period, or count on Spark (--engine spark)")


def _out_of_memory(e: BaseException) -> bool:
    """DuckDB's "Out of Memory Error" (a count past its memory limit that could not spill);
    DuckDB is imported only by the commands that count with it."""
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(e, duckdb.OutOfMemoryException)


def _message(e: BaseException | str) -> str:
    """An error's message (or a reason counted) for the terminal: it may quote the data (a
    biz_extra_data key, a file name) or a provider's answer (an error code, a token endpoint's
    ``error``), so no escape sequence in it reaches the terminal (:func:`report._shown.escaped`)."""
    from .report._shown import escaped

    return escaped(e)


def _reason(text: str) -> str:
    """A counted reason for its one detail line: :func:`_message`, and a line break in it (a
    provider's error code can hold one) shown as ``\\n``, so it cannot print a line of its own."""
    return _message(text).replace("\n", "\\n").replace("\r", "\\r")


# A full disk (or a quota, or a file size limit) mid-run: said so, with what it left.
_DISK_FULL = ("; no room left to write (a full disk, a quota, a file size limit): what was written whole is "
              "kept and nothing half-written is used (each file is renamed into place whole); free some "
              "space and run the same command again to finish")


def _disk_full(e: OSError) -> bool:
    import errno

    return e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _logging(verbose: int) -> None:
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO if verbose == 1 else logging.DEBUG, stream=sys.stderr,
                            format="%(name)s: %(message)s")


# ------------------------------------------------------------------ what every command checks and prints

def _input_file(path: Path, kind: str = "file") -> None:
    """An input file must be a file: a directory is said to be one (not "no such file").
    ``kind``: what the file is (``"labels file"``), for the message."""
    if path.is_dir():
        raise _Usage(f"{path} is a directory, not a {kind}")
    if not path.is_file():
        raise _Usage(f"no such {kind}: {path}" if not path.exists() else f"{path} is not a regular {kind}")


# Files an operator hands to ingest by mistake, by their first bytes: each line of one was
# quarantined as "not valid JSON", exit 0, nothing said of why.  (Zstandard is read: the
# tool's own archive.)
_NOT_JSONL = ((b"\x1f\x8b", "gzip-compressed", "decompress it first: gunzip -k {f}"),
              (b"BZh", "bzip2-compressed", "decompress it first: bunzip2 -k {f}"),
              (b"\xfd7zXZ\x00", "xz-compressed", "decompress it first: unxz -k {f}"),
              (b"PK\x03\x04", "a ZIP archive", "unzip it and give the .jsonl files inside"),
              (b"PAR1", "a Parquet file", "ingest reads JSONL records; load() reads the tables"))


def _jsonl_input(path: Path) -> None:
    """An ingest input is not a compressed file or an archive ingest cannot read."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    for magic, kind, hint in _NOT_JSONL:
        if head.startswith(magic):
            raise _Usage(f"{path} is {kind}, not JSONL; {hint.format(f=path)} (nothing was ingested)")


def _output_file(path, what: str) -> None:
    """A file to write: the rule of :func:`storage.durable.check_output_file`, refused as a usage error."""
    from .storage.durable import check_output_file

    try:
        check_output_file(path, what)
    except OSError as e:
        raise _Usage(str(e)) from None


def _data_arg(data, *, must_exist: bool, local: str | None = None) -> None:
    """``--data``: never a regular file; an existing folder when ``must_exist``; a local folder
    when ``local`` names why (checked before any network use)."""
    if not isinstance(data, Path):
        if local:
            raise _Usage(f"--data must be a local data directory ({local}), not {data}")
        return
    if data.exists() and not data.is_dir():
        raise _Usage(f"--data {data} is a file, not a data directory")
    if must_exist and not data.exists():
        raise _Usage(f"no such data directory: {data}")
    from .storage import DataDir

    inside = DataDir.enclosing(data)
    if inside is not None:
        root, part = inside
        raise _Usage(f"--data {data} is inside the data directory {root} (its {part}/ folder); "
                      f"give --data {root}")


def _progress_wanted(args) -> bool:
    """Progress bars only for a person watching: stderr a terminal, and no -q."""
    return not args.quiet and not getattr(args, "no_progress", False) and sys.stderr.isatty()


def _say(args, text: str) -> None:
    """A detail line: hidden by -q, sent to stderr with --json (stdout holds only the JSON)."""
    if not args.quiet:
        print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout, flush=True)


def _result(args, summary: dict, text: str) -> None:
    """The command's result: ``text`` on stdout, or ``summary`` as one JSON object with --json."""
    if getattr(args, "json", False):
        import json

        print(json.dumps({"command": args.command, **summary}, ensure_ascii=False, default=str))
    else:
        print(text, flush=True)


def _report_dict(rep) -> dict:
    """A report's fields, its counters as plain dicts.  Not ``dataclasses.asdict``: it
    rebuilds a Counter from its (key, count) pairs, counting the pairs, so ``fetch --json``
    died (keys must be str..., not tuple) whenever its report held a reason."""
    import dataclasses

    return {f.name: (dict(v) if isinstance(v := getattr(rep, f.name), dict) else v)
            for f in dataclasses.fields(rep)}


def _print_report(args, rep) -> None:
    left = getattr(rep, "unfinished", ())
    _result(args, _report_dict(rep), f"read {rep.read}  landed {rep.landed}  quarantined {rep.quarantined}  "
                                     f"skipped {rep.skipped}  " + (f"left unfinished {len(left)}  " if left else "")
                                     + f"(python path {rep.python_path}: shapes the field spec does not describe)")
    for reason, n in sorted(rep.reasons.items(), key=lambda kv: -kv[1])[:10]:
        _say(args, f"  quarantined {n:>6}  {_reason(reason)}")
    for where in left:
        _say(args, f"  left unfinished: {_reason(where)} has no newline and is not whole JSON yet (a file still "
                   f"being written?): not read; run ingest again once it is finished")


def _has_tables(data: Path) -> bool:
    from .storage import DataDir

    return next(iter(DataDir.of(data).tables.glob("*/source=*/month=*/part-*.parquet")), None) is not None


# ------------------------------------------------------------------ the commands

_STREAMING = ("ingest", "rebuild", "fetch", "receive")


def _streaming_memory() -> None:
    """Chunked ingest allocates and frees the same sizes over and over: the system
    allocator hands freed chunks back, Arrow's default mimalloc pool keeps them
    (about a third more peak memory for the same speed, and another ~50 MB with
    fewer glibc arenas; measured by benchmarks/bench_ingest.py)."""
    import ctypes
    import os

    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(-8, 2)  # M_ARENA_MAX: two malloc arenas instead of eight per core (the threads share them)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        # M_MMAP_THRESHOLD fixed at 4 MiB: a block that large (a chunk's bytes, its columns)
        # is mapped and unmapped whole.  Left to glibc, the threshold rises to the largest
        # block freed (a chunk, ~18 MB), such blocks then come from the heap, and the heap
        # fragments and grows over a run: 1,000,000 Lite payloads peaked at 423-442 MiB
        # against 336-368 MiB for 100,000, an RSS rising over the first half of the run.
        # Fixed: 326 -> 361 MiB, flat, for 6-9% more CPU near idle (fresh pages faulted
        # in; bench_ingest.py part 5, its RSS trace, and part 2 with --baseline).
        mallopt(-3, 4 << 20)


def _run(args) -> int:
    if args.command in _STREAMING:
        _streaming_memory()
    if args.command == "ingest":
        from .pipeline._arrow import arrow_without_pandas

        arrow_without_pandas()  # this process only ingests: before the flatteners' imports
        from .pipeline.ingest import ingest

        _data_arg(args.data, must_exist=False)
        for f in args.files:
            _input_file(f)
            _jsonl_input(f)
        from .storage.errors import DamagedFile

        try:
            rep = ingest(args.files, args.data, source=args.source, keep_pii=args.keep_pii,
                         chunk_size=args.chunk_size, fast=not args.python_path, progress=_progress_wanted(args))
        except DamagedFile as e:      # a damaged .jsonl.zst: what came before it, and the other files, landed
            _print_report(args, e.report)
            raise _Usage(str(e)) from None
        except ValueError as e:
            raise _Usage(str(e)) from None
        _print_report(args, rep)
        return 0
    if args.command == "rebuild":
        from .storage.archive import RawArchive
        from .pipeline._arrow import arrow_without_pandas

        arrow_without_pandas()
        from .pipeline.ingest import rebuild

        _data_arg(args.data, must_exist=True)
        if not RawArchive(args.data).segments():
            raise _Usage(f"nothing to rebuild: no raw archive in {args.data} (DATA/raw/<day>/*.jsonl.zst)")
        from .storage.errors import DamagedFile

        try:
            rep = rebuild(args.data, keep_pii=args.keep_pii, progress=_progress_wanted(args))
        except DamagedFile as e:      # a damaged raw segment: the tables are left as they were
            print(f"faceanalytics rebuild: {_message(e)}", file=sys.stderr)
            return 1
        _print_report(args, rep)
        return 0
    if args.command == "fetch":
        return _fetch(args)
    if args.command == "receive":
        from .pipeline.receive import serve

        _data_arg(args.data, must_exist=False, local="receive lands each callback on local disk")
        return serve(args.data, host=args.host, port=args.port, max_body=args.max_body,
                     rejected_bytes=args.rejected_bytes)
    if args.command == "decrypt-media":
        return _decrypt_media(args)
    if args.command == "download-media":
        from .pipeline.media import download_will_files

        _data_arg(args.data, must_exist=True, local="the files are written beside the tables")
        try:
            rep = download_will_files(args.data, base_url=args.base_url, max_bytes=args.max_bytes,
                                      allow_hosts=tuple(args.allow_host), progress=_progress_wanted(args))
        except ValueError as e:
            raise _Usage(str(e)) from None
        _say(args, f"links allowed on the hosts of {rep.base_url}"
             + (f" and {', '.join(args.allow_host)}" if args.allow_host else ""))
        _result(args, _report_dict(rep), rep.summary())
        for reason, n in sorted(rep.reasons.items(), key=lambda kv: -kv[1])[:8]:
            _say(args, f"  {n:>6}  {_reason(reason)}")
        return 0
    if args.command == "review":
        return _review(args)
    if args.command == "demo":
        from .demo import run_demo

        _data_arg(args.data, must_exist=False)
        return run_demo(args.data)
    raise AssertionError(args.command)


def _review_files_apart(out, findings, xlsx, labels) -> None:
    """The files review writes are distinct, none is the labels file it reads, and none lands
    inside a data directory's own folders.  ``--out r.html --xlsx r.html`` wrote the workbook
    over the report (exit 0, the path printed twice); ``--xlsx labels.csv`` would write over
    the labels; a report in DATA/tables/ sits among the tables.  Local paths only."""
    import os

    from .storage import DataDir

    named = [(n, p) for n, p in (("--out", out), ("its findings file", findings), ("--xlsx", xlsx),
                                 ("--labels", labels)) if isinstance(p, Path)]
    seen: dict[str, str] = {}
    for name, path in named:
        real = os.path.realpath(path)
        if real in seen:
            raise _Usage(f"{name} {path} is the same file as {seen[real]}; give each its own file")
        seen[real] = name
    for name, path in (("--out", out), ("--xlsx", xlsx)):
        inside = DataDir.enclosing(path) if isinstance(path, Path) else None
        if inside is not None:
            root, part = inside
            raise _Usage(f"{name} {path} is inside the data directory {root} (its {part}/ folder); "
                         f"write it elsewhere, e.g. {Path(root.root) / path.name}")


def _review(args) -> int:
    import warnings

    from .report import EMPTY_PERIOD, stream_labels, findings_path, review, review_period
    from .report._segments import REFUSED
    from .report._findings import parse_levels

    _data_arg(args.data, must_exist=True)
    _output_file(args.out, "--out")
    _output_file(args.xlsx, "--xlsx")
    if args.labels is not None:
        _input_file(args.labels, "labels file")
    _review_files_apart(args.out, findings_path(args.out) if isinstance(args.out, Path) else None,
                        args.xlsx, args.labels)
    if isinstance(args.data, Path) and not _has_tables(args.data):
        raise _Usage(f"nothing to review: {args.data} has no tables yet (run ingest or fetch into it first)")
    labels = None       # a labels file streamed and checked (a temporary copy the review removes)
    try:
        parse_levels(args.levels)
        if args.segments and "" in args.segments:
            raise ValueError("--segment takes a biz_extra_data key or a sessions column, not an empty name")
        labels = stream_labels(args.labels) if args.labels is not None else None
        review_period(args.data, args.since, args.until, tz=args.tz)      # since < until, before any work
    except ValueError as e:
        if labels is not None:
            labels.close()
        raise _Usage(str(e)) from None
    bar = None
    if _progress_wanted(args):
        from tqdm.auto import tqdm

        bar = tqdm(desc="review", unit="step", dynamic_ncols=True)

    def step(name: str) -> None:
        bar.set_postfix_str(name, refresh=False)
        bar.update()


    try:
        with warnings.catch_warnings():     # said below, once, as one line
            warnings.filterwarnings("ignore", EMPTY_PERIOD)
            rv = review(args.data, args.since, args.until, segments=args.segments, levels=args.levels,
                        labels=labels, engine=args.engine, lang=args.lang, tz=args.tz,
                        progress=step if bar is not None else None)
        out = rv.write(args.out, xlsx=args.xlsx)
    except REFUSED as e:          # --segment naming nothing: found once the sessions are sampled
        raise _Usage(f"--{e}") from None
    finally:
        if bar is not None:
            bar.close()
        if labels is not None:
            labels.close()
    empty = rv.empty_period
    if empty is not None:         # exit 0: the report is written, and says so too
        print(f"faceanalytics review: warning: {empty}", file=sys.stderr)
    files = [str(out), str(findings_path(out)), *([str(args.xlsx)] if args.xlsx is not None else [])]
    _result(args, {"report": files[0], "findings": files[1], "xlsx": files[2] if len(files) > 2 else None,
                   "findings_count": len(rv.findings), "empty_period": empty is not None}, "\n".join(files))
    if args.fail_on_findings and rv.findings:
        print(f"faceanalytics review: {len(rv.findings)} finding(s); exit status {EXIT_FINDINGS} "
              "(--fail-on-findings)", file=sys.stderr)
        return EXIT_FINDINGS
    return 0


def _refuse_other_fetch_options(args) -> None:
    """An option of another provider's fetch is refused, not ignored: ``fetch megvii-lite --what
    stat`` fetched get_result as if it were not there (the operator believed they chose what
    was fetched); ``--return-image`` outside Lite and ``--refresh-pending`` for Baidu (which
    asks again for every result that is not final) did nothing either."""
    cmd = args.what_provider
    if args.what is not None and cmd != "baidu":
        raise _Usage(f"--what is for baidu (its result APIs: stat,getall,detail,simple,media); {cmd} asks "
                     f"one result per biz_id: leave --what out")
    if args.return_image is not None and cmd != "megvii-lite":
        raise _Usage(f"--return-image is for megvii-lite (its get_result return_image); {cmd} has no such "
                     f"parameter: leave it out")
    if args.refresh_pending and cmd == "baidu":
        raise _Usage("--refresh-pending is for Megvii (re-poll NOT_STARTED/PROCESSING sessions); fetch baidu "
                     "asks again for every result that is not final already: leave it out")


def _given(**options) -> dict:
    """The options given on the command line (not None): the others keep fetch's own defaults,
    written once, there."""
    return {k: v for k, v in options.items() if v is not None}


def _fetch(args) -> int:
    from .clients import ConfigurationError
    from .pipeline.fetch import MAX_CONCURRENCY, fetch_baidu, fetch_megvii, load_ids

    _refuse_other_fetch_options(args)
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise _Usage(f"--concurrency must be from 1 to {MAX_CONCURRENCY}")
    # before any network use: fetch journals each answer with fsync, which object storage lacks
    _data_arg(args.data, must_exist=False, local="fetch journals each answer to local disk as it arrives")
    ids_file = args.ids or args.tokens
    _input_file(ids_file, "file of ids" if args.ids else "file of tokens")
    from .clients import CLIENTS

    provider = "baidu" if args.what_provider == "baidu" else "megvii"
    try:
        base_url, origin = CLIENTS[provider].resolve_base_url(args.base_url)
    except ValueError as e:      # MEGVII_BASE_URL="" (an unset variable exported): not the real provider
        raise _Usage(str(e)) from None
    shown = {"given": "--base-url", "default": f"default; set {CLIENTS[provider].base_url_env} "
                                              "or --base-url for another"}.get(origin, origin)
    from .redact import redact

    _say(args, f"{args.what_provider}: {redact(base_url)} ({shown})")
    kind = "verify_token" if provider == "baidu" else "biz_id"
    try:
        wanted = load_ids(ids_file, args.column, kind=kind)
    except ValueError as e:
        print(f"faceanalytics fetch: {_message(e)}", file=sys.stderr)
        return 2
    if wanted.rejected:  # before any call
        print(f"faceanalytics fetch: {len(wanted.rejected)} line(s) of {_reason(str(ids_file))} are not a {kind} "
              f"and will not be sent:\n{wanted.describe_rejected()}", file=sys.stderr, flush=True)
    try:
        if args.what_provider == "baidu":
            rep = fetch_baidu(wanted, args.data, **_given(what=args.what), base_url=base_url,
                              concurrency=args.concurrency, progress=_progress_wanted(args),
                              keep_pii=args.keep_pii)
        else:
            rep = fetch_megvii(wanted, args.data, kind=args.what_provider.split("-", 1)[1],
                               base_url=base_url, concurrency=args.concurrency,
                               refresh_pending=args.refresh_pending, **_given(return_image=args.return_image),
                               progress=_progress_wanted(args), keep_pii=args.keep_pii)
    except (ConfigurationError, ValueError) as e:
        print(f"faceanalytics fetch: {_message(e)}", file=sys.stderr)
        return 2
    _result(args, _report_dict(rep), f"fetched {rep.fetched}  landed {rep.landed}  quarantined {rep.quarantined}  "
                                     f"skipped {rep.skipped}  failed {rep.failed}  calls spent {rep.calls}")
    for reason, n in rep.reasons.most_common(8):
        _say(args, f"  {n:>6}  {_reason(reason)}")
    if rep.fatal:
        print(f"faceanalytics fetch: stopped: {_message(rep.fatal)}", file=sys.stderr)
        return 1 if rep.unreachable else 2
    return 0


def _decrypt_media(args) -> int:
    import os
    import shutil

    from .storage.durable import atomic_file
    from .crypto import BLOCK, decrypt_will_file, media_ext
    from .redact import env_secret

    secret = env_secret("MEGVII_API_SECRET")
    if not secret:
        print("faceanalytics decrypt-media: set MEGVII_API_SECRET (the key is its first 32 "
              "characters)", file=sys.stderr)
        return 2
    _input_file(args.infile)
    _output_file(args.outfile, "OUT")
    if args.outfile.exists() and args.outfile.samefile(args.infile):
        # written over, the download (the only copy the provider may still hold) was gone
        raise _Usage(f"OUT {args.outfile} is IN itself; give another file to write (the encrypted "
                     "download is kept as it is)")
    # Only the first block is encrypted: it is decrypted, the rest copied a piece at a time (a file
    # read whole, decrypted and joined took three times its size: 1.6 GB for a 512 MiB file).
    with open(args.infile, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            head = decrypt_will_file(f.read(BLOCK), secret, strip_padding=size <= BLOCK)
        except ValueError as e:
            print(f"faceanalytics decrypt-media: {_message(e)}", file=sys.stderr)
            return 2
        with atomic_file(args.outfile, mode=0o600) as out:
            out.write(head)
            shutil.copyfileobj(f, out, 1 << 20)
            written = out.tell()
    if media_ext(head) is None:
        # AES with the wrong key decrypts to noise without an error: the file was written as
        # if all were well.  Not refused: a container not listed here may be right.
        print(f"faceanalytics decrypt-media: warning: {_reason(str(args.outfile))} does not begin like a video or image "
              f"or audio (MP4/MOV, WebM/MKV, AVI, FLV, MPEG, JPEG, PNG, GIF, WAV, MP3, Ogg): if it does not "
              f"open, MEGVII_API_SECRET is not the secret of the account that made it", file=sys.stderr)
    _result(args, {"out": str(args.outfile), "bytes": written}, f"wrote {written} bytes to {_reason(str(args.outfile))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
