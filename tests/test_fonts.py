"""Chinese text in figures: which font is found where, checked on artists and font files.

Each test hides the machine's own CJK fonts from matplotlib's font manager and points
the "system font directories" at a temp folder, so the outcome does not depend on
what this machine has installed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

from faceanalytics import _fonts
from faceanalytics import analytics as A
from faceanalytics import plots as P
from faceanalytics.sandbox._baidu import _RISK_TAGS, MESSAGES, TOKEN_INVALID_MESSAGE

from _helpers import SEEDS
from test_analytics import _attempts, _sessions

BUNDLED = _fonts._bundled_paths()


@pytest.fixture(scope="module")
def non_cjk_entries():
    return [e for e in font_manager.fontManager.ttflist if not _fonts._covers(e.fname)]


@pytest.fixture
def system_dir(tmp_path):
    return tmp_path / "fonts"


@pytest.fixture
def clean(non_cjk_entries, system_dir, monkeypatch):
    """No CJK font known to the font manager, an empty system font folder, no cache writes."""
    system_dir.mkdir()
    manager = font_manager.fontManager
    saved = manager.ttflist
    manager.ttflist = list(non_cjk_entries)
    manager._findfont_cached.cache_clear()
    monkeypatch.setattr(_fonts, "_SYSTEM_FONT_DIRS", [str(system_dir)])
    monkeypatch.setattr(_fonts, "_warned", False)
    monkeypatch.setattr(font_manager, "json_dump", _no_cache_rebuild)
    rc = dict(matplotlib.rcParams)
    _fonts._forget()
    yield manager
    assert dict(matplotlib.rcParams) == rc                        # global settings never touched
    manager.ttflist = saved
    manager._findfont_cached.cache_clear()
    _fonts._forget()


def _no_cache_rebuild(*args, **kwargs):
    raise AssertionError("the font cache was rewritten")


def _no_bundled(monkeypatch):
    monkeypatch.setattr(_fonts, "_BUNDLED", ())


def _chinese_chars(texts):
    return sorted({c for t in texts for c in t if _fonts.has_cjk(c)})


def _missing_glyphs(path, chars):
    font = FT2Font(path)
    return [c for c in chars if font.get_char_index(ord(c)) == 0]


def _seed_chinese():
    """Every Chinese string in the Baidu documents' examples and the sandbox's messages."""
    out = [*MESSAGES.values(), *_RISK_TAGS.values(), TOKEN_INVALID_MESSAGE]

    def walk(o):
        if isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
        elif _fonts.has_cjk(o):
            out.append(o)
    for path in sorted(SEEDS.glob("baidu*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return out


def test_the_dependency_ships_a_font():
    assert BUNDLED and os.path.basename(BUNDLED[0]) == "NotoSansSC-Regular.otf"
    assert _fonts._covers(BUNDLED[0])


def test_bundled_font_is_found_with_no_system_cjk_font(clean):
    assert _fonts._pick(clean.ttflist) is None                    # really nothing on the "system"
    font = _fonts.find_cjk_font()
    assert font is not None and font.origin == "bundled"
    assert font.path == BUNDLED[0] and font.family == "Noto Sans SC"
    # registered with the font manager, so the family name resolves to that file
    prop = font_manager.FontProperties(family=font.family)
    assert font_manager.findfont(prop, fallback_to_default=False) == font.path
    assert _fonts.cjk_font() == font.family and _fonts.find_cjk_font() is font


def test_a_baidu_message_in_a_figure_gets_a_font_with_every_glyph(clean):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # neither "no CJK font" nor "Glyph missing"
        ax = P.plot_error_codes(A.error_codes(_sessions(), _attempts()))
        ax.figure.canvas.draw()
    cn = [t for t in ax.get_yticklabels() if _fonts.has_cjk(t.get_text())]
    assert {"活体检测未通过", "人脸比对未通过,相似度低于阈值"} <= {m for t in cn for m in _attempts()["message"]
                                                                 if m in t.get_text()}
    for t in cn:
        path = font_manager.findfont(t.get_fontproperties(), fallback_to_default=False)
        assert path == _fonts.find_cjk_font().path
        assert _missing_glyphs(path, _chinese_chars([t.get_text()])) == []
    # other labels keep matplotlib's default font
    plain = [t for t in ax.get_yticklabels() if not _fonts.has_cjk(t.get_text())]
    assert plain and all(t.get_fontfamily() == ["sans-serif"] for t in plain)


def test_the_font_covers_every_chinese_text_of_the_documents(clean):
    chars = _chinese_chars(_seed_chinese())
    assert len(chars) > 40                                         # messages, authorities, addresses, names
    assert _missing_glyphs(_fonts.find_cjk_font().path, chars) == []


def test_a_font_installed_after_the_cache_was_built_is_found(clean, system_dir, monkeypatch):
    _no_bundled(monkeypatch)
    (system_dir / "broken.ttf").write_bytes(b"not a font")         # skipped, not fatal
    copy = system_dir / "NotoSansSC-Regular.otf"
    shutil.copyfile(BUNDLED[0], copy)
    os.utime(copy, (1e9, 1e9))                                     # installers keep old file times (2001)
    assert all(e.fname != str(copy) for e in clean.ttflist)        # the cache predates it
    font = _fonts.find_cjk_font()
    assert font is not None and font.origin == "new system"
    assert font.path == os.path.realpath(copy) and font.family == "Noto Sans SC"
    prop = font_manager.FontProperties(family=[font.family, "DejaVu Sans"])
    assert font_manager.findfont(prop, fallback_to_default=False) == font.path
    assert font_manager.fontManager is clean                       # added to the live manager, not rebuilt


def test_a_system_font_comes_before_the_bundled_one(clean, system_dir):
    shutil.copyfile(BUNDLED[0], system_dir / "NotoSansSC-Regular.otf")
    assert _fonts.find_cjk_font().origin == "new system"
    _fonts._forget()                                               # next process: the font is in the cache
    clean.ttflist = [e for e in clean.ttflist if e.fname != _fonts.find_cjk_font().path]
    clean.addfont(str(system_dir / "NotoSansSC-Regular.otf"))
    _fonts._forget()
    assert _fonts.find_cjk_font().origin == "system"


def test_with_no_font_at_all_labels_fall_back_to_codes(clean, monkeypatch):
    _no_bundled(monkeypatch)
    assert _fonts.find_cjk_font() is None
    with pytest.warns(UserWarning, match="no CJK-capable font.*pip install pylopdf-fonts-zh-cn"):
        ax = P.plot_error_codes(A.error_codes(_attempts()))
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert not any(_fonts.has_cjk(t) for t in ticks) and any(t.startswith("223120") for t in ticks)
    assert all(t.get_fontfamily() == ["sans-serif"] for t in ax.get_yticklabels())


def test_a_font_installed_while_running_is_found_on_a_later_search(clean, system_dir, monkeypatch):
    _no_bundled(monkeypatch)
    assert _fonts.find_cjk_font() is None
    shutil.copyfile(BUNDLED[0], system_dir / "NotoSansSC-Regular.otf")
    assert _fonts.find_cjk_font() is None                          # a miss is not searched again at once
    monkeypatch.setattr(_fonts, "_RECHECK_S", 0.0)
    assert _fonts.find_cjk_font().origin == "new system"


def test_the_helper_for_other_figures(clean):
    """What the report and the explorers do for a Chinese title: the font on that artist only."""
    font = _fonts.find_cjk_font()
    fig, ax = plt.subplots()
    title = ax.set_title("人脸比对通过率", fontfamily=[font.family, "DejaVu Sans"])
    label = ax.set_xlabel("confidence")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    assert font_manager.findfont(title.get_fontproperties()) == font.path
    assert font_manager.findfont(label.get_fontproperties()) != font.path


def test_finding_the_font_does_not_import_matplotlib_early():
    code = ("import sys, faceanalytics as fa; fa.find_cjk_font; fa.plot_error_codes; "
            "assert 'matplotlib' not in sys.modules; f = fa.find_cjk_font(); "
            "assert 'matplotlib' in sys.modules; print(f.family if f else None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() != "None"
