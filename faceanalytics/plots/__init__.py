"""Plot helpers in seaborn's style: ``plot_x(data, *, options, ax=None, **kwargs) -> Axes``.

Each draws only what a metric of :mod:`faceanalytics.analytics` computed, on ``ax``
(or the current Axes), never calls ``plt.show()`` and never changes rcParams.
matplotlib is imported on the first call, not on import.
"""
from __future__ import annotations

from ._det import plot_det
from ._errors import plot_error_codes, plot_status_funnel
from ._scores import plot_confidence_thresholds, plot_drift, plot_genuineness, plot_margins, plot_pass_rates

__all__ = ["plot_confidence_thresholds", "plot_genuineness", "plot_error_codes", "plot_pass_rates",
           "plot_status_funnel", "plot_margins", "plot_drift", "plot_det"]
