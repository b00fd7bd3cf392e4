"""Sections (plain data) -> one self-contained HTML file, through a Jinja2 template.

The template (``templates/report.html.j2``, with ``report.css`` inlined) holds all the
markup; autoescape is on, so text from the data (Baidu's Chinese messages, anything a
payload carried) is always escaped, and every value loses its C0 control characters
(tab, newline and CR aside), which escaping leaves.  Figures are PNG data URIs; there is no script,
no external link and no font to fetch, so the file opens offline and prints whole.
"""
from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["render"]


@functools.lru_cache(maxsize=1)
def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                              autoescape=True, trim_blocks=False,
                              keep_trailing_newline=True, finalize=_finalize)


def _finalize(value):
    """Every rendered value without C0 control characters (autoescape leaves a NUL from a
    segment value or a provider's message as it is); markup stays markup."""
    from markupsafe import Markup

    from ._shown import no_controls

    return Markup(no_controls(str(value))) if isinstance(value, Markup) else no_controls(value)


def render(*, title: str, meta, banner, sections, footer, lang: str = "en", words: dict | None = None) -> str:
    """The report as HTML text; ``words``: the template's own (link names), in ``lang``."""
    return _env().get_template("report.html.j2").render(title=title, meta=meta, banner=banner, sections=sections,
                                                       footer=footer, lang=lang, words=words or {})
