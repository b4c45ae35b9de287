"""The model: which one answers, how good it was on held-out customers, how it decides."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from churn_ui.api.errors import ApiError
from churn_ui.api.models import ModelInfo
from churn_ui.connection import model_info
from churn_ui.error_display import show_error
from churn_ui.wording import band_text, money, pct


def _when(stamp: str | None) -> str:
    if not stamp:
        return "unknown"
    try:
        return datetime.fromisoformat(stamp).strftime("%d %B %Y, %H:%M UTC")
    except ValueError:
        return stamp


def _metrics(info: ModelInfo) -> None:
    m = info.metrics
    n = int(m.get("n", 0))
    st.subheader("How well it did on customers it never saw in training")
    if n:
        churn_rate = m.get("churn_rate")
        st.caption(
            f"Measured on {n:,} held-out customers"
            + (f", of whom {pct(churn_rate)} actually left." if churn_rate is not None else ".")
        )
    rows: list[tuple[str, str, str]] = []
    if "recall" in m:
        rows.append(
            (
                "Leavers caught",
                pct(m["recall"]),
                "Of the customers who actually left, the share the model flagged.",
            )
        )
    if "precision" in m:
        rows.append(
            (
                "Flags that were right",
                pct(m["precision"]),
                "Of the customers the model flagged, the share who actually left.",
            )
        )
    if "roc_auc" in m:
        rows.append(
            (
                "Ranking quality (ROC AUC)",
                f"{m['roc_auc']:.3f}",
                f"A leaver is ranked above a stayer {pct(m['roc_auc'], 0)} of the time "
                "(0.5 = coin toss, 1 = perfect).",
            )
        )
    if "accuracy" in m:
        rows.append(
            ("Right decisions", pct(m["accuracy"]), "Share of customers classified correctly.")
        )
    if "brier" in m:
        rows.append(
            (
                "Probability error (Brier)",
                f"{m['brier']:.3f}",
                "How far the probabilities are from what happened; lower is better.",
            )
        )
    if "expected_value" in m:
        per = m.get("expected_value_per_customer")
        rows.append(
            (
                "Net value of the campaign",
                money(m["expected_value"]),
                "Offers to every flagged held-out customer, minus their cost"
                + (f" ({money(per)} per customer)." if per is not None else "."),
            )
        )
    if rows:
        st.dataframe(
            pd.DataFrame(rows, columns=["Measure", "Value", "What it means"]),
            hide_index=True,
            key="metrics_table",
        )
    else:
        st.info("The model carries no evaluation metrics.")


def _threshold(info: ModelInfo) -> None:
    t = info.threshold
    st.subheader("When it recommends a retention offer")
    st.markdown(
        f"The model recommends an offer when the churn probability is **{pct(t.value)}** or more."
    )
    if (
        t.strategy == "expected_value"
        and t.offer_cost is not None
        and t.saved_customer_value
        and t.offer_success_rate
    ):
        break_even = t.offer_cost / (t.offer_success_rate * t.saved_customer_value)
        text = (
            f"This threshold was chosen to **earn the most money** on held-out customers: an "
            f"offer costs {money(t.offer_cost)}, works {pct(t.offer_success_rate, 0)} of the "
            f"time, and a kept customer is worth {money(t.saved_customer_value)}. One offer "
            f"pays for itself on average above about {pct(break_even, 0)} churn probability."
        )
        if t.f1_optimal is not None:
            text += (
                f" A purely statistical choice (best F1 score) would have been "
                f"{pct(t.f1_optimal, 0)}"
            )
            at_f1 = info.metrics.get("expected_value_at_f1_threshold")
            if at_f1 is not None and "expected_value" in info.metrics:
                text += f", worth {money(at_f1)} instead of {money(info.metrics['expected_value'])}"
            text += "."
        st.markdown(text)
    else:
        st.markdown(f"Chosen by the `{t.strategy}` rule.")
    lower = 0.0
    bands = []
    for band in info.risk_bands:
        bands.append((band_text(band.name), f"{pct(lower, 0)} to {pct(band.upper, 0)}"))
        lower = band.upper
    st.markdown("**Risk bands:** " + " · ".join(f"{n}: {r}" for n, r in bands))


def main() -> None:
    """Render the page."""
    st.title("About the model")
    try:
        info = model_info()
    except ApiError as exc:
        show_error(exc, "load the model details")
        return
    facts = {
        "Model version": info.version,
        "Alias": info.alias or "none (loaded from a local folder)",
        "Trained": _when(info.trained_at),
        "Loaded": f"{_when(info.loaded_at)} from {info.source or 'unknown'}",
        "Name": info.name + (f" (run {info.run_id})" if info.run_id else ""),
    }
    st.markdown("\n".join(f"- **{k}:** {v}" for k, v in facts.items()))
    if info.stale:
        st.warning(
            "The scoring service could not check for a newer model recently and is serving the "
            "last one it loaded" + (f": {info.detail}" if info.detail else ".")
        )
    _metrics(info)
    _threshold(info)


main()
