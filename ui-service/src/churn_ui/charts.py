"""Altair charts: probability gauge, reasons, risk distribution, at-risk by contract."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from churn_ui.api.models import Reason, RiskBand
from churn_ui.wording import (
    BAND_COLORS,
    LOWERS_COLOR,
    RAISES_COLOR,
    band_text,
    label,
    pct,
    value_text,
)

_HALF_PI = math.pi / 2
_ANGLE = alt.Scale(domain=[0, 1], range=[-_HALF_PI, _HALF_PI])


def _band_color(name: str) -> str:
    return BAND_COLORS.get(name, "#607d8b")


def gauge(probability: float, bands: list[RiskBand], threshold: float) -> alt.LayerChart:
    """A half-circle gauge: coloured risk bands, the probability as a needle, the threshold."""
    lower = 0.0
    rows = []
    for band in bands:
        rows.append({"band": band_text(band.name), "start": lower, "end": band.upper})
        lower = band.upper
    segments = pd.DataFrame(rows)
    colors = alt.Scale(
        domain=[band_text(b.name) for b in bands], range=[_band_color(b.name) for b in bands]
    )
    arcs = (
        alt.Chart(segments)
        .mark_arc(innerRadius=70, outerRadius=110, opacity=0.35)
        .encode(
            theta=alt.Theta("start:Q", scale=_ANGLE),
            theta2="end:Q",
            color=alt.Color("band:N", scale=colors, legend=None),
            tooltip=["band:N"],
        )
    )
    filled = (
        alt.Chart(pd.DataFrame({"start": [0.0], "end": [probability]}))
        .mark_arc(innerRadius=70, outerRadius=110)
        .encode(
            theta=alt.Theta("start:Q", scale=_ANGLE),
            theta2="end:Q",
            color=alt.value(_band_color(_band_of(probability, bands))),
        )
    )
    tick = (
        alt.Chart(pd.DataFrame({"start": [threshold - 0.004], "end": [threshold + 0.004]}))
        .mark_arc(innerRadius=62, outerRadius=118, color="#212121")
        .encode(theta=alt.Theta("start:Q", scale=_ANGLE), theta2="end:Q")
    )
    text = (
        alt.Chart(pd.DataFrame({"label": [pct(probability)]}))
        .mark_text(fontSize=28, fontWeight="bold", dy=-10)
        .encode(text="label:N")
    )
    caption = (
        alt.Chart(pd.DataFrame({"label": [f"action threshold {pct(threshold, 0)} (black mark)"]}))
        .mark_text(fontSize=11, dy=20, color="#555")
        .encode(text="label:N")
    )
    return (
        alt.layer(arcs, filled, tick, text, caption)
        .properties(height=170, width=260)
        .configure_view(strokeWidth=0)
    )


def _band_of(probability: float, bands: list[RiskBand]) -> str:
    for band in bands:
        if probability < band.upper:
            return band.name
    return bands[-1].name if bands else ""


def reasons_chart(reasons: list[Reason]) -> alt.Chart:
    """Signed horizontal bars: to the right raises the risk, to the left lowers it."""
    data = pd.DataFrame(
        {
            "reason": [f"{label(r.field)}: {value_text(r.field, r.value)}" for r in reasons],
            "push": [r.contribution for r in reasons],
            "effect": [f"{r.effect} the risk" for r in reasons],
        }
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("push:Q", title="← lowers the risk · raises the risk →"),
            y=alt.Y("reason:N", sort=None, title=None, axis=alt.Axis(labelLimit=320)),
            color=alt.Color(
                "effect:N",
                scale=alt.Scale(
                    domain=["raises the risk", "lowers the risk"],
                    range=[RAISES_COLOR, LOWERS_COLOR],
                ),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["reason:N", "effect:N"],
        )
        .properties(height=max(120, 36 * len(reasons)))
    )


def risk_distribution(scored: pd.DataFrame, bands: list[RiskBand], threshold: float) -> alt.Chart:
    """Histogram of churn probabilities coloured by risk band, with the threshold marked."""
    data = pd.DataFrame(
        {
            "probability": scored["churn_probability"].astype(float),
            "band": [band_text(str(b)) for b in scored["risk_band"]],
        }
    )
    colors = alt.Scale(
        domain=[band_text(b.name) for b in bands], range=[_band_color(b.name) for b in bands]
    )
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "probability:Q",
                bin=alt.Bin(extent=[0, 1], step=0.05),
                title="Churn probability",
                axis=alt.Axis(format="%"),
            ),
            y=alt.Y("count():Q", title="Customers"),
            color=alt.Color("band:N", scale=colors, title="Risk band"),
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [threshold]}))
        .mark_rule(color="#212121", strokeDash=[4, 3])
        .encode(x="threshold:Q")
    )
    return alt.layer(bars, rule).properties(height=260)


def at_risk_by(scored: pd.DataFrame, column: str) -> alt.Chart:
    """Customers recommended for an offer, counted per value of `column` (e.g. Contract)."""
    flagged = scored[scored["recommend_offer"].fillna(False)]
    counts = flagged.groupby(column).size().reset_index(name="customers")
    return (
        alt.Chart(counts)
        .mark_bar(color=RAISES_COLOR)
        .encode(
            x=alt.X("customers:Q", title="At-risk customers"),
            y=alt.Y(f"{column}:N", sort="-x", title=label(column)),
            tooltip=[f"{column}:N", "customers:Q"],
        )
        .properties(height=max(120, 40 * len(counts)))
    )
