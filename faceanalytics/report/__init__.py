"""The review report: one self-contained HTML file for a period, next to the previous one,
and its findings as JSON beside it.

    >>> write_report("data", "report.html", since="2026-04-01", until="2026-10-01")  # doctest: +SKIP
    PosixPath('report.html')                       # and report.findings.json

The period is ``since <= session_time < until`` (UTC, or the time zone ``tz`` given).  Without dates it is the last
30 days up to the latest session in the data, whole days; the baseline is the period
of equal length just before it.

How it is made (each step a module, each output plain data):

1. **summaries** (:mod:`._summary`): a few small count frames, taken where the data
   lives -- DuckDB over the Parquet tables by default, Spark with ``engine="spark"``,
   pandas for tables already in memory; memory stays flat in the number of rows;
2. **findings** (:mod:`._findings`): steps and waves in every rate, pooled and per
   segment, and new reference thresholds, ranked;
3. **sections** (:mod:`._sections`): dicts and lists of text and numbers, every word
   from the message catalogue of the review's language (``lang="en"`` or ``"zh-CN"``;
   ``faceanalytics/messages/``, formatted by :mod:`._text`);
4. **HTML** (:mod:`._render`): a Jinja2 template with autoescape, CSS inline (with a
   print stylesheet), figures as PNG data URIs, no script and no external link; and,
   when asked, **a workbook** (:mod:`._workbook`): the review's tables, one sheet each.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._i18n import LANGS, language, normalize_lang, tr
from ._period import DEFAULT_DAYS, ReviewPeriod, fmt_length, fmt_range, review_period
from ._text import SECTIONS

__all__ = ["write_report", "build_report", "review", "Review", "review_period", "ReviewPeriod", "SECTIONS",
           "DEFAULT_DAYS", "findings_path", "read_labels", "summarize", "LANGS", "EMPTY_PERIOD"]

#: The start of the ``UserWarning`` a review of a period with no session gives (``--since``
#: after the last data): ``warnings.filterwarnings("ignore", EMPTY_PERIOD)`` silences it.
EMPTY_PERIOD = "no sessions in the period "


def summarize(*args, **kwargs):
    """See :func:`faceanalytics.report._summary.summarize`."""
    from ._summary import summarize as _summarize

    return _summarize(*args, **kwargs)


@dataclass
class Review:
    """A computed review: its summaries, findings and sections, ready to render or to read.

    ``findings`` (a list of :class:`~faceanalytics.report._findings.Finding`),
    ``decision_table`` (notebook 02's keep/review table), :meth:`tables` and ``summaries``
    are what a notebook uses; :meth:`html`, :meth:`findings_json` and :meth:`workbook`
    what a file gets.  Every text is in ``lang``; JSON keys, codes and column names are not
    translated.
    """
    summaries: object
    findings: list
    info: dict
    levels: dict
    level_given: bool
    alpha: float
    title: str | None = None
    data_dir: object = None
    labels_table: pd.DataFrame | None = None
    n_labels: int = 0
    n_labels_matched: int = 0
    segments_asked: bool = False
    quality_note: str | None = None
    empty_period: str | None = None     # a period with no session: one line saying so (:func:`_empty_note`)
    lang: str = "en"
    _sections: list | None = field(default=None, repr=False)

    @property
    def period(self) -> ReviewPeriod:
        return self.summaries.period

    @property
    def decision_table(self) -> pd.DataFrame:
        from ._sections import decision_table

        with language(self.lang):
            return decision_table(self.summaries, self.levels, self.findings)

    @property
    def sections(self) -> list[dict]:
        if self._sections is None:
            from ._sections import build_sections

            with language(self.lang):
                self._sections = build_sections(self)
        return self._sections

    def tables(self) -> dict[str, pd.DataFrame]:
        """The review's tables as frames, one per workbook sheet (:mod:`._workbook`):
        ``headline``, ``pass_rates``, ``would_flip``, ``anti_spoofing``, ``errors``,
        ``findings``, ``segments``, ``thresholds``, ``decision``.  Rates are fractions,
        changes of rates fractions too (0.012 = 1.2 points); text columns in ``lang``."""
        from ._workbook import review_tables

        self.sections                               # figure anchors of the findings are set there
        with language(self.lang):
            return review_tables(self)

    def workbook(self) -> bytes:
        """:meth:`tables` as an Excel workbook (xlsx bytes), headers in ``lang``."""
        from ._workbook import workbook_bytes

        tables = self.tables()
        with language(self.lang):
            return workbook_bytes(tables)

    @property
    def empty(self) -> bool:
        """The period holds no session, comparison or quarantined record: the report's
        "no sessions" banner, and nothing else to read."""
        from ._sections import _Builder

        n_cur, _ = _Builder(self).sessions("current")
        ncomp = self.summaries.frame("comparisons")
        has_cur = ncomp is not None and (ncomp["day"] >= self.summaries.since_day).any()
        return n_cur == 0 and not has_cur and self.summaries.quarantine("current").empty

    def findings_frame(self) -> pd.DataFrame:
        """The findings as a DataFrame (one row each, the JSON's fields)."""
        return pd.DataFrame([f.as_json() for f in self.findings])

    def findings_json(self) -> str:
        self.sections                               # figure anchors are set while building sections
        from ._shown import json_text

        return json_text(json.dumps([f.as_json() for f in self.findings], ensure_ascii=False, indent=1,
                                    allow_nan=False))

    def write(self, out, *, xlsx=None) -> Path:
        """Write the report to ``out`` and the findings to ``out``'s ``.findings.json`` (and,
        with ``xlsx``, the workbook there), each atomically; the findings first: a report
        on disk always has its findings beside it."""
        from ..storage.durable import atomic_write_bytes
        from ..storage.paths import data_path

        path = data_path(out)
        _check_outputs(out, xlsx)       # before anything is written (no findings beside nothing)
        text = self.html()
        book = self.workbook() if xlsx is not None else None
        atomic_write_bytes(findings_path(path), self.findings_json().encode("utf-8"), mode=0o644, durable=False)
        if book is not None:
            atomic_write_bytes(data_path(xlsx), book, mode=0o644, durable=False)
        atomic_write_bytes(path, text.encode("utf-8"), mode=0o644, durable=False)
        return path

    def html(self) -> str:
        sections = self.sections
        with language(self.lang):
            return self._html(sections)

    def _html(self, sections) -> str:
        from .. import __version__
        from ._render import render
        from ._sections import _Builder

        p = self.period
        title = self.title or tr("report.title", range=fmt_range(p.since, p.until))
        if not p.default:
            how = tr("report.how.asked")
        elif p.latest is not None:
            how = tr("report.how.default", length=fmt_length(p.length), latest=f"{p.latest:%Y-%m-%d %H:%M}",
                     zone=p.tz or "UTC")
        else:
            how = tr("report.how.default_empty", length=fmt_length(p.length))
        b = _Builder(self)
        n_cur, _ = b.sessions("current")
        n_prev, _ = b.sessions("previous")
        meta = [(tr("report.meta.period"), tr("report.meta.period_text", range=fmt_range(p.since, p.until),
                                              length=fmt_length(p.length), how=how, zone=p.tz or "UTC")),
                (tr("report.meta.compared"), tr("report.meta.compared_text",
                                                range=fmt_range(p.previous_since, p.previous_until),
                                                length=fmt_length(p.length))),
                (tr("report.meta.sessions"), tr("report.meta.sessions_text", current=n_cur, previous=n_prev)),
                (tr("report.meta.level"), b._levels_text())]
        banner = None
        if self.empty:
            banner = tr("report.no_sessions", n=n_prev)
        elif n_cur < 30:
            banner = tr("report.few_sessions", n=n_cur, min_n=30)
        now = _dt.datetime.now(_dt.timezone.utc)
        footer = tr("report.footer", version=__version__, now=f"{now:%Y-%m-%d %H:%M}", data=str(self.data_dir),
                    min_n=30)
        words = {k: tr(f"report.template.{k}") for k in ("section", "figure", "links_open", "links_sep", "links_close")}
        return render(title=title, meta=meta, banner=banner, sections=sections, footer=footer, lang=self.lang,
                      words=words)


def read_labels(path) -> pd.DataFrame:
    """Outcome labels from CSV or Parquet: ``session_id`` and a boolean ``genuine``
    (true/false, 1/0, yes/no); other columns kept (``pai``: species of an attack)."""
    path = Path(path)
    with _readable(path):
        if _is_parquet(path):
            lab = _label_parquet(path)
        else:
            _short_lines(path)
            lab = _label_csv(path)
        lab = _checked_labels(lab, path)
    if lab.empty:      # read as "none of the labelled sessions has a comparison": there were none
        raise _no_labels(path)
    return _once_each(lab.reset_index(drop=True), path)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


@contextlib.contextmanager
def _readable(path: Path):
    """A file that cannot be read as labels (not UTF-8, not Parquet, a broken CSV) as a
    ``ValueError`` naming it; a missing file stays ``FileNotFoundError``."""
    import pyarrow as pa

    try:
        yield
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError, pa.ArrowException) as e:
        if isinstance(e, FileNotFoundError):
            raise
        kind = "Parquet" if _is_parquet(path) else "UTF-8 CSV"
        raise ValueError(f"{path}: not a readable {kind} file of labels ({type(e).__name__})") from None


def _no_labels(path) -> ValueError:
    return ValueError(f"{path}: no labels: no row has a session_id and a genuine value")


def _both_ways(path, n: int, first) -> ValueError:
    return ValueError(f"{path}: {n:,} session(s) labelled both genuine and not, e.g. {str(first)[:60]!r}")


def _checked_labels(lab: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Rows of a labels file (the whole file, or a block of it indexed by row as the file
    numbers them from 0) with ``genuine`` read as a bool (a value that is no yes or no refused,
    naming its row) and ``session_id`` as text; rows without a label left out.  One rule for
    :func:`read_labels` and the review's streamed labels (:func:`stream_labels`)."""
    import numpy as np

    missing = [c for c in ("session_id", "genuine") if c not in lab.columns]
    if missing:
        raise ValueError(f"{path}: labels need column(s) {', '.join(missing)}; found {', '.join(map(str, lab.columns))}")
    g = lab["genuine"]
    if g.dtype != bool:
        from ..analytics._labels import GENUINE_TEXT

        codes, texts = pd.factorize(g.astype("str"))     # a few distinct texts: each read once
        read = [GENUINE_TEXT.get(str(t).strip().lower()) for t in texts]
        yes, known = (np.array([f(v) for v in read] + [False]) for f in (lambda v: v is True, lambda v: v is not None))
        bad = (codes >= 0) & ~known[codes]                   # a value (not missing) that is no yes or no
        if bad.any():
            i = int(np.argmax(bad))
            row = int(g.index[i]) + (1 if _is_parquet(path) else 2)  # CSV: the header
            raise ValueError(f"{path}: genuine must be true/false (or 1/0, yes/no); row {row} has "
                             f"{str(g.iloc[i])[:40]!r}")
        lab = lab.assign(genuine=pd.arrays.BooleanArray(yes[codes], ~known[codes]))
        del codes, bad
    try:
        lab = lab.assign(session_id=lab["session_id"].astype("str"))
    except UnicodeDecodeError:          # a Parquet binary column: bytes that are not text
        raise ValueError(f"{path}: session_id holds bytes that are not UTF-8 text") from None
    return lab[lab["genuine"].notna()]


def _once_each(lab: pd.DataFrame, path) -> pd.DataFrame:
    """Each session's first row: a session labelled twice the same way counts once; both ways
    is a question for whoever labelled it (refused, naming the first such id in order).  The ids
    are sorted by pyarrow, not hashed by pandas, which holds each as a Python string (2,000,000
    labels: 0.37 GB and 4 s for ``duplicated`` alone)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(lab)
    if n < 2:
        return lab
    sid = pa.array(lab["session_id"], pa.string())
    sid = sid.combine_chunks() if isinstance(sid, pa.ChunkedArray) else sid
    # stable: each id's rows in file order (ids without one last)
    order = pc.sort_indices(pa.table({"s": sid, "r": np.arange(n)}),
                            sort_keys=[("s", "ascending"), ("r", "ascending")]).to_numpy()
    s = sid.take(order)
    del sid
    start = np.ones(n, dtype=bool)
    start[1:] = pc.not_equal(s[1:], s[:-1]).fill_null(False).to_numpy(zero_copy_only=False)
    valid = s.is_valid().to_numpy(zero_copy_only=False)
    start &= valid
    if not valid.all():                                  # the rows without an id: one group, kept as one row
        start[int(np.argmin(valid))] = True
    first = np.flatnonzero(start)
    g = lab["genuine"].to_numpy(dtype=bool, na_value=False)[order]
    both = np.logical_or.reduceat(g, first) & ~np.logical_and.reduceat(g, first) & valid[first]
    if both.any():
        raise _both_ways(path, int(both.sum()), s[int(first[np.argmax(both)])])
    return lab.iloc[np.sort(order[first])].reset_index(drop=True)


def _label_csv(path: Path) -> pd.DataFrame:
    """A labels CSV as spreadsheets and scripts write it: UTF-8 (BOM or not) or UTF-16 with a
    BOM (Excel's "Unicode text"); comma, tab or semicolon separated (the header says which);
    header names trimmed and matched without case (``Session_ID``, `` genuine``).  A file of
    just ``session_id`` and ``genuine`` is read line by line, the id being everything but the
    flag: a Megvii biz_id holds a comma (``<unix time>,<uuid>``) that a script writing
    ``f"{id},{flag}"`` leaves unquoted, which the CSV parser refused.  Such a file is read a
    line at a time and a row repeated is kept once (with the number of its first row): the
    file's text, a list of its lines and one of its rows took 1.58 GB for 32 MB of ``a,1``
    rows (49 times the file), 1.27 GB for 98 MB of real biz_ids; its lines are now read by
    pyarrow as one column of text, split and deduplicated there (a dict of Python tuples
    held 2,000,000 labels at 1.2 GB: ``benchmarks/probe_review_hostile.py``)."""
    import io

    utf16, sep, names = _csv_layout(path)
    if _two(sep, names):
        return _two_columns(path, utf16, id_first=names[0] == "session_id")
    text = path.read_text(encoding="utf-16" if utf16 else "utf-8-sig")
    return pd.read_csv(io.StringIO(text), **_csv_options(sep, names))


def _csv_layout(path: Path) -> tuple[bool, str, list[str]]:
    """(UTF-16, separator, column names) of a labels CSV."""
    with open(path, "rb") as f:
        utf16 = f.read(2) in (b"\xff\xfe", b"\xfe\xff")
    with open(path, encoding="utf-16" if utf16 else "utf-8-sig") as f:
        first = next((ln.rstrip("\r\n") for ln in f if ln.strip()), None)
    if first is None:
        raise ValueError(f"{path}: empty: no header (session_id, genuine) and no labels")
    sep = "\t" if "\t" in first else ";" if ";" in first and "," not in first else ","
    names = [c.strip().strip('"').strip() for c in first.split(sep)]
    names = [c.lower() if c.lower() in ("session_id", "genuine") else c for c in names]
    return utf16, sep, names


def _two(sep: str, names: list[str]) -> bool:
    return sep == "," and sorted(names) == ["genuine", "session_id"]


def _csv_options(sep: str, names: list[str]) -> dict:
    return dict(sep=sep, names=names, header=0, dtype={"session_id": "str"}, keep_default_na=True,
                skipinitialspace=True)


def _two_columns(path: Path, utf16: bool, *, id_first: bool) -> pd.DataFrame:
    """A ``session_id,genuine`` file (or ``genuine,session_id``) read by
    :func:`_two_column_blocks`; a row repeated within a block of the file kept once, indexed
    by its first row (0: the first after the header)."""
    import pyarrow as pa

    blocks = [t.group_by(["session_id", "genuine"], use_threads=False).aggregate([("row", "min")])
              .sort_by("row_min") for t in _two_column_blocks(path, utf16, id_first=id_first)]
    if not blocks:
        return pd.DataFrame({"session_id": pd.Series(dtype="str"), "genuine": pd.Series(dtype="str")})
    t = pa.concat_tables(blocks)
    del blocks
    return pd.DataFrame({"session_id": pd.Series(t.column("session_id"), dtype="str"),
                         "genuine": pd.Series(t.column("genuine"), dtype="str")}
                        ).set_axis(pd.Index(t.column("row_min").to_numpy(), dtype="int64"))


def _two_column_blocks(path: Path, utf16: bool, *, id_first: bool):
    """The rows of a ``session_id,genuine`` file (or ``genuine,session_id``), a block of the
    file at a time, as Arrow tables (``session_id``, ``genuine``, ``row``: 0 for the first row
    after the header): the id is everything but the flag, each half trimmed of spaces and
    quotes; blank lines skipped."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    def half(parts, name):
        x = pc.utf8_trim_whitespace(pc.utf8_trim(pc.utf8_trim_whitespace(pc.struct_field(parts, name)), '"'))
        return pc.if_else(pc.equal(x, ""), pa.scalar(None, pa.string()), x)

    split = r"^(?:(?P<a>.*),)?(?P<b>[^,]*)$" if id_first else r"^(?P<a>[^,]*)(?:,(?P<b>.*))?$"
    header, n = True, 0
    try:     # every line one field (a unit separator for a delimiter, no quoting), a block at a time
        reader = pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(column_names=["line"], encoding="utf-16" if utf16 else "utf8",
                                                 block_size=4 << 20),
            parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False, escape_char=False),
            convert_options=pacsv.ConvertOptions(column_types={"line": pa.string()}))
        for batch in reader:
            lines = batch.column(0)
            lines = lines.filter(pc.not_equal(pc.utf8_trim_whitespace(lines), ""))
            if header and len(lines):
                lines, header = lines[1:], False
            parts = pc.extract_regex(lines, split)
            a, b = half(parts, "a"), half(parts, "b")
            yield pa.table({"session_id": a if id_first else b, "genuine": b if id_first else a,
                            "row": pa.array(np.arange(n, n + len(a), dtype=np.int64))})
            n += len(a)
    except pa.ArrowInvalid as e:
        if "UTF8" in str(e):
            raise UnicodeDecodeError("utf-8", b"", 0, 1, "not UTF-8") from None
        raise


LABEL_LINE = 64 << 10     # bytes: a labels line is an id, a flag and a few notes
LABEL_ROWS_FREE = 1 << 20   # rows a labels Parquet file may hold whatever its size (~100 MB in memory)
LABEL_ROW_BYTES = 2         # else, bytes of file per row at least: an id is 16+ random characters


def _label_parquet(path: Path) -> pd.DataFrame:
    """A labels Parquet file, its row count read from the footer first: 20,000,000 copies of
    one row compress to 175 KB and took 1.9 GB to read (a few more, the machine's memory).
    A file of real ids (a biz_id's UUID, a verify_token's 16+ random characters) holds
    more than :data:`LABEL_ROW_BYTES` per row, so a file with more rows than that allows
    (beyond :data:`LABEL_ROWS_FREE`) is refused before a row is read."""
    _parquet_footer(path)
    return pd.read_parquet(path)


def _parquet_footer(path: Path):
    """The labels Parquet file opened, refused when its footer counts more rows than its
    bytes can hold (:func:`_label_parquet`)."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    rows, size = f.metadata.num_rows, path.stat().st_size
    if rows > LABEL_ROWS_FREE and rows * LABEL_ROW_BYTES > size:
        raise ValueError(f"{path}: {rows:,} rows in {size:,} bytes: repeated or generated rows, not labels (a "
                         f"real session id and its flag take over {LABEL_ROW_BYTES} bytes however compressed)")
    return f


def _short_lines(path: Path, block: int = 8 << 20) -> None:
    """Refuse a CSV with a line over :data:`LABEL_LINE` before pandas reads it: its parser
    holds a field many times over (one 50 MB "id" peaked at 868 MB), and no id is that long.
    Read in blocks, so the check itself holds one block."""
    import numpy as np

    run, line = 0, 1                         # bytes since the last newline, and its line number
    with open(path, "rb") as f:
        while chunk := f.read(block):
            nl = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
            if len(nl):
                gaps = np.diff(nl, prepend=-1) - 1
                gaps[0] += run
                i = int(np.argmax(gaps))
                if gaps[i] > LABEL_LINE:
                    raise ValueError(f"{path}: line {line + i:,} is over {LABEL_LINE:,} bytes: not a labels file")
                line += len(nl)
                run = len(chunk) - int(nl[-1]) - 1
            else:
                run += len(chunk)
            if run > LABEL_LINE:
                raise ValueError(f"{path}: line {line:,} is over {LABEL_LINE:,} bytes: not a labels file")


def _label_blocks(path: Path):
    """A labels file a block at a time, each a frame indexed by row as :func:`read_labels`
    numbers them (from 0 after a CSV's header), at least one (empty) with the file's columns:
    what :func:`stream_labels` reads in place of the whole file."""
    import pyarrow as pa

    from ..engines._labels import BLOCK_ROWS

    if _is_parquet(path):
        f, n = _parquet_footer(path), 0
        for batch in f.iter_batches(batch_size=BLOCK_ROWS):
            yield pa.Table.from_batches([batch]).to_pandas().set_axis(pd.RangeIndex(n, n + batch.num_rows))
            n += batch.num_rows
        if not n:
            yield f.schema_arrow.empty_table().to_pandas()
        return
    _short_lines(path)
    utf16, sep, names = _csv_layout(path)
    if _two(sep, names):
        any_block = False
        for t in _two_column_blocks(path, utf16, id_first=names[0] == "session_id"):
            any_block = True
            yield pd.DataFrame({"session_id": pd.Series(t.column("session_id"), dtype="str"),
                                "genuine": pd.Series(t.column("genuine"), dtype="str")}
                               ).set_axis(pd.Index(t.column("row").to_numpy(), dtype="int64"))
        if not any_block:
            yield pd.DataFrame({"session_id": pd.Series(dtype="str"), "genuine": pd.Series(dtype="str")})
        return
    any_block = False
    with pd.read_csv(path, encoding="utf-16" if utf16 else "utf-8-sig", chunksize=BLOCK_ROWS,
                     **_csv_options(sep, names)) as reader:
        for block in reader:
            any_block = True
            yield block
    if not any_block:
        yield pd.DataFrame(columns=names)


def stream_labels(path):
    """A labels file read a block at a time into a temporary Parquet file
    (:class:`~faceanalytics.engines._labels.LabelFile`), each block checked as
    :func:`read_labels` checks the whole file, and the sessions labelled both ways refused as
    it refuses them (DuckDB counts them): the review's labels, in memory flat in their number.
    The caller closes it."""
    from ..engines._labels import LabelFile

    path = Path(path)
    lf = LabelFile(path)
    try:
        with _readable(path):
            for block in _label_blocks(path):
                lf.write(_checked_labels(block, path))
        lf.ids, both, first = lf.finish()
        if not lf.rows:
            raise _no_labels(path)
        if both:
            raise _both_ways(path, both, first)
    except BaseException:
        lf.close()
        raise
    return lf


def review(data, since=None, until=None, *, segments=None, levels=None, labels=None, engine="auto",
           title: str | None = None, alpha: float | None = None, progress=None, lang: str = "en",
           tz=None) -> Review:
    """Compute a review: summaries (where the data lives), findings, sections.

    ``data``: a data directory, or a mapping of table name -> DataFrame already in memory.
    ``segments``: keys to split by (``biz_extra_data`` keys or sessions columns; ``[]`` for
    none; default: chosen from the data).  ``levels``: the level in force, ``"1e-4"`` or
    per comparison kind (``["faceid=1e-5", "1e-4"]``).  ``labels``: a DataFrame or a
    CSV/Parquet path with ``session_id`` and ``genuine`` (adds FAR/FRR per level).
    ``lang``: the language of every text, ``"en"`` or ``"zh-CN"`` (see :data:`LANGS`).
    ``tz``: the time zone whose calendar days and weeks the review counts, and in which
    dates without an offset are read (an IANA name such as ``"Asia/Shanghai"``; default UTC).
    """
    from ._findings import ALPHA, find, parse_levels
    from ._summary import summarize as _summarize

    lang = normalize_lang(lang)
    alpha = ALPHA if alpha is None else alpha
    lv = parse_levels(levels)
    labels = _labels(labels, data)              # before the counting: a bad labels argument costs nothing
    try:
        try:
            s = _summarize(data, since, until, segments=segments, engine=engine, progress=progress, tz=tz)
        except Exception as e:
            _foreign_file_named(data, e)
            raise
        with language(lang):
            findings, info = find(s, levels=lv, alpha=alpha)
            r = Review(summaries=s, findings=findings, info=info, levels=lv, level_given=levels is not None,
                       alpha=alpha, title=title, data_dir=None if isinstance(data, dict) else data,
                       segments_asked=segments is not None, lang=lang)
            r.quality_note = _quality_note(s)
        if labels is not None:
            _add_labels(r, data, labels, engine)
    finally:
        if labels is not None and not isinstance(labels, pd.DataFrame):
            labels.close()                      # a streamed file's temporary copy
    r.empty_period = _empty_note(r, data)
    if r.empty_period is not None:    # the CLI says it on stderr; from Python the report alone said nothing
        from .._warn import warn_outside

        warn_outside(r.empty_period)
    return r


def _empty_note(r: Review, data) -> str | None:
    """One line for a review of an :attr:`~Review.empty` period (None otherwise): the period, and
    where the data's sessions begin and end (``data``: the data directory or frames reviewed).
    Worked out once, by :func:`review` (:attr:`Review.empty_period`)."""
    if not r.empty:
        return None
    from ._period import session_time_range

    p = r.period
    zone = p.tz or "UTC"
    try:
        first, last = session_time_range(data, r.summaries._engine or "auto") if data is not None else (None, None)
    except Exception as e:     # a partition outside the period unreadable: no reason to fail the review
        first = last = None
        where = f"where the data begins and ends could not be read ({type(e).__name__})"
    else:
        where = "the data holds no session time at all"
    if last is not None:
        first, last = first.tz_convert(zone), last.tz_convert(zone)
        where = f"the data's sessions run from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} {zone}"
        if p.since > last:
            where += ", so the data ends before this period begins"
        elif p.until <= first:
            where += ", so the data begins after this period ends"
    with language("en"):
        period = fmt_range(p.since, p.until)
    return f"{EMPTY_PERIOD}{period} ({zone}): {where}; the report only says there is nothing to review"


def _foreign_file_named(data, error: Exception) -> None:
    """A count that failed over a file dropped among the tables (another schema, a type the
    engine cannot compare: DuckDB's ``Binder Error`` or ``Could not convert``, a traceback) is
    a :class:`~faceanalytics.storage.errors.DamagedTable` naming it; any other error is left as
    it is.  Footers only, and only once a count has failed."""
    from ..errors import FaceAnalyticsError
    from ..schema import TABLES
    from ..storage.errors import DamagedTable
    from ..storage.tables import foreign_file

    if isinstance(data, dict) or isinstance(error, FaceAnalyticsError):
        return
    try:
        found = next((f for t in TABLES if (f := foreign_file(data, t)) is not None), None)
    except Exception:               # naming the file is a courtesy; the count's own error stands
        return
    if found is not None:
        why = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise DamagedTable(found, f"not a file of this table: {why}") from error


def _labels(labels, data=None):
    """``labels`` as a frame of labels: a path read by :func:`read_labels` (a review of a data
    directory streams it instead: :func:`stream_labels`); a DataFrame needs
    ``session_id`` and ``genuine`` (a bare ``KeyError: 'session_id'`` after the whole review
    before) and a row with a label (none read "none of the labelled sessions has a comparison");
    anything else (a Series was taken for a path) is a ``TypeError``."""
    import os

    from ..engines._labels import LabelFile

    if labels is None or isinstance(labels, LabelFile):     # (the CLI streams its file first)
        return labels
    if isinstance(labels, (str, os.PathLike)):
        return read_labels(labels) if isinstance(data, dict) else stream_labels(labels)
    if not isinstance(labels, pd.DataFrame):
        raise TypeError(f"labels is a DataFrame (session_id, genuine) or the path of a CSV or Parquet file of "
                        f"them; got {type(labels).__name__}")
    missing = [c for c in ("session_id", "genuine") if c not in labels.columns]
    if missing:
        raise KeyError(f"labels need column(s) {', '.join(missing)}; the frame has "
                       f"{', '.join(map(str, labels.columns))}")
    if not (labels["session_id"].notna() & labels["genuine"].notna()).any():
        raise ValueError("labels: no labels: no row has a session_id and a genuine value")
    return labels


def _quality_note(s) -> str | None:
    dq = s.data_quality()
    if dq.empty:
        return None
    parts = []
    for check in ("quarantined", "no_comparison", "repeated_request_id", "invalid_value",
                  "fetched_after_retention"):
        n = int(dq.loc[dq["check"] == check, "n"].sum())
        if n:
            parts.append(tr(f"report.quality_note.{check}", n=n))
    return tr("report.quality_note.text", parts=tr("sep.clause").join(parts)) if parts else None


def _add_labels(r: Review, data, labels, engine) -> None:
    """FAR and FRR at each level per comparison kind (:attr:`Review.labels_table`).  Labels
    streamed from a file (:func:`stream_labels`) are joined by DuckDB where the data lives,
    only a histogram coming back (:func:`~faceanalytics.engines._labels.labelled_histogram`);
    frames and the other engines join in memory."""
    from .. import analytics as A
    from ..engines._review import labelled_comparisons

    p = r.period
    eng = r.summaries._engine or engine
    if not isinstance(labels, pd.DataFrame):
        from ..engines._api import get_engine
        from ..engines._labels import labelled_histogram
        from ..engines._sql import DuckDBDialect

        if not isinstance(data, dict) and isinstance(getattr(get_engine(eng), "dialect", None), DuckDBDialect):
            from ..analytics._labels import error_rates_from_histogram

            hist, r.n_labels_matched = labelled_histogram(data, labels, since=p.since, until=p.until, engine=eng)
            r.n_labels = labels.ids
            rows = [error_rates_from_histogram(hist[(hist["comparison"] == comp).to_numpy()]).assign(comparison=comp)
                    for comp in sorted(hist["comparison"].dropna().unique())]
            r.labels_table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
            return
        labels = labels.frame()
    lab = labels
    if isinstance(data, dict):
        c = data.get("comparisons")
        if c is None or c.empty:                    # checked by summarize() when it has rows
            c = pd.DataFrame({"session_id": pd.Series(dtype="str"), "comparison": pd.Series(dtype="str"),
                              "session_time": pd.Series(dtype="datetime64[us, UTC]")})
        ses = data.get("sessions")
        if ses is not None and len(ses) and len(c):     # the rule the counts follow (analytics.place_untimed)
            from ..analytics._core import place_untimed

            c = place_untimed(c, ses)
        t = c["session_time"]
        c = c[((t >= p.since) & (t < p.until)).to_numpy()]
        c = c[c["session_id"].isin(set(lab["session_id"]))]
    else:
        c = labelled_comparisons(data, lab, since=p.since, until=p.until, engine=eng)
    r.n_labels = int(lab["session_id"].nunique())
    r.n_labels_matched = int(c["session_id"].nunique()) if len(c) else 0
    lab = lab[lab["session_id"].isin(c["session_id"].unique())] if len(c) else lab.iloc[:0]   # the labels joined
    rows = []
    for comp in sorted(c["comparison"].dropna().unique()) if len(c) else []:
        t = A.error_rates_at_levels(c, lab[["session_id", "genuine"]], comparison=comp)
        rows.append(t.assign(comparison=comp))
    r.labels_table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def findings_path(out) -> Path:
    """``report.html`` -> ``report.findings.json`` (beside it)."""
    out = Path(out)
    return out.with_name(out.stem + ".findings.json")


def build_report(data_dir, since=None, until=None, *, title: str | None = None, segments=None, levels=None,
                 labels=None, engine="auto", lang: str = "en", tz=None) -> str:
    """The review report for ``since <= session_time < until`` as one HTML string.

    Without dates: the last 30 days up to the latest session in the data (see
    :func:`review_period`), compared with the 30 days before.  ``lang="zh-CN"``: in Chinese.
    """
    return review(data_dir, since, until, title=title, segments=segments, levels=levels, labels=labels,
                  engine=engine, lang=lang, tz=tz).html()


def write_report(data_dir, out, since=None, until=None, *, title: str | None = None, segments=None, levels=None,
                 labels=None, engine="auto", lang: str = "en", xlsx=None, tz=None) -> Path:
    """Write the review report (see :func:`build_report`) to ``out`` and its findings to
    ``out``'s ``.findings.json`` beside it, each atomically; return the report's path.
    ``xlsx``: also write the review's tables to this Excel workbook.  Each file goes into a
    folder that is there (as ``open()`` and ``review --out``): a missing one is refused with
    ``FileNotFoundError`` before the review's work, never made.

    >>> write_report("data", "report.html", lang="zh-CN", xlsx="review.xlsx")   # doctest: +SKIP
    PosixPath('report.html')
    """
    _check_outputs(out, xlsx)           # before the review's work
    return review(data_dir, since, until, title=title, segments=segments, levels=levels, labels=labels,
                  engine=engine, lang=lang, tz=tz).write(out, xlsx=xlsx)


def _check_outputs(out, xlsx) -> None:
    """The report's files to write, as the CLI's ``--out``/``--xlsx`` (one rule:
    :func:`..storage.durable.check_output_file`): a missing folder is refused, not made."""
    from ..storage.durable import check_output_file
    from ..storage.paths import data_path

    check_output_file(data_path(out), "out")
    if xlsx is not None:
        check_output_file(data_path(xlsx), "xlsx")
