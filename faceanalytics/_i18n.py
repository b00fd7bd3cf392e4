"""Words in the reader's language: one message catalogue per language, none in the code.

The catalogues are TOML files, ``faceanalytics/messages/<lang>.toml`` (``en``, ``zh-CN``),
read with the standard library's :mod:`tomllib`.  A message is named by its dotted key
(``headline.sessions``, ``plots.errors.xlabel``) and filled with :meth:`str.format`
placeholders (``{n:,}``), so a translator moves words and placeholders freely; the code
only says which message and with what numbers.  TOML rather than gettext ``.po``: keys
are stable names instead of the English text, placeholders are named, no compile step
or extra dependency, and a translator's glossary sits at the top of the file as plain
comments.

The language is chosen per call by the report (``lang=``) and read here through a
context variable, so plot helpers drawn inside a report speak its language while the
same helpers called from a notebook stay English::

    >>> with language("zh-CN"):
    ...     tr("headline.sessions")
    '会话'

A key missing from a catalogue falls back to English (a test keeps the catalogues'
keys and placeholders equal).
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from pathlib import Path

__all__ = ["LANGS", "DEFAULT_LANG", "normalize_lang", "language", "current_lang", "tr", "tr_or", "tr_list", "has",
           "catalogue", "join"]

LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"
_DIR = Path(__file__).with_name("messages")
_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "english": "en",
            "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "zh-hans-cn": "zh-CN", "chinese": "zh-CN"}
_current: contextvars.ContextVar[str] = contextvars.ContextVar("faceanalytics_lang", default=DEFAULT_LANG)
_registered: dict[str, dict] = {}        # catalogues given in code (tests: a pseudo-locale)


def normalize_lang(lang) -> str:
    """``"zh_CN"``, ``"zh-cn"``, ``"zh"`` -> ``"zh-CN"``; None -> ``"en"``; anything else a ValueError."""
    if lang is None:
        return DEFAULT_LANG
    s = str(lang)
    if s in _registered:
        return s
    key = s.strip().replace("_", "-").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"language must be one of {', '.join(LANGS)}, not {s!r}")


def _flatten(table: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


@functools.lru_cache(maxsize=None)
def _load(lang: str) -> dict:
    import tomllib

    with open(_DIR / f"{lang}.toml", "rb") as f:
        return _flatten(tomllib.load(f))


def catalogue(lang: str) -> dict:
    """Every message of ``lang`` by dotted key (strings, a few lists of strings)."""
    lang = normalize_lang(lang)
    return _registered[lang] if lang in _registered else _load(lang)


def _register(lang: str, messages: dict) -> None:
    """Use ``messages`` (dotted key -> text) as the catalogue of ``lang`` (tests)."""
    _registered[lang] = dict(messages)


def _unregister(lang: str) -> None:
    _registered.pop(lang, None)


@contextlib.contextmanager
def language(lang):
    """Within the block, :func:`tr` answers in ``lang``."""
    token = _current.set(normalize_lang(lang))
    try:
        yield
    finally:
        _current.reset(token)


def current_lang() -> str:
    return _current.get()


def _raw(key: str):
    lang = _current.get()
    cat = catalogue(lang)
    if key in cat:
        return cat[key]
    return _load(DEFAULT_LANG)[key]           # a KeyError here is a missing English message: a bug


def has(key: str) -> bool:
    return key in _load(DEFAULT_LANG) or key in catalogue(_current.get())


def tr(key: str, /, **values) -> str:
    """The message ``key`` in the current language, its placeholders filled from ``values``."""
    return _raw(key).format(**values)


def tr_or(key: str, default, /, **values) -> str:
    """:func:`tr` when the catalogue has ``key`` (a code it names), else ``default`` as text."""
    return tr(key, **values) if has(key) else str(default)


def tr_list(key: str) -> list[str]:
    """A list-valued message (date formats, names in order)."""
    return list(_raw(key))


def join(items, sep: str = "list") -> str:
    """Items joined as the language joins them: ``sep`` is ``"list"`` (", " / "、") or ``"clause"`` ("; " / "；")."""
    return tr(f"sep.{sep}").join(str(x) for x in items)


def placeholders(text) -> set[str]:
    """The placeholder names of a message (for the catalogue tests)."""
    if isinstance(text, list):
        return set().union(*(placeholders(t) for t in text)) if text else set()
    import string

    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}
