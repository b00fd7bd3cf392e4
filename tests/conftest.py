"""Shared test setup: a non-interactive matplotlib backend, no figure left open, and a sandbox's
credentials in the environment (``creds``).

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


@pytest.fixture
def creds(monkeypatch):
    """``creds(sandbox)``: the sandbox's credentials and base URLs in the environment."""
    def set_for(sb):
        for k, v in sb.env().items():
            monkeypatch.setenv(k, v)
    return set_for
