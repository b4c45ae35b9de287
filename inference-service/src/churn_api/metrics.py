"""Prometheus metrics: requests by route and status, latency, predictions by band, scores, model."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from churn_api.drift import DriftReport
from churn_api.scorer import LoadedModel

disable_created_metrics()  # the *_created series only add noise to every scrape

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
SCORE_BUCKETS = (*(round(0.1 * k, 1) for k in range(1, 10)), 1.0)


class ScoreHistogram(Collector):
    """Distribution of churn probabilities; observes whole batches at numpy speed."""

    def __init__(self, buckets: Iterable[float] = SCORE_BUCKETS) -> None:
        self.uppers = np.asarray(list(buckets), dtype=np.float64)
        self.uppers_list = self.uppers.tolist()
        self.counts = np.zeros(len(self.uppers) + 1, dtype=np.int64)  # last slot: +Inf only
        self.total = 0.0
        self._lock = threading.Lock()

    def observe(self, values: np.ndarray) -> None:
        """Add probabilities (any shape)."""
        v = np.asarray(values, dtype=np.float64).ravel()
        idx = np.searchsorted(self.uppers, v, side="left")  # bucket le=upper includes upper
        add = np.bincount(idx, minlength=len(self.counts))
        with self._lock:
            self.counts += add
            self.total += float(v.sum())

    def observe_one(self, value: float) -> None:
        """Add one probability (the single-row hot path: no numpy)."""
        k = bisect.bisect_left(self.uppers_list, value)
        with self._lock:
            self.counts[k] += 1
            self.total += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        """Prometheus cumulative buckets."""
        with self._lock:
            cumulative = np.cumsum(self.counts).tolist()
            total = self.total
        buckets = [(f"{u:g}", c) for u, c in zip(self.uppers.tolist(), cumulative, strict=False)]
        buckets.append(("+Inf", cumulative[-1]))
        family = HistogramMetricFamily(
            "churn_api_churn_probability", "Calibrated churn probabilities served"
        )
        family.add_metric([], buckets, sum_value=total)
        yield family


class Metrics:
    """All metrics of one app, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "churn_api_requests", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "churn_api_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "churn_api_predictions", "Customers scored, by risk band", ["band"], registry=r
        )
        self.batch_rows = Counter(
            "churn_api_batch_rows", "Batch rows by outcome", ["outcome"], registry=r
        )
        self.model_info = Gauge(
            "churn_api_model_info",
            "The model being served (value 1)",
            ["name", "version", "alias", "source"],
            registry=r,
        )
        self.model_ready = Gauge(
            "churn_api_model_ready", "1 once a verified model is loaded", registry=r
        )
        self.model_stale = Gauge(
            "churn_api_model_stale", "1 when MLflow could not confirm the alias", registry=r
        )
        self.model_degraded = Gauge(
            "churn_model_degraded",
            "1 while the model served is a fallback, not the verified current champion",
            registry=r,
        )
        self.model_trained = Gauge(
            "churn_model_trained_timestamp_seconds",
            "When the served model was trained (Unix time; the ModelStale alert's age)",
            registry=r,
        )
        self.batches_in_flight = Gauge(
            "churn_api_batches_in_flight",
            "Heavy requests (batches, large bodies) running",
            registry=r,
        )
        self.batches_limit = Gauge(
            "churn_api_batches_limit", "MAX_CONCURRENT_BATCHES in effect", registry=r
        )
        self.scores = ScoreHistogram()
        r.register(self.scores)
        # Live drift (live_drift.py): the recent scored rows against the training reference.
        self.feature_psi = Gauge(
            "churn_feature_psi",
            "PSI of a field over the live window against the training reference",
            ["field"],
            registry=r,
        )
        self.score_psi = Gauge(
            "churn_score_psi",
            "PSI of the calibrated score over the live window (NaN below the minimum rows)",
            registry=r,
        )
        self.score_psi.set(float("nan"))
        self.drift_window_rows = Gauge(
            "churn_drift_window_rows", "Scored rows in the live drift window", registry=r
        )
        self.unseen_categories = Counter(
            "churn_unseen_category",
            "Customers refused (a 422 or a batch row's error) for a category the model lacks",
            ["field"],
            registry=r,
        )
        self._lock = threading.Lock()

    def model_swapped(self, model: LoadedModel) -> None:
        """Point the info gauge at the new model."""
        m = model.meta
        with self._lock:
            self.model_info.clear()
            self.model_info.labels(m.name, m.version, m.alias or "", m.source).set(1)
            self.model_ready.set(1)
            self.model_stale.set(1 if m.stale else 0)
            self.model_degraded.set(1 if m.degraded else 0)
            self.model_trained.set(_timestamp(model.contract.training.get("trained_at")))

    def scored_one(self, band: str, probability: float) -> None:
        """Count one prediction."""
        self.predictions.labels(band).inc()
        self.scores.observe_one(probability)

    def scored(self, band_names: list[str], bands: np.ndarray, probs: np.ndarray) -> None:
        """Count predictions by band and add them to the score distribution."""
        counts = np.bincount(np.asarray(bands, dtype=np.intp), minlength=len(band_names))
        for name, count in zip(band_names, counts.tolist(), strict=False):
            if count:
                self.predictions.labels(name).inc(count)
        self.scores.observe(probs)

    def drift_computed(self, report: DriftReport) -> None:
        """Set the live drift gauges from a report of the window."""
        with self._lock:
            self.feature_psi.clear()
            for row in report.rows:
                if row.psi is not None:
                    self.feature_psi.labels(row.field).set(row.psi)
            self.score_psi.set(float("nan") if report.score_psi is None else report.score_psi)

    def drift_cleared(self) -> None:
        """No live drift figures (no reference, or too few rows in the window)."""
        with self._lock:
            self.feature_psi.clear()
            self.score_psi.set(float("nan"))


def _timestamp(text: object) -> float:
    """An ISO 8601 time as Unix seconds; NaN when absent or unreadable (no age, no alert)."""
    try:
        return datetime.fromisoformat(str(text)).timestamp() if text else float("nan")
    except ValueError:
        return float("nan")
