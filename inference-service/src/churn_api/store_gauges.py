"""Prometheus gauges from the customer store, refreshed on an interval: the latest scoring run's
batch drift and the latest realized performance per model version, beside the served model's
training holdout ROC-AUC (the alert rules compare them; docs/monitoring.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from churn_api.model_store import ModelStore
from churn_api.scoring.performance import ALL_MONTHS
from churn_api.store.errors import StoreError
from churn_api.store.service import CustomerStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("churn_api.monitoring")
REALIZED = ("roc_auc", "pr_auc", "brier", "calibration_error", "top_decile_precision")


def read_monitoring(engine: Engine) -> dict[str, Any]:
    """What the gauges show: the latest run's drift and the latest performance rows."""
    # SQLAlchemy: imported in the store's thread, not at start (store/service.py).
    from churn_api.store.monitoring_reads import drift_history, latest_performance

    runs = drift_history(engine, 1)
    return {"run": runs[0] if runs else None, "performance": latest_performance(engine)["rows"]}


def realized_by_version(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model version, its most recent month with a ROC-AUC (both classes present): the
    month an alert should look at, not every month blended."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["month"] == ALL_MONTHS or row["roc_auc"] is None:
            continue
        held = best.get(row["model_version"])
        if held is None or row["month"] > held["month"]:
            best[row["model_version"]] = row
    return best


class StoreGauges(Collector):
    """The store's monitoring values as gauges; only values that exist are exported."""

    def __init__(
        self,
        registry: CollectorRegistry,
        customers: CustomerStore,
        models: ModelStore,
        interval_s: float = 60.0,
    ) -> None:
        self.customers = customers
        self.models = models
        self.interval_s = interval_s
        self.values: dict[str, Any] = {"run": None, "performance": []}
        self.up: float | None = None
        self.refreshed: float | None = None
        self._task: asyncio.Task[None] | None = None
        registry.register(self)

    async def refresh_once(self) -> None:
        """Read the store once; a store problem keeps the last values and sets the up gauge 0."""
        try:
            self.values = await self.customers.call(read_monitoring)
        except StoreError as exc:
            if self.up != 0.0:
                log.warning("monitoring gauges: %s", exc, extra={"event": "store_error"})
            self.up = 0.0
            return
        self.up = 1.0
        self.refreshed = time.time()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # logged in refresh_once; never fatal
                await self.refresh_once()
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self.customers.configured and self._task is None:
            self._task = asyncio.create_task(self.run(), name="store-gauges")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # values come and go with the store: nothing fixed to describe

    def collect(self) -> Iterator[GaugeMetricFamily]:
        run = self.values["run"]
        feature = GaugeMetricFamily(
            "churn_batch_feature_psi",
            "PSI of each field in the latest scoring run against the training reference",
            labels=["field"],
        )
        score = GaugeMetricFamily(
            "churn_batch_score_psi", "PSI of the latest scoring run's scores against the reference"
        )
        when = GaugeMetricFamily(
            "churn_batch_drift_timestamp_seconds", "When the latest run's drift report was stored"
        )
        if run is not None:
            for row in run["fields"]:
                if row["psi"] is not None:
                    feature.add_metric([row["field"]], row["psi"])
            if run["score_psi"] is not None:
                score.add_metric([], run["score_psi"])
            stamp = run.get("created_at")
            if stamp:
                when.add_metric([], datetime.fromisoformat(stamp).timestamp())
        yield from (feature, score, when)
        realized = realized_by_version(self.values["performance"])
        for name in REALIZED:
            family = GaugeMetricFamily(
                f"churn_realized_{name}",
                f"Realized {name} of a model version's scores (latest month with both classes)",
                labels=["model_version"],
            )
            for version, row in sorted(realized.items()):
                if row[name] is not None:
                    family.add_metric([version], row[name])
            yield family
        yield from self._holdout()
        if self.up is not None:
            up = GaugeMetricFamily(
                "churn_monitoring_store_up", "1 when the last read of the monitoring tables worked"
            )
            up.add_metric([], self.up)
            yield up

    def _holdout(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "churn_holdout_roc_auc",
            "The served model's ROC-AUC on its training holdout",
            labels=["model_version"],
        )
        model = self.models.current
        value = model.contract.metrics.get("roc_auc") if model is not None else None
        if model is not None and isinstance(value, int | float) and not isinstance(value, bool):
            family.add_metric([model.meta.version], float(value))
        yield family
