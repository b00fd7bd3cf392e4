"""Shared test setup: a non-interactive matplotlib backend, and no figure left open.

The backend is chosen only if matplotlib has not been imported yet, and figures are
closed only if a test imported pyplot: tests that never plot pay nothing.
"""
from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
