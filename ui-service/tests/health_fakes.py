"""The monitoring routes for the UI's page tests: `GET /monitoring/drift`,
`GET /monitoring/performance` and `GET /monitoring/models` added to the fake customer-store API
(store_fakes), shaped like the API's answers (the issue 14 design) and refusing like it (503
without a store or, for the models, without MLflow; 422 on a bad `runs`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from store_fakes import FakeStore
from streamlit.testing.v1 import AppTest

import churn_ui

APP = str(Path(churn_ui.__file__).with_name("app.py"))
HEALTH_PAGE = "app_pages/model_health.py"

THRESHOLDS = {"field_psi_watch": 0.1, "field_psi_drift": 0.2, "score_psi_drift": 0.1}
SCORE_EDGES = [0.1 * i for i in range(1, 10)]
REFERENCE_SCORE = {"edges": SCORE_EDGES, "frequencies": [0.1] * 10}


def drift_run(
    run_id: str, created_at: str, psi: dict[str, float], score_psi: float, n: int = 7043
) -> dict[str, Any]:
    """A run's drift report: `psi` per field, the score's PSI, and its shares over the bins."""
    fields = [
        {
            "field": name,
            "kind": "categorical" if name == "Contract" else "numeric",
            "psi": value,
            "statistic": value / 2,
            "p_value": 0.5 if value < 0.1 else 1e-6,
            "missing_rate": 0.0,
            "missing_rate_reference": 0.0,
            "unseen": {"Three year": 12} if name == "Contract" and value > 0.2 else {},
        }
        for name, value in psi.items()
    ]
    fields.append({"field": "__score__", "kind": "score", "psi": score_psi})
    shift = min(score_psi, 0.05)
    shares = [0.1 - shift] * 5 + [0.1 + shift] * 5
    return {
        "run_id": run_id,
        "created_at": created_at,
        "snapshot_date": created_at[:10],
        "model": {"name": "telco-churn", "version": "7"},
        "model_name": "telco-churn",
        "model_version": "7",
        "n": n,
        "rows_scored": n,
        "rows_rejected": 0,
        "score_psi": score_psi,
        "score_status": "drift" if score_psi > 0.1 else "ok",
        "score_frequencies": shares,
        "reference_score": REFERENCE_SCORE,
        "fields": fields,
    }


# Newest first, as the API lists them: the second run shifted contracts and charges.
DRIFT_RUNS = [
    drift_run(
        "run-2",
        "2026-11-30T08:00:00+00:00",
        {"tenure": 0.02, "MonthlyCharges": 0.15, "Contract": 0.41},
        0.12,
    ),
    drift_run(
        "run-1",
        "2026-11-23T08:00:00+00:00",
        {"tenure": 0.01, "MonthlyCharges": 0.03, "Contract": 0.02},
        0.01,
    ),
]
PERFORMANCE_ROWS = [
    {"model_version": "6", "month": "2026-09", "n": 900, "positives": 240, "roc_auc": 0.83,
     "pr_auc": 0.64, "brier": 0.14, "calibration_error": 0.03, "top_decile_precision": 0.71},
    {"model_version": "7", "month": "2026-10", "n": 1100, "positives": 290, "roc_auc": 0.80,
     "pr_auc": 0.6, "brier": 0.15, "calibration_error": 0.04, "top_decile_precision": 0.66},
    {"model_version": "7", "month": "2026-11", "n": 1200, "positives": 330, "roc_auc": 0.76,
     "pr_auc": 0.55, "brier": 0.17, "calibration_error": 0.06, "top_decile_precision": 0.6},
]  # fmt: skip
HOLDOUT = {"roc_auc": 0.845, "pr_auc": 0.66, "brier": 0.135}
CHAMPION = {
    "version": "7",
    "since": "2026-10-02T08:00:00+00:00",
    "reason": "ROC-AUC 0.845 beats the champion's 0.831 by 0.014 (at least 0.005)",
    "created_at": "2026-10-02T07:58:00+00:00",
}
CHALLENGER = {
    "version": "8",
    "since": "2026-11-16T06:30:00+00:00",
    "reason": "worse than the champion: ROC-AUC 0.812 < 0.845 - 0.005",
    "created_at": "2026-11-16T06:29:00+00:00",
}
PREVIOUS = {
    "version": "6",
    "replaced_at": "2026-10-02T08:00:00+00:00",
    "replaced_by": "7",
    "created_at": "2026-09-01T07:00:00+00:00",
}


def models_view(
    champion: dict[str, Any] | None = CHAMPION,
    challenger: dict[str, Any] | None = CHALLENGER,
    previous: dict[str, Any] | None = PREVIOUS,
) -> dict[str, Any]:
    """`GET /monitoring/models` of an API serving version 7 from the registry."""
    return {
        "model_name": "telco-churn",
        "registry": "MLflow model registry",
        "served": {"version": "7", "alias": "champion", "degraded": False},
        "aliases": {"champion": champion, "challenger": challenger, "previous-champion": previous},
    }


@dataclass
class HealthStore(FakeStore):
    """The fake store with drift reports and realized performance (empty lists: none yet)."""

    runs: list[dict[str, Any]] = field(default_factory=lambda: list(DRIFT_RUNS))
    performance: list[dict[str, Any]] = field(default_factory=lambda: list(PERFORMANCE_ROWS))
    reference_score: dict[str, Any] | None = field(default_factory=lambda: dict(REFERENCE_SCORE))
    monitoring: bool = True  # False: an API from before the monitoring routes (404)
    # `GET /monitoring/models`; None: an API without that route (404); "down": MLflow is (503).
    models: dict[str, Any] | str | None = field(default_factory=models_view)

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(target)
        if not parts.path.startswith("/monitoring/"):
            return super().answer(method, target, body)
        self.requests.append((method, target, body))
        if not self.monitoring:
            return 404, {"detail": "Not Found"}
        if parts.path == "/monitoring/models":  # the registry's, not the store's
            if self.models is None:
                return 404, {"detail": "Not Found"}
            if self.models == "down":
                return 503, {"detail": "MLflow model registry unavailable: connection refused"}
            return 200, self.models
        if self.state != "ok":
            return 503, {"detail": "customer store unavailable: connection refused"}
        if parts.path == "/monitoring/drift":
            runs = parse_qs(parts.query).get("runs", ["20"])[-1]
            if not runs.isdigit() or not 1 <= int(runs) <= 200:
                return 422, {"detail": [{"field": "runs", "message": "must be 1 to 200"}]}
            return 200, {
                "thresholds": THRESHOLDS,
                "model_version": "7",
                "reference_score": self.reference_score,
                "runs": self.runs[: int(runs)],
            }
        if parts.path == "/monitoring/performance":
            overall = (
                [{**self.performance[-1], "month": "all", "n": 2300, "roc_auc": 0.78}]
                if self.performance
                else []
            )
            return 200, {
                "computed_at": "2026-11-30T09:00:00+00:00",
                "model_version": "7",
                "holdout_roc_auc": HOLDOUT["roc_auc"],
                "holdout": HOLDOUT,
                "roc_auc_drop_alert": 0.05,
                "rows": self.performance,
                "overall": overall,
            }
        return 404, {"detail": "Not Found"}


def open_health_page(monkeypatch: pytest.MonkeyPatch, url: str) -> AppTest:
    """The console through AppTest against the API at `url`, switched to Model health."""
    monkeypatch.setenv("API_BASE_URL", url)
    monkeypatch.setenv("CONNECT_RETRIES", "0")
    for name in ("API_TOKEN", "API_PREDICT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page(HEALTH_PAGE).run()


def page_texts(at: AppTest) -> str:
    """Every text element's value, one per line."""
    kinds = ("markdown", "caption", "error", "warning", "info", "success")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))
