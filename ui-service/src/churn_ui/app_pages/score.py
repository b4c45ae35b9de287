"""Score a customer: a form built from the model's input schema, the result and a what-if."""

from __future__ import annotations

from typing import Any

import streamlit as st

from churn_ui.api.errors import ApiError
from churn_ui.api.models import FieldSpec, ModelInfo, Prediction, Scalar
from churn_ui.charts import gauge, reasons_chart
from churn_ui.connection import client, model_info_or_last
from churn_ui.error_display import show_error
from churn_ui.form_fields import field_widget
from churn_ui.wording import (
    band_text,
    decision_text,
    group_title,
    label,
    money,
    pct,
    reason_text,
    value_text,
)

CUSTOMER_KEY = "score_customer"  # the last submitted customer, kept across pages and errors
RESULT_KEY = "score_result"
WHATIF_KEY = "score_whatif"
WHATIF_FIELDS = ("Contract", "PaymentMethod")
TECH_SUPPORT = "TechSupport"


def _widget(spec: FieldSpec, saved: dict[str, Scalar]) -> Any:
    return field_widget(spec, saved.get(spec.name, spec.default), key=f"field_{spec.name}")


def _form(info: ModelInfo) -> dict[str, Scalar] | None:
    """The customer form, grouped; returns the customer when submitted."""
    saved: dict[str, Scalar] = st.session_state.get(CUSTOMER_KEY, {})
    groups: dict[str, list[FieldSpec]] = {}
    for spec in info.fields:
        groups.setdefault(spec.group, []).append(spec)
    with st.form("customer_form"):
        customer_id = st.text_input(
            "Customer ID (optional)", value=str(saved.get(info.input_schema.id_field) or "")
        )
        values: dict[str, Scalar] = {}
        for column, (group, specs) in zip(st.columns(len(groups)), groups.items(), strict=True):
            with column:
                st.subheader(group_title(group))
                for spec in specs:
                    values[spec.name] = _widget(spec, saved)
        submitted = st.form_submit_button("Score this customer", type="primary")
    if not submitted:
        return None
    customer: dict[str, Scalar] = {}
    if customer_id.strip():
        customer[info.input_schema.id_field] = customer_id.strip()
    customer.update(values)
    st.session_state[CUSTOMER_KEY] = customer
    return customer


def _result(info: ModelInfo, customer: dict[str, Scalar], prediction: Prediction) -> None:
    st.divider()
    who = customer.get(info.input_schema.id_field)
    st.header(f"Result for {who}" if who else "Result")
    left, middle, right = st.columns([1, 1.3, 1.4])
    with left:
        st.metric("Churn probability", pct(prediction.churn_probability))
        st.markdown(f"**{band_text(prediction.risk_band)}**")
        decide = st.error if prediction.churn else st.success
        decide(decision_text(prediction.churn_probability, prediction.threshold))
    with middle:
        st.altair_chart(
            gauge(prediction.churn_probability, info.risk_bands, prediction.threshold),
            width="content",
        )
    with right:
        st.metric("Expected value of a retention offer", money(prediction.expected_value))
        st.caption(
            "What an offer is worth on average for this customer: the chance they would leave "
            "× the chance the offer keeps them × the value of a kept customer − the offer cost."
        )
        if prediction.imputed_fields:
            st.caption(
                "Filled in with typical values: "
                + ", ".join(label(f) for f in prediction.imputed_fields)
            )
    reasons = prediction.reasons or []
    if reasons:
        st.subheader("Why: the main reasons")
        st.altair_chart(reasons_chart(reasons), width="stretch", height=60 + 40 * len(reasons))
        st.markdown("\n".join(f"- {reason_text(r)}" for r in reasons))
    _what_if(info, customer, prediction)


def _what_if(info: ModelInfo, customer: dict[str, Scalar], current: Prediction) -> None:
    specs = {f.name: f for f in info.fields}
    st.subheader("What if…")
    st.caption("Try a retention lever and compare the churn probability side by side.")
    changes: dict[str, Scalar] = {}
    columns = st.columns(3)
    for column, name in zip(columns, WHATIF_FIELDS, strict=False):
        spec = specs.get(name)
        if spec is None or not spec.categories:
            continue
        with column:
            options = list(spec.categories)
            now = customer.get(name)
            choice = st.selectbox(
                f"{label(name)} instead",
                options,
                index=options.index(now) if now in options else 0,
                key=f"whatif_{name}",
            )
            if choice != now:
                changes[name] = choice
    tech = specs.get(TECH_SUPPORT)
    if tech is not None and tech.categories and "Yes" in tech.categories:
        with columns[2]:
            has_internet = customer.get("InternetService") != "No"
            already = customer.get(TECH_SUPPORT) == "Yes"
            add = st.checkbox(
                "Add tech support",
                value=already,
                disabled=already or not has_internet,
                key="whatif_tech",
                help=None if has_internet else "Tech support needs an internet service.",
            )
            if add and not already:
                changes[TECH_SUPPORT] = "Yes"
    if st.button("Compare", disabled=not changes, key="whatif_compare"):
        changed = {**customer, **changes}
        try:
            alternative = client().predict(changed, explain=False)
        except ApiError as exc:
            show_error(exc, "score the what-if")
            return
        st.session_state[WHATIF_KEY] = (changes, alternative)
    saved = st.session_state.get(WHATIF_KEY)
    if not saved:
        return
    applied, alternative = saved
    now_col, then_col = st.columns(2)
    with now_col:
        st.markdown("**As is**")
        st.metric("Churn probability now", pct(current.churn_probability))
        st.write(band_text(current.risk_band))
    with then_col:
        st.markdown(
            "**What if** "
            + ", ".join(f"{label(k)} = {value_text(k, v)}" for k, v in applied.items())
        )
        delta = (alternative.churn_probability - current.churn_probability) * 100
        st.metric(
            "Churn probability with the change",
            pct(alternative.churn_probability),
            delta=f"{delta:+.1f} points",
            delta_color="inverse",
        )
        st.write(band_text(alternative.risk_band))
        st.caption(decision_text(alternative.churn_probability, alternative.threshold))


def main() -> None:
    """Render the page."""
    st.title("Score a customer")
    st.caption("Fill in what you know about the customer and press **Score this customer**.")
    info = model_info_or_last("load the form from the scoring service")
    if info is None:
        st.button("Try again")
        return
    customer = _form(info)
    if customer is not None:
        try:
            prediction = client().predict(customer, explain=True)
        except ApiError as exc:
            show_error(exc, "score this customer")
            st.session_state.pop(RESULT_KEY, None)
            return
        st.session_state[RESULT_KEY] = (customer, prediction)
        st.session_state.pop(WHATIF_KEY, None)
    result = st.session_state.get(RESULT_KEY)
    if result is not None:
        _result(info, *result)


main()
