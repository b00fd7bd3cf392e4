"""Segment values as a reader sees them, and data-derived text without control bytes.

Deployments often percent-encode the values of a ``k=v&...`` ``biz_extra_data``
(``channel=%E5%BA%94%E7%94%A8``).  The engines count the values as stored (DuckDB's,
Spark's and pandas' readings stay identical, and Spark's ``url_decode`` fails on a bad
escape); only what is *shown* is decoded: a value in which every ``%`` opens a ``%XX``
escape and the whole decodes to UTF-8 (strictly) is shown decoded, ``+`` read as a space
there (form encoding, as :func:`faceanalytics.pipeline.pii._scrub_pairs` reads it); any
other value (no escape, a lone ``%``, bytes that are not UTF-8) as it is.  The rule does
not ask where the value came from: a JSON value or a sessions column is decoded alike.

A key is shown by the same rule (``%E6%B8%A0%E9%81%93=app``: the key 渠道); it is asked for
and counted as stored (``--segment`` names it as the data writes it).

Two values of one key that decode to the same text (``app`` and ``ap%70``) are still two
rows, counted apart; the one whose decoded text is not what it stores is shown with its
stored form beside it (``app (stored as ap%70)``), so no two rows read the same.
"""
from __future__ import annotations

import re
from collections import Counter
from urllib.parse import unquote_plus

__all__ = ["decoded", "value_labels", "segment_labels", "shown", "shown_key", "no_controls", "escaped",
           "json_text"]

_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Bidirectional embeddings, overrides and isolates: an unclosed U+202E in a segment value turned
# the rest of its sentence (a finding's title) backwards, so the text read what it did not say
_BIDI = "\u202a-\u202e\u2066-\u2069"
# C0 controls but tab, newline and carriage return; DEL; and the bidirectional controls
_CONTROLS = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f{_BIDI}]")
# for a terminal: every C0 control but tab and newline, DEL, the C1 controls (ESC and CSI open
# escape sequences: a key of the data that held "\x1b]0;...\x07\x1b[2J" retitled and cleared
# the terminal a refusal was printed to) and the bidirectional ones
_UNPRINTABLE = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")
_BIDI_RE = re.compile(f"[{_BIDI}]")


def decoded(raw):
    """``raw`` with its ``%XX`` escapes decoded, when every ``%`` opens one and the bytes are
    UTF-8; else ``raw`` unchanged (non-text too)."""
    if not isinstance(raw, str) or "%" not in raw:
        return raw
    if raw.count("%") != len(_ESCAPE.findall(raw)):
        return raw                                   # "100%": not an encoded value
    try:
        return unquote_plus(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return raw


def value_labels(values) -> dict:
    """{stored value: text shown} for one key's values: decoded; a decoded text that another
    value also shows keeps the stored form beside it, so distinct values read apart."""
    from .._i18n import tr

    text = {v: decoded(v) for v in values}
    seen = Counter(text.values())
    return {v: t if seen[t] == 1 or t == v else tr("segments.stored_as", value=t, raw=v) for v, t in text.items()}


def segment_labels(segments) -> dict[str, dict]:
    """{key name: :func:`value_labels` of its listed values} for a review's segments."""
    return {s.name: value_labels(s.values) for s in segments}


def shown(labels: dict | None, key, raw):
    """The text shown for ``raw``, a value of segment ``key``: from ``labels``
    (:func:`segment_labels`) when listed there, else :func:`decoded`."""
    got = (labels or {}).get(key, {}).get(raw)
    return decoded(raw) if got is None else got


def shown_key(key):
    """A segment key as shown: :func:`decoded` (a key does not need :func:`value_labels`' stored
    form beside it: two keys of a review that decode alike are rare, and then shown so)."""
    return decoded(key)


def no_controls(value):
    """Text without C0 control characters (tab, newline and CR kept), DEL nor bidirectional
    controls: a NUL or a bell from the data (a segment value, a provider's message) would reach
    the HTML raw -- autoescape leaves them -- and some readers stop or garble there.  Non-text
    as it is."""
    return _CONTROLS.sub("\ufffd", value) if isinstance(value, str) else value


def escaped(text: str) -> str:
    """``text`` for a terminal: each control character (but tab and newline) and bidirectional
    control as its escape (``\\x1b``, ``\\u202e``), the rest as it is (Chinese stays readable)."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def json_text(text: str) -> str:
    """JSON text (``ensure_ascii=False``) with the bidirectional controls escaped as ``\\u202e``
    (JSON escapes the C0 controls itself): a reader showing a finding's title is not turned."""
    return _BIDI_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
