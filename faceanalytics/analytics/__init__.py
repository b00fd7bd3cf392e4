"""Threshold-review metrics: pure functions of the tidy tables, returning tidy DataFrames.

Every metric takes a table as returned by ``faceanalytics.load(data_dir, table)``
(nullable dtypes and tz-aware UTC timestamps are fine) and returns a DataFrame with
sorted rows and a fixed column order, so other engines can reproduce it row for row.

Every attempt counts once: a Baidu ``detail`` score repeats the latest attempt that
``getall`` lists, so metrics of comparisons and anti-spoofing checks drop those
``baidu_detail`` rows first (:func:`once_per_attempt`; the engines do the same in SQL).

Every row is dated by its verification time: Baidu ``detail``, ``simple``, ``stat`` and
``media`` answers carry none, so :func:`place_untimed` places their rows at the same token's
``getall`` time (else they stay at ``fetched_at``) -- apply it with the sessions table before
choosing a period's rows (``period_slice``); the engines and the review do the same.

Rates carry ``n``, an interval (Wilson unless ``method="clopper-pearson"``) and a
``low_n`` flag (``n < min_n``, default 30): show those as counts, not as rates.

=============================  ==============================================================
pass rates                     :func:`pass_rates` (Megvii FAR levels, per-row thresholds),
                               :func:`configured_pass_rates` (Baidu's plan threshold),
                               :func:`liveness_pass_rates` (Baidu liveness, FRR-keyed levels)
exact histogram                :func:`confidence_histogram`, :func:`merge_histograms`,
                               :func:`pass_rates_from_histogram`, :func:`rates_at_cut`
segments                       :func:`join_segments`, :func:`with_segments`,
                               :func:`biz_extra_key`, :func:`with_threshold_set`
threshold eras                 :func:`threshold_sets`, :func:`threshold_eras`, :func:`pass_rates_by_era`
would-flip and margins         :func:`would_flip`, :func:`would_flip_summary`, :func:`margins`,
                               :func:`margin_histogram`
anti-spoofing                  :func:`genuineness_rates`, :func:`genuineness_near_threshold`,
                               :func:`genuineness_histogram`
errors and billing             :func:`error_codes`, :func:`status_funnel`, :func:`billing`
changes within a period       :func:`detect_changes` (steps and short waves in count series,
                               false-discovery rate controlled over all series)
drift                          :func:`pass_rate_drift`, :func:`distribution_drift`, :func:`period_slice`,
                               from summaries: :func:`pass_rate_drift_from_rates`,
                               :func:`value_histogram`, :func:`distribution_drift_from_histograms`
data quality                   :func:`data_quality`, :func:`late_fetches`,
                               :func:`repeated_request_ids`, :func:`sessions_without_result`
labelled evaluation            :func:`error_rates`, :func:`error_rates_at_levels`,
                               :func:`equal_error_rate`, :func:`presentation_attack_rates`
=============================  ==============================================================
"""
from __future__ import annotations

from ._changes import detect_changes
from ._core import LEVELS, MIN_N, mask_id, mask_ids, once_per_attempt, place_untimed
from ._drift import (distribution_drift, distribution_drift_from_histograms, pass_rate_drift,
                     pass_rate_drift_from_rates, period_slice, value_histogram)
from ._eras import era_of, pass_rates_by_era, threshold_eras, threshold_sets
from ._errors import billing, error_codes, status_funnel
from ._flip import margin_histogram, margins, would_flip, would_flip_summary
from ._hist import confidence_histogram, merge_histograms, pass_rates_from_histogram, rates_at_cut
from ._labels import (equal_error_rate, error_rates, error_rates_at_levels, join_labels,
                      presentation_attack_rates)
from ._quality import data_quality, late_fetches, repeated_request_ids, sessions_without_result
from ._rates import (confidence_distribution, configured_pass_rates, liveness_pass_rates, pass_rates,
                     threshold_lines)
from ._segments import biz_extra_key, join_segments, threshold_set_labels, with_segments, with_threshold_set
from ._spoof import genuineness_histogram, genuineness_near_threshold, genuineness_rates
from ._stats import describe_rate, newcombe_diff_ci, proportion_ci

__all__ = [
    "LEVELS", "MIN_N",
    "pass_rates", "configured_pass_rates", "liveness_pass_rates", "threshold_lines",
    "confidence_distribution",
    "confidence_histogram", "merge_histograms", "pass_rates_from_histogram", "rates_at_cut",
    "join_segments", "with_segments", "biz_extra_key", "threshold_set_labels", "with_threshold_set",
    "threshold_sets", "threshold_eras", "era_of", "pass_rates_by_era",
    "margins", "margin_histogram", "would_flip", "would_flip_summary",
    "genuineness_rates", "genuineness_near_threshold", "genuineness_histogram",
    "error_codes", "status_funnel", "billing",
    "detect_changes",
    "pass_rate_drift", "distribution_drift", "period_slice",
    "pass_rate_drift_from_rates", "value_histogram", "distribution_drift_from_histograms",
    "data_quality", "late_fetches", "repeated_request_ids", "sessions_without_result",
    "join_labels", "error_rates", "error_rates_at_levels", "equal_error_rate",
    "presentation_attack_rates",
    "proportion_ci", "newcombe_diff_ci", "describe_rate", "mask_id", "mask_ids", "once_per_attempt",
    "place_untimed",
]
