"""faceanalytics: pull, keep, flatten and review face-verification results.

    >>> import faceanalytics as fa
    >>> fa.fetch_megvii(ids, "data", kind="lite")        # doctest: +SKIP
    >>> comparisons = fa.load("data", "comparisons")     # doctest: +SKIP

Importing the package is cheap: each name below is imported on first use
(no pandas, matplotlib or ipywidgets until asked for).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "load": ".store",
    "load_arrow": ".store",
    "ingest": ".ingest",
    "rebuild": ".ingest",
    "fetch_megvii": ".fetch",
    "fetch_baidu": ".fetch",
    "read_ids": ".fetch",
    "verify_callback_sign": ".flatten.megvii",
    "decrypt_will_file": ".media",
    "download_will_files": ".media",
    "CallbackReceiver": ".receive",
    "Sandbox": ".sandbox",
    "TABLES": ".schema",
    "SOURCES": ".schema",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faceanalytics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
