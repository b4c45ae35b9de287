"""Altair charts of the Model health page: drift per field over runs with its thresholds, the
score distribution against the training reference, realized performance by month."""

from __future__ import annotations

import altair as alt
import pandas as pd

from churn_ui.api.health_models import DriftThresholds
from churn_ui.health_view import REFERENCE, SCORED
from churn_ui.performance_view import HOLDOUT

WATCH_COLOR = "#f9a825"
DRIFT_COLOR = "#c62828"
REFERENCE_COLOR = "#9e9e9e"
CURRENT_COLOR = "#1565c0"
HOLDOUT_COLOR = "#212121"
STATUS_COLORS = {"Stable": "#90a4ae", "Watch": WATCH_COLOR, "Drifted": DRIFT_COLOR}


def _limit(value: float, text: str, color: str, y_field: str = "psi") -> list[alt.Chart]:
    """A dashed horizontal line at `value`, labelled at the left."""
    data = pd.DataFrame({y_field: [value], "label": [text]})
    rule = alt.Chart(data).mark_rule(color=color, strokeDash=[6, 4]).encode(y=f"{y_field}:Q")
    note = (
        alt.Chart(data)
        .mark_text(align="left", baseline="bottom", x=4, dy=-2, color=color)
        .encode(y=f"{y_field}:Q", text="label:N")
    )
    return [rule, note]


def _limits(thresholds: DriftThresholds) -> list[tuple[float, str, str]]:
    return [
        (thresholds.field_psi_watch, f"watch ({thresholds.field_psi_watch:g})", WATCH_COLOR),
        (thresholds.field_psi_drift, f"drift ({thresholds.field_psi_drift:g})", DRIFT_COLOR),
    ]


def latest_drift_chart(frame: pd.DataFrame, thresholds: DriftThresholds) -> alt.LayerChart:
    """The latest run's PSI per field, most drifted on top; the limits drawn down the chart."""
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y(
                "field:N",
                sort=list(frame["field"]),
                title=None,
                axis=alt.Axis(labelLimit=240, labelOverlap=False),
            ),
            x=alt.X("psi:Q", title="PSI against the training data"),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values())),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("field:N", title="Field"),
                alt.Tooltip("psi:Q", title="PSI", format=".3f"),
                alt.Tooltip("status:N", title="Status"),
            ],
        )
    )
    values = (
        alt.Chart(frame)
        .mark_text(align="left", dx=4, fontSize=11, color="#455a64")
        .encode(
            y=alt.Y("field:N", sort=list(frame["field"])),
            x="psi:Q",
            text=alt.Text("psi:Q", format=".2g"),  # 0.41, 0.15, 0.00042: tiny values stay seen
        )
    )
    layers: list[alt.Chart] = [bars, values]
    for value, text, color in _limits(thresholds):
        data = pd.DataFrame({"psi": [value], "label": [text]})
        layers.append(alt.Chart(data).mark_rule(color=color, strokeDash=[6, 4]).encode(x="psi:Q"))
        layers.append(
            alt.Chart(data)
            .mark_text(align="left", baseline="bottom", dx=3, y=-3, color=color)
            .encode(x="psi:Q", text="label:N")
        )
    # A step per field, not a fixed height: 20 fields must each keep a readable row.
    return alt.layer(*layers).properties(height=alt.Step(24))


def drift_chart(frame: pd.DataFrame, thresholds: DriftThresholds) -> alt.LayerChart:
    """PSI of each field at each scoring run; the watch and drift limits drawn across."""
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("when:T", title="Scoring run", axis=alt.Axis(format="%d %b %H:%M")),
            y=alt.Y("psi:Q", title="PSI against the training data"),
            color=alt.Color(
                "field:N", legend=alt.Legend(title="Field", orient="right", labelLimit=220)
            ),
            tooltip=[
                alt.Tooltip("run:N", title="Run"),
                alt.Tooltip("field:N", title="Field"),
                alt.Tooltip("psi:Q", title="PSI", format=".3f"),
                alt.Tooltip("status:N", title="Status"),
            ],
        )
    )
    limits = [layer for limit in _limits(thresholds) for layer in _limit(*limit)]
    return alt.layer(lines, *limits).properties(height=320)


def score_distribution_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Share of customers per score bin, the training reference beside the latest run."""
    order = list(frame.sort_values("order")["bin"].drop_duplicates())
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("bin:N", sort=order, title="Churn probability", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("source:N", sort=[REFERENCE, SCORED]),
            y=alt.Y("share:Q", title="Share of customers", axis=alt.Axis(format="%")),
            color=alt.Color(
                "source:N",
                scale=alt.Scale(domain=[REFERENCE, SCORED], range=[REFERENCE_COLOR, CURRENT_COLOR]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("source:N", title="Data"),
                alt.Tooltip("bin:N", title="Churn probability"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
    )
    return alt.layer(bars).properties(height=300)


def performance_chart(frame: pd.DataFrame, metric: str, holdout: float | None) -> alt.LayerChart:
    """`metric` by month of the score, one line per model version; the holdout as a line."""
    shown = frame[frame["metric"] == metric]
    lines = (
        alt.Chart(shown)
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(month):T", title="Month the scores were made"),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            color=alt.Color("model_version:N", legend=alt.Legend(title="Model", orient="bottom")),
            tooltip=[
                alt.Tooltip("yearmonth(month):T", title="Month"),
                alt.Tooltip("model_version:N", title="Model"),
                alt.Tooltip("value:Q", title=metric, format=".3f"),
                alt.Tooltip("n:Q", title="Customers", format=","),
            ],
        )
    )
    layers: list[alt.Chart] = [lines]
    if holdout is not None:
        layers += _limit(holdout, f"{HOLDOUT.lower()} ({holdout:.3f})", HOLDOUT_COLOR, "value")
    return alt.layer(*layers).properties(height=280)
