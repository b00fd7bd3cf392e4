"""Which segments a review splits by: the keys asked for, or the low-cardinality ones the data carries.

A segment is a key of ``biz_extra_data`` (whatever the integrator passed to get_token:
a JSON object, or ``k=v&...`` text) or a sessions column.  By default the review looks
at a sample of the period's sessions (up to 20,000 a month; only the choice of keys
comes from it, every count is exact) and keeps the keys with between 2 and
:data:`MAX_VALUES` values that are present in at least :data:`MIN_COVERAGE` of the
sessions, at most :data:`MAX_DEFAULT` of them, most present first.  A key's values are
the ones the sample holds (at most :data:`MAX_VALUES`, the most common, each at most
:data:`MAX_VALUE_CHARS` long); any other value of it counts as "(other)".
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping


import pandas as pd

from ..engines._review import Segment, segment_sample
from ..errors import UsageError
from ..schema import full_schema
from ..engines._review import biz_keys
from ._shown import decoded

__all__ = ["choose_segments", "MAX_VALUES", "MAX_VALUE_CHARS", "MIN_COVERAGE", "MAX_DEFAULT", "COLUMN_CANDIDATES", "REFUSED"]


class _UnknownSegment(UsageError, ValueError):
    """A segment key asked for that names nothing in the period's sessions (a ``ValueError``
    to callers; private: the command line tells it apart, by :data:`REFUSED`, to answer it as a
    usage error)."""


#: What :func:`choose_segments` refuses: ``except REFUSED`` (the command line: a usage error).
REFUSED = (_UnknownSegment,)

MAX_VALUES = 20          # more values than this: not a segment (an id, a branch number)
# A value longer than this is no label (a blob a client put in biz_extra_data): counted under
# "(other)".  Kept, ten values of 100 KB took a review of 360 sessions from 0.28 to 1.37 GB
# (every row of the count frames holds its own copy of its value) and filled the report.
MAX_VALUE_CHARS = 256
MIN_COVERAGE = 0.01      # present in at least 1% of sessions
MAX_DEFAULT = 4
COLUMN_CANDIDATES = ("procedure_type", "liveness_version")
_NOT_SEGMENTS = {"source", "month", "session_id", "fetched_at", "session_time", "biz_extra_data", "extra",
                 "liveness_log", "ext_info"}


def _sample(data, period, columns, engine) -> pd.DataFrame:
    if isinstance(data, Mapping):
        s = data.get("sessions")
        if s is None or s.empty:
            return pd.DataFrame(columns=["biz_extra_data", *columns])
        if "session_time" in s:
            t = s["session_time"]
            s = s[((t >= period.since) & (t < period.until)).to_numpy(dtype=bool)]
        cols = [c for c in ["biz_extra_data", *columns] if c in s.columns]
        s = s[cols]
        return s.sample(n=200_000, random_state=0) if len(s) > 200_000 else s
    return segment_sample(data, since=period.since, until=period.until, columns=list(columns), engine=engine)


# Keys worth counting are named by a random probe of the sample first: a key can only be a
# default segment if it is in 1% of sessions, so in a probe of 2,000 it is expected 20 times
# (fewer than 5: a chance of about 1e-5).  Counting every key of every text instead held one
# counter per distinct key: 20,000 sessions whose biz_extra_data carried 200 keys of their own
# each took the review to 1.8 GB.
_PROBE_TEXTS = 2_000
_PROBE_MIN = 5


def _candidates(texts: pd.Series) -> set[str] | None:
    """The keys of ``biz_extra_data`` present in at least ``_PROBE_MIN`` of a random
    ``_PROBE_TEXTS`` of the texts (None: the sample is no larger than that, every key counts)."""
    if len(texts) <= _PROBE_TEXTS:
        return None
    seen: Counter = Counter()
    for raw in texts.sample(n=_PROBE_TEXTS, random_state=0):
        seen.update(k for k, v in biz_keys(raw).items() if v != "" and k != "")
    return {k for k, n in seen.items() if n >= _PROBE_MIN}


def _value_counts(sample: pd.DataFrame, asked=None) -> dict[tuple[str, str | None], Counter]:
    """(key, column or None) -> Counter of values over the sample.  A key not ``asked`` for
    stops gathering values past ``MAX_VALUES`` + 1 (it cannot be a segment; its count of
    sessions goes on, under ``None``); a value over :data:`MAX_VALUE_CHARS` counts under
    ``None`` too (never kept: "(other)")."""
    out: dict[tuple[str, str | None], Counter] = {}
    if "biz_extra_data" in sample:
        texts = sample["biz_extra_data"].dropna()
        keep = None if asked is not None else _candidates(texts)
        for raw, n in texts.value_counts().items():            # distinct texts only
            keys = biz_keys(raw)
            for k in (keys if keep is None else keep.intersection(keys)) if asked is None else asked:
                v = keys.get(k, "")
                if v == "" or k == "" or asked is None and len(k) > MAX_VALUE_CHARS:
                    continue           # an empty key names nothing; one that long is no label (unless asked)
                c = out.setdefault((k, None), Counter())
                if len(v) > MAX_VALUE_CHARS or asked is None and len(c) > MAX_VALUES and v not in c:
                    v = None                                     # too long, or one more value than a segment has
                c[v] += int(n)
    for c in sample.columns:
        if c == "biz_extra_data":
            continue
        vc = sample[c].dropna().astype("str")
        vc = vc[vc != ""].value_counts()
        got = out[(c, c)] = Counter()
        for k, v in vc.items():
            got[str(k) if len(str(k)) <= MAX_VALUE_CHARS else None] += int(v)
    return out


def choose_segments(data, period, segments=None, *, engine="auto") -> list[Segment]:
    """The segments of a review: ``segments`` (names; ``[]`` for none) or the default choice."""
    if segments is not None and len(segments) == 0:
        return []
    session_columns = set(full_schema("sessions").names) - _NOT_SEGMENTS
    asked = None if segments is None else [str(s) for s in ([segments] if isinstance(segments, str) else segments)]
    if asked is not None and "" in asked:
        raise ValueError("a segment key is a biz_extra_data key or a sessions column, not empty")
    columns = sorted({c for c in (asked or COLUMN_CANDIDATES) if c in session_columns})
    sample = _sample(data, period, columns, engine)
    counts = _value_counts(sample, asked)
    if asked is not None and asked != (asked := _stored_keys(asked, sample, session_columns, counts)):
        counts = _value_counts(sample, asked)
    total = max(len(sample), 1)
    if asked is not None:
        out = []
        for name in dict.fromkeys(asked):
            key = (name, name if name in session_columns else None)
            c = counts.get(key, Counter())
            kept = [v for v, _ in c.most_common() if v is not None][:MAX_VALUES]
            out.append(Segment(name, column=key[1], values=tuple(sorted(kept)), left_out=len(kept) < len(c)))
        _refuse_unknown([s.name for s in out if s.column is None and not counts.get((s.name, None))], sample, period)
        return out
    found = []
    for (name, column), c in counts.items():
        n = sum(c.values())
        if 2 <= len(c) <= MAX_VALUES and n / total >= MIN_COVERAGE:
            kept = tuple(sorted(v for v in c if v is not None))
            found.append((-n, name, Segment(name, column=column, values=kept, left_out=len(kept) < len(c))))
    found.sort(key=lambda x: (x[0], x[1]))
    return [s for *_, s in found[:MAX_DEFAULT]]


def _stored_keys(asked: list[str], sample: pd.DataFrame, session_columns, counts) -> list[str]:
    """``asked`` with each key no session stores as written replaced by the one key the sessions
    store percent-encoded that reads as it (``--segment 名字`` for ``%E5%90%8D%E5%AD%97=...``:
    ``k=v&`` texts are often URL-encoded, and the key is shown decoded, so that is the name an
    analyst types).  Two stored spellings of it are refused, naming both."""
    missing = {decoded(n): n for n in asked if n not in session_columns and not counts.get((n, None))}
    if not missing or "biz_extra_data" not in sample:
        return asked
    forms: dict[str, Counter] = {}
    for raw, n in sample["biz_extra_data"].dropna().value_counts().items():
        for k, v in biz_keys(raw).items():
            if k and v != "" and (name := missing.get(decoded(k))) is not None:
                forms.setdefault(name, Counter())[k] += int(n)
    for name, c in forms.items():
        if len(c) > 1:
            from ._shown import escaped

            raise _UnknownSegment(f"segment {name!r}: the sessions store it as {len(c)} keys "
                                  f"({', '.join(escaped(k) for k, _ in c.most_common(5))}); give the one to count")
    return [next(iter(forms[n])) if n in forms else n for n in asked]


def _refuse_unknown(unknown: list[str], sample: pd.DataFrame, period) -> None:
    """A key asked for that no session of the period carries (a typo, ``--segment chanel``) was
    reported as a segment with no value, its section reading "no comparison in this period":
    refused, naming the keys the sessions do carry.  A period without sessions refuses nothing
    (the report says there is nothing to review)."""
    if not unknown or not len(sample):
        return
    found = Counter()
    if "biz_extra_data" in sample:
        for raw, n in sample["biz_extra_data"].dropna().value_counts().items():
            found.update({k: int(n) for k, v in biz_keys(raw).items() if k and v != ""})
    from ._shown import escaped

    keys = [escaped(k if len(k) <= 60 else k[:60] + "…") for k, _ in found.most_common(12)]
    shown = ", ".join(keys[:10]) + (", …" if len(keys) > 10 else "") if keys else "none"
    # segment values are read from a sample (about 20,000 sessions a month): a key no sampled
    # session carries has no value to count, however rare it is in the rest -- say so
    raise _UnknownSegment(f"segment {', '.join(map(repr, unknown))}: no sessions column and no biz_extra_data key "
                         f"of the {len(sample):,} sessions from {period.since:%Y-%m-%d} to "
                         f"{period.until:%Y-%m-%d} that segment values are read from (a sample on large data); "
                         f"the keys they carry: {shown}")


def describe(seg: Segment) -> str:
    """A segment key and where it comes from, in the current language."""
    from .._i18n import tr
    from ._shown import shown_key

    return tr("segments.from_biz", name=shown_key(seg.name)) if seg.column is None else \
        tr("segments.from_column", name=seg.column)


__all__ += ["describe"]

