"""Altair charts of the customer store: the profit curve of the base and a customer's history."""

from __future__ import annotations

import altair as alt
import pandas as pd

from churn_ui.api.models import CustomerRecord, ProfitCurve, ProfitCurves
from churn_ui.wording import RAISES_COLOR

BY_VALUE = "Ranked by expected value"
BY_PROBABILITY = "Ranked by churn probability"
BEST_COLOR = "#1565c0"
BUDGET_COLOR = "#212121"


def curve_frame(curves: ProfitCurves) -> pd.DataFrame:
    """Both rankings' curves as long rows: k, expected value, ranking."""
    rows = [(BY_VALUE, curves.by_expected_value)]
    if curves.by_churn_probability is not None:
        rows.append((BY_PROBABILITY, curves.by_churn_probability))
    return pd.DataFrame(
        [
            {"k": p.k, "expected_value": p.expected_value, "ranking": name}
            for name, curve in rows
            for p in curve.points
        ],
        columns=["k", "expected_value", "ranking"],
    )


def shown_curve(curves: ProfitCurves, sort: str) -> tuple[str, ProfitCurve]:
    """The curve of the ranking the list is sorted by (expected value when that is all)."""
    if sort == "churn_probability" and curves.by_churn_probability is not None:
        return BY_PROBABILITY, curves.by_churn_probability
    return BY_VALUE, curves.by_expected_value


def profit_curve_chart(
    curves: ProfitCurves, sort: str, budget_calls: int | None = None
) -> alt.LayerChart:
    """Expected value of calling the top k, for every k; the best k and the budget marked."""
    name, curve = shown_curve(curves, sort)
    data = curve_frame(curves)
    lines = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("k:Q", title="Customers called (the top k of the ranking)"),
            y=alt.Y("expected_value:Q", title="Expected value", axis=alt.Axis(format="$,.0f")),
            color=alt.Color(
                "ranking:N",
                scale=alt.Scale(domain=[BY_VALUE, BY_PROBABILITY], range=[BEST_COLOR, "#9e9e9e"]),
                legend=alt.Legend(title=None, orient="bottom", labelLimit=320),
            ),
            tooltip=[
                alt.Tooltip("ranking:N", title="Ranking"),
                alt.Tooltip("k:Q", title="Calls", format=","),
                alt.Tooltip("expected_value:Q", title="Expected value", format="$,.2f"),
            ],
        )
    )
    best = pd.DataFrame(
        {
            "k": [curve.best_k],
            "expected_value": [curve.best_expected_value],
            "label": [f"best k = {curve.best_k:,} ({name.lower()})"],
        }
    )
    best_rule = alt.Chart(best).mark_rule(color=BEST_COLOR).encode(x="k:Q")
    best_point = (
        alt.Chart(best)
        .mark_point(color=BEST_COLOR, filled=True, size=90)
        .encode(x="k:Q", y="expected_value:Q", tooltip=["label:N"])
    )
    best_label = (
        alt.Chart(best)
        .mark_text(align="left", dx=6, dy=-10, color=BEST_COLOR, fontWeight="bold")
        .encode(x="k:Q", y="expected_value:Q", text="label:N")
    )
    layers: list[alt.Chart] = [lines, best_rule, best_point, best_label]
    if budget_calls is not None:
        budget = pd.DataFrame({"k": [budget_calls], "label": [f"budget: {budget_calls:,} calls"]})
        layers.append(
            alt.Chart(budget)
            .mark_rule(color=BUDGET_COLOR, strokeDash=[5, 4])
            .encode(x="k:Q", tooltip=["label:N"])
        )
        layers.append(
            alt.Chart(budget)
            .mark_text(align="left", dx=6, y=12, color=BUDGET_COLOR)
            .encode(x="k:Q", text="label:N")
        )
    return alt.layer(*layers).properties(height=300)


def history_chart(record: CustomerRecord) -> alt.Chart:
    """The customer's churn probability at each scoring, oldest to newest."""
    data = pd.DataFrame(
        {
            "when": [h.scored_at or h.snapshot_date for h in record.history],
            "snapshot": [h.snapshot_date for h in record.history],
            "probability": [h.churn_probability for h in record.history],
            "model": [h.model.version for h in record.history],
        }
    )
    when = pd.to_datetime(data["when"], utc=True, errors="coerce", format="ISO8601")
    data["when"] = when.dt.tz_convert(None)  # shown in UTC; Vega-Lite reads naive times
    return (
        alt.Chart(data)
        .mark_line(point=True, color=RAISES_COLOR)
        .encode(
            x=alt.X("when:T", title="Scored at"),
            y=alt.Y(
                "probability:Q",
                title="Churn probability",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            tooltip=[
                alt.Tooltip("snapshot:N", title="Snapshot"),
                alt.Tooltip("probability:Q", title="Churn probability", format=".1%"),
                alt.Tooltip("model:N", title="Model version"),
            ],
        )
        .properties(height=200)
    )
