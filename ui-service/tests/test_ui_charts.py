"""The Altair charts: what data each one draws and how it colours it (as Vega-Lite specs)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from churn_ui.api.models import Reason, RiskBand
from churn_ui.charts import at_risk_by, gauge, reasons_chart, risk_distribution
from churn_ui.wording import BAND_COLORS, LOWERS_COLOR, RAISES_COLOR

BANDS = [RiskBand(name="low", upper=0.3), RiskBand(name="medium", upper=0.6)]
BANDS.append(RiskBand(name="high", upper=1.0))


def _rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every inline data row of a chart spec, whichever layer holds it."""
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("layer", [spec])


def test_ui_gauge_draws_bands_needle_and_threshold() -> None:
    spec = gauge(0.71, BANDS, 0.4).to_dict()
    layers = _layers(spec)
    assert len(layers) == 5
    rows = _rows(spec)
    assert {"band": "Medium risk", "start": 0.3, "end": 0.6} in rows
    assert {"start": 0.0, "end": 0.71} in rows  # the filled arc up to the probability
    assert {"label": "71.0%"} in rows
    assert {"label": "action threshold 40% (black mark)"} in rows
    filled = layers[1]["encoding"]["color"]["value"]
    assert filled == BAND_COLORS["high"]
    assert (
        gauge(0.1, BANDS, 0.4).to_dict()["layer"][1]["encoding"]["color"]["value"]
        == (BAND_COLORS["low"])
    )


def test_ui_reasons_chart_pushes_right_to_raise_and_left_to_lower() -> None:
    reasons = [
        Reason(field="tenure", value=2, contribution=0.8, effect="raises"),
        Reason(field="Contract", value="Two year", contribution=-1.1, effect="lowers"),
    ]
    spec = reasons_chart(reasons).to_dict()
    assert _rows(spec) == [
        {"reason": "Months as a customer: 2 months", "push": 0.8, "effect": "raises the risk"},
        {"reason": "Contract: Two year", "push": -1.1, "effect": "lowers the risk"},
    ]
    scale = spec["encoding"]["color"]["scale"]
    assert scale["range"] == [RAISES_COLOR, LOWERS_COLOR]


def _scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "churn_probability": pd.Series([0.9, 0.5, 0.2, 0.7], dtype="Float64"),
            "risk_band": ["high", "medium", "low", "high"],
            "recommend_offer": pd.Series([True, True, False, True], dtype="boolean"),
            "Contract": ["Month-to-month", "One year", "Two year", "Month-to-month"],
        }
    )


def test_ui_risk_distribution_bins_by_band_with_the_threshold() -> None:
    spec = risk_distribution(_scored(), BANDS, 0.45).to_dict()
    rows = _rows(spec)
    assert {"probability": 0.2, "band": "Low risk"} in rows
    assert {"threshold": 0.45} in rows
    bars = _layers(spec)[0]
    assert bars["encoding"]["x"]["bin"] == {"extent": [0, 1], "step": 0.05}
    assert bars["encoding"]["color"]["scale"]["domain"] == ["Low risk", "Medium risk", "High risk"]


def test_ui_at_risk_by_counts_only_customers_flagged_for_an_offer() -> None:
    spec = at_risk_by(_scored(), "Contract").to_dict()
    counts = {row["Contract"]: row["customers"] for row in _rows(spec)}
    assert counts == {"Month-to-month": 2, "One year": 1}
    assert spec["encoding"]["y"]["title"] == "Contract"
