"""faceanalytics: pull, keep, flatten and review face-verification results.

    >>> import faceanalytics as fa
    >>> fa.fetch_megvii(ids, "data", kind="lite")        # doctest: +SKIP
    >>> comparisons = fa.load("data", "comparisons")     # doctest: +SKIP

Importing the package is cheap: each name below is imported on first use
(no pandas, matplotlib or ipywidgets until asked for).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import __all__ as _error_names  # a small module: the tree's names, classes on first use

__version__ = "0.1.0"

_LAZY = {
    "load": ".storage.tables",
    "load_arrow": ".storage.tables",
    "media_bytes": ".storage.media",
    "load_media": ".storage.media",
    "DataDir": ".storage",
    "ingest": ".pipeline.ingest",
    "rebuild": ".pipeline.ingest",
    "fetch_megvii": ".pipeline.fetch",
    "fetch_baidu": ".pipeline.fetch",
    "read_ids": ".pipeline.fetch",
    "verify_callback_sign": ".crypto",
    "decrypt_will_file": ".crypto",
    "download_will_files": ".pipeline.media",
    "CallbackReceiver": ".pipeline.receive",
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
    # the exception tree (drawn in faceanalytics.errors; each class imported on first use)
    **dict.fromkeys(_error_names, ".errors"),
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # what the lazy names are, for IDEs and type checkers; never run
    from .storage import DataDir
    from .storage.tables import load, load_arrow
    from .storage.media import load_media, media_bytes
    from .pipeline.ingest import ingest, rebuild
    from .pipeline.fetch import fetch_baidu, fetch_megvii, read_ids
    from .crypto import decrypt_will_file, verify_callback_sign
    from .pipeline.media import download_will_files
    from .pipeline.receive import CallbackReceiver
    from .sandbox import Sandbox
    from .schema import SOURCES, TABLES
    from .analytics import (
        billing, biz_extra_key, confidence_histogram, configured_pass_rates, data_quality,
        detect_changes, distribution_drift, equal_error_rate, error_codes, error_rates,
        error_rates_at_levels, genuineness_near_threshold, genuineness_rates, join_segments,
        liveness_pass_rates, margin_histogram, margins, merge_histograms, pass_rate_drift,
        pass_rates, pass_rates_by_era, pass_rates_from_histogram, period_slice,
        presentation_attack_rates, rates_at_cut, status_funnel, threshold_eras, threshold_sets,
        with_segments, with_threshold_set, would_flip, would_flip_summary,
    )
    from .plots import (
        plot_confidence_thresholds, plot_det, plot_drift, plot_error_codes, plot_genuineness,
        plot_margins, plot_pass_rates, plot_status_funnel,
    )
    from ._fonts import find_cjk_font
    from .widgets import genuineness_explorer, threshold_explorer
    from .report import build_report, review, write_report
    from .errors import (
        AccessTokenError, AccessTokenExpired, AccessTokenInvalid, ApiNotFound, BadArguments,
        BaiduAuthError, BaiduError, BaiduInternalError, BaiduRequestFailed, ConfigurationError,
        ConnectError, DailyLimitExceeded, DamagedFile, DamagedTable, DataDestroyed, DataError,
        FaceAnalyticsError, InsecureURL, InvalidResponse, LockLost, MediaError, MegviiAuthenticationError,
        MegviiAuthorizationError, MegviiConcurrencyLimitExceeded, MegviiError, MegviiInternalError, MessageEncryptionError,
        MissingArguments, MissingCredentials, NotTLS, NotUtf8Secret, ProviderError, QpsLimitExceeded, QuotaExhausted,
        RateLimited, RequestTimeout, ResultNotFound, S3Error, SegmentTooLarge, ServerError, StorageConfigError,
        TotalLimitExceeded, TransportError, Unreadable, UsageError, VerifyTokenInvalid, WriterBusy,
    )


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faceanalytics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
