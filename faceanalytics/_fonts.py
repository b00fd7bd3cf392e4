"""Chinese text in plots: a CJK-capable font when one is installed, else the code.

Baidu messages (``活体检测未通过``) and issuing-authority names render as empty
boxes in matplotlib's default font.  :func:`cjk_label` returns the text and a font
family to set *on that text artist only* (global rcParams are never touched); when no
installed font covers CJK it returns the fallback (the error code) and warns once.
"""
from __future__ import annotations

import functools
import re
import sys
import warnings

__all__ = ["has_cjk", "cjk_font", "cjk_label", "apply_font"]

_CJK = re.compile("[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf"
                  "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_PREFERRED = ("Noto Sans CJK SC", "Noto Sans SC", "Noto Serif CJK SC", "Source Han Sans SC",
              "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei",
              "SimHei", "PingFang SC", "Heiti SC", "Hiragino Sans GB", "Sarasa Gothic SC",
              "Droid Sans Fallback", "Arial Unicode MS", "AR PL UMing CN", "AR PL UKai CN",
              "Noto Sans CJK JP", "Noto Sans CJK TC")
_HINTS = ("CJK", "Han Sans", "Han Serif", "WenQuanYi", "YaHei", "Hei", "Song", "Ming", "Kai",
          "Fallback", "Unicode", "Sarasa")
_warned = False


def has_cjk(text) -> bool:
    return isinstance(text, str) and _CJK.search(text) is not None


def _covers(path: str) -> bool:
    try:
        from matplotlib.ft2font import FT2Font
        return FT2Font(path).get_char_index(ord("验")) != 0
    except Exception:  # unreadable font file, collection quirks: not usable
        return False


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font that covers Chinese, or None."""
    from matplotlib import font_manager

    fonts = {}
    for f in font_manager.fontManager.ttflist:
        fonts.setdefault(f.name, f.fname)
    for name in _PREFERRED:
        if name in fonts and _covers(fonts[name]):
            return name
    for name in sorted(fonts):
        if any(h in name for h in _HINTS) and _covers(fonts[name]):
            return name
    return None


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        level, f = 1, sys._getframe(0)          # point the warning at the caller's code
        while f is not None and f.f_globals.get("__name__", "").startswith("faceanalytics"):
            f, level = f.f_back, level + 1
        warnings.warn("no CJK-capable font is installed: Chinese labels are shown as their codes "
                      "(install one, e.g. the fonts-noto-cjk package, to see the messages)",
                      UserWarning, stacklevel=level)


def cjk_label(text: str, fallback: str) -> tuple[str, str | None]:
    """``(label, font family or None)`` for a label that may contain Chinese.

    No CJK in ``text``: ``(text, None)``.  CJK and a font: ``(text, family)``.
    CJK and no font: ``(fallback, None)`` and a one-time warning.
    """
    if not has_cjk(text):
        return text, None
    family = cjk_font()
    if family is not None:
        return text, family
    _warn_once()
    return fallback, None


def apply_font(artist, family: str | None) -> None:
    """Set ``family`` (with DejaVu Sans as the per-glyph fallback) on one text artist."""
    if family is not None:
        artist.set_fontfamily([family, "DejaVu Sans"])
