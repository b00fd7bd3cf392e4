"""Warnings pointed at the caller's code, not at the line of faceanalytics that raised them."""
from __future__ import annotations

import sys
import warnings

__all__ = ["warn_outside"]


def warn_outside(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` with the ``stacklevel`` of the first frame outside the package."""
    level, f = 1, sys._getframe(1)
    while f is not None and f.f_globals.get("__name__", "").startswith("faceanalytics"):
        f, level = f.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)
