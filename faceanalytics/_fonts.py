"""Chinese text in plots: a font that covers it, with no system install and no cache rebuild.

Baidu messages (``活体检测未通过``) and issuing-authority names render as empty
boxes in matplotlib's default font.  :func:`find_cjk_font` looks, in this order, at

1. fonts in matplotlib's font cache (a system font installed before the cache was built);
2. system font files the cache does not know: matplotlib never rescans, so a font installed
   after its cache was built (``apt install fonts-noto-cjk``) used to change nothing.  They
   are added with ``fontManager.addfont``: no cache rebuild, nothing written;
3. the Noto Sans SC that the ``pylopdf-fonts-zh-cn`` dependency ships (SIL OFL), or the
   Noto Sans CJK SC of ``mplfonts`` when that is installed.

The font is set on each text artist (:func:`apply_font`); global rcParams are never
touched.  With none of them, :func:`cjk_label` returns the fallback (the error code) and
warns once.  Nothing here imports matplotlib until a font is asked for.
"""
from __future__ import annotations

import importlib.util
import os
import re
import time
from dataclasses import dataclass

__all__ = ["CJKFont", "find_cjk_font", "has_cjk", "cjk_font", "cjk_label", "apply_font"]

_CJK = re.compile("[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf"
                  "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_PREFERRED = ("Noto Sans CJK SC", "Noto Sans SC", "Noto Serif CJK SC", "Source Han Sans SC",
              "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei",
              "SimHei", "PingFang SC", "Heiti SC", "Hiragino Sans GB", "Sarasa Gothic SC",
              "Droid Sans Fallback", "Arial Unicode MS", "AR PL UMing CN", "AR PL UKai CN",
              "Noto Sans CJK JP", "Noto Sans CJK TC")
_HINTS = ("CJK", "Han Sans", "Han Serif", "WenQuanYi", "YaHei", "Hei", "Song", "Ming", "Kai",
          "Fallback", "Unicode", "Sarasa")
# Simplified forms from Baidu's messages: a Japanese-only or Traditional-only font lacks some.
_SAMPLE = "活体检测未通过人脸验证质量与姓名不匹配图片认证失败"
# (package, font file inside it): found with find_spec, so the package is never imported.
_BUNDLED = (("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf"),
            ("mplfonts", os.path.join("fonts", "NotoSansCJKsc-Regular.otf")))
# None: matplotlib's system font directories and fc-list; tests point it at a folder of their own.
_SYSTEM_FONT_DIRS: list[str] | None = None
_RECHECK_S = 10.0          # a search that found nothing is repeated after this long (a font may be installed meanwhile)

_found: CJKFont | None = None
_missed_at: float | None = None
_warned = False


@dataclass(frozen=True)
class CJKFont:
    """A font that covers Chinese, registered with matplotlib's font manager.

    ``family`` goes to ``Text.set_fontfamily`` / ``FontProperties(family=...)``;
    ``path`` is its file (for ``FontProperties(fname=...)`` or ``FT2Font``); ``origin``
    says where it was found: ``"system"`` (in matplotlib's font cache),
    ``"new system"`` (installed after the cache was built) or ``"bundled"``.
    """

    family: str
    path: str
    origin: str


def has_cjk(text) -> bool:
    return isinstance(text, str) and _CJK.search(text) is not None


def _covers(path: str) -> bool:
    try:
        from matplotlib.ft2font import FT2Font
        font = FT2Font(path)
        return all(font.get_char_index(ord(c)) != 0 for c in _SAMPLE)
    except Exception:  # unreadable font file, collection quirks: not usable
        return False


def _regular_first(entry) -> tuple:
    weight = entry.weight if isinstance(entry.weight, int) else 400
    return entry.style != "normal", abs(weight - 400)


def _pick(entries, vetted: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """``(family, path)`` of the preferred family among ``entries`` whose file covers Chinese.

    Files in ``vetted`` are known to cover it; other families are tried only when
    their name says CJK (opening every font file would cost more than the plot).
    """
    best = {}
    for e in entries:
        if e.name not in best or _regular_first(e) < _regular_first(best[e.name]):
            best[e.name] = e
    names = [n for n in _PREFERRED if n in best]
    names += sorted(n for n in best if n not in _PREFERRED
                    and (best[n].fname in vetted or any(h in n for h in _HINTS)))
    for name in names:
        path = best[name].fname
        if path in vetted or _covers(path):
            return name, path
    return None


def _new_system_fonts(manager) -> list[str]:
    """System font files that cover Chinese and that ``manager`` (its cache) does not know.

    Known means the same file, not an older modification time: dpkg and most installers
    keep the package's file times, which can predate the cache.
    """
    from matplotlib import font_manager

    known = {os.path.realpath(e.fname) for e in manager.ttflist}
    try:
        files = font_manager.findSystemFonts(_SYSTEM_FONT_DIRS)
    except OSError:  # an unreadable font directory: nothing new to add
        return []
    new = sorted({os.path.realpath(f) for f in files} - known)
    return [f for f in new if _covers(f)]


def _register(manager, path: str) -> list:
    """The font manager's entries for ``path``, adding the file first if it has none."""
    entries = [e for e in manager.ttflist if e.fname == path]
    if not entries:
        manager.addfont(path)
        entries = [e for e in manager.ttflist if e.fname == path]
    return entries


def _bundled_paths() -> list[str]:
    paths = []
    for package, name in _BUNDLED:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = os.path.realpath(os.path.join(folder, name))
            if os.path.isfile(path):
                paths.append(path)
    return paths


def _search() -> CJKFont | None:
    from matplotlib import font_manager

    manager = font_manager.fontManager
    bundled = _bundled_paths()
    hit = _pick(manager.ttflist)
    if hit is not None:
        return CJKFont(*hit, "bundled" if hit[1] in bundled else "system")
    new = _new_system_fonts(manager)
    if new:
        entries = [e for path in new for e in _register(manager, path)]
        hit = _pick(entries, vetted=frozenset(new))
        if hit is not None:
            return CJKFont(*hit, "new system")
    for path in bundled:
        if _covers(path):
            hit = _pick(_register(manager, path), vetted=frozenset([path]))
            if hit is not None:
                return CJKFont(*hit, "bundled")
    return None


def find_cjk_font() -> CJKFont | None:
    """A font for Chinese text in figures (family name and file), or None if there is none.

    The first call searches (see the module docstring) and registers the font with
    matplotlib's font manager; later calls return the same font.  Set it on a text
    artist only, e.g. ``ax.set_title(title, fontfamily=[f.family, "DejaVu Sans"])``
    or :func:`apply_font`.
    """
    global _found, _missed_at
    if _found is None and (_missed_at is None or time.monotonic() - _missed_at >= _RECHECK_S):
        _found = _search()
        _missed_at = None if _found is not None else time.monotonic()
    return _found


def _forget() -> None:
    """Search again on the next call (tests; a font manager that was reset)."""
    global _found, _missed_at
    _found = _missed_at = None


def cjk_font() -> str | None:
    """The family name of :func:`find_cjk_font`, or None."""
    font = find_cjk_font()
    return font.family if font is not None else None


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        from ._warn import warn_outside

        warn_outside("no CJK-capable font is installed: Chinese labels are shown as their codes "
                     "(pip install pylopdf-fonts-zh-cn, a dependency of faceanalytics, or install "
                     "a system font such as fonts-noto-cjk)")


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
