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
    # review metrics (pure functions of the tables) and plots (matplotlib imported on first call)
    "pass_rates": ".analytics",
    "error_rates": ".analytics",
    "configured_pass_rates": ".analytics",
    "liveness_pass_rates": ".analytics",
    "confidence_histogram": ".analytics",
    "merge_histograms": ".analytics",
    "pass_rates_from_histogram": ".analytics",
    "rates_at_cut": ".analytics",
    "join_segments": ".analytics",
    "with_segments": ".analytics",
    "biz_extra_key": ".analytics",
    "with_threshold_set": ".analytics",
    "threshold_sets": ".analytics",
    "threshold_eras": ".analytics",
    "pass_rates_by_era": ".analytics",
    "margins": ".analytics",
    "margin_histogram": ".analytics",
    "would_flip": ".analytics",
    "would_flip_summary": ".analytics",
    "genuineness_rates": ".analytics",
    "genuineness_near_threshold": ".analytics",
    "error_codes": ".analytics",
    "status_funnel": ".analytics",
    "billing": ".analytics",
    "detect_changes": ".analytics",
    "pass_rate_drift": ".analytics",
    "distribution_drift": ".analytics",
    "period_slice": ".analytics",
    "data_quality": ".analytics",
    "error_rates_at_levels": ".analytics",
    "equal_error_rate": ".analytics",
    "presentation_attack_rates": ".analytics",
    "plot_confidence_thresholds": ".plots",
    "plot_genuineness": ".plots",
    "plot_error_codes": ".plots",
    "plot_pass_rates": ".plots",
    "plot_status_funnel": ".plots",
    "plot_margins": ".plots",
    "plot_drift": ".plots",
    "plot_det": ".plots",
    # a font for Chinese text in figures (matplotlib imported on first call)
    "find_cjk_font": "._fonts",
    # notebook explorers (ipywidgets imported on first use)
    "threshold_explorer": ".widgets",
    "genuineness_explorer": ".widgets",
    # the review report (one self-contained HTML file)
    "write_report": ".report",
    "build_report": ".report",
    "review": ".report",
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
