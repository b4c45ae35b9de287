"""Customer: look a customer up by ID in the customer store; their attributes, latest score and
reasons, score history, and a what-if scored live from the stored attributes."""

from __future__ import annotations

import hashlib

import streamlit as st

from churn_ui.api.errors import ApiError, ApiNotFoundError
from churn_ui.api.models import CustomerRecord, FieldSpec, ModelInfo, Scalar, WhatIf
from churn_ui.charts import reasons_chart
from churn_ui.connection import client, model_info_or_last
from churn_ui.customer_view import (
    attribute_rows,
    change_text,
    clean_id,
    delta_text,
    history_frame,
    id_problem,
    overrides,
    value_caption,
    value_delta_text,
    when_text,
)
from churn_ui.error_display import show_error
from churn_ui.form_fields import field_widget
from churn_ui.store_charts import history_chart
from churn_ui.wording import band_text, group_title, money, pct, plain, reason_text

WHATIF_KEY = "customer_whatif"  # (customer ID, the what-if answer)


def _lookup() -> str | None:
    """The ID box (prefilled from `?customer=`); a looked-up ID goes into the URL."""
    current = clean_id(st.query_params.get("customer"))
    with st.form("customer_lookup"):
        typed = st.text_input("Customer ID", value=current or "", placeholder="e.g. 7590-VHVEG")
        submitted = st.form_submit_button("Look up", type="primary")
    if submitted:
        current = clean_id(typed)
        if current is None:
            st.query_params.pop("customer", None)
        else:
            st.query_params["customer"] = current
    return current


def _summary(record: CustomerRecord) -> None:
    latest = record.latest
    st.header(f"Customer {plain(record.customer_id)}")
    left, middle, right = st.columns(3)
    left.metric("Churn probability", pct(latest.churn_probability))
    middle.metric("Risk band", band_text(latest.risk_band))
    right.metric("Expected value of a retention offer", money(latest.expected_value))
    st.caption(
        f"{value_caption(record)} Latest score from model version {latest.model.version}"
        + (f", scored {when_text(latest.scored_at)}" if latest.scored_at else "")
        + (f" on the snapshot of {latest.snapshot_date}" if latest.snapshot_date else "")
        + "."
    )
    if latest.reasons:
        st.subheader("Why: the main reasons")
        st.altair_chart(
            reasons_chart(latest.reasons), width="stretch", height=60 + 40 * len(latest.reasons)
        )
        st.markdown("\n".join(f"- {reason_text(r)}" for r in latest.reasons))
        if latest.reasons_source == "live":
            served = f" (version {latest.reasons_model.version})" if latest.reasons_model else ""
            st.caption(
                "The scoring run stored no reasons for this customer: these were computed now "
                f"from the stored attributes by the served model{served}."
            )
    else:
        st.caption(
            "No reasons for this score: the scoring run stored none and the served model could "
            "not compute them now."
        )


def _details(record: CustomerRecord, info: ModelInfo | None) -> None:
    attributes_col, history_col = st.columns([1, 1.3])
    with attributes_col:
        st.subheader("Attributes")
        st.dataframe(
            attribute_rows(record, info.fields if info else []), hide_index=True, width="stretch"
        )
    with history_col:
        st.subheader("Score history")
        if record.history:
            st.altair_chart(history_chart(record), width="stretch")
        st.dataframe(
            history_frame(record),
            hide_index=True,
            width="stretch",
            column_config={
                "Churn probability": st.column_config.NumberColumn(format="percent"),
                "Expected value": st.column_config.NumberColumn(format="dollar"),
            },
        )


def _what_if_form(record: CustomerRecord, info: ModelInfo) -> dict[str, Scalar] | None:
    """The form prefilled with the stored attributes; returns the edited values when sent."""
    # Keys carry the customer, so another customer's form starts from their own attributes.
    prefix = "whatif_" + hashlib.sha256(record.customer_id.encode()).hexdigest()[:12] + "_"
    groups: dict[str, list[FieldSpec]] = {}
    for spec in info.fields:
        groups.setdefault(spec.group, []).append(spec)
    edited: dict[str, Scalar] = {}
    with st.form("whatif_form"):
        for column, (group, specs) in zip(st.columns(len(groups)), groups.items(), strict=True):
            with column:
                st.markdown(f"**{group_title(group)}**")
                for spec in specs:
                    edited[spec.name] = field_widget(
                        spec,
                        record.attributes.get(spec.name),
                        key=prefix + spec.name,
                        allow_empty=True,
                    )
        submitted = st.form_submit_button("Score the what-if", type="primary")
    return edited if submitted else None


def _what_if(record: CustomerRecord, info: ModelInfo | None) -> None:
    st.subheader("What if…")
    st.caption(
        "Change any field (a one-year contract, tech support, lower charges…) and compare the "
        "churn probability with the customer as stored. Only the fields you change are sent."
    )
    if info is None:
        st.info("The what-if needs the model's fields from the scoring service; try again.")
        return
    edited = _what_if_form(record, info)
    if edited is not None:
        changes = overrides(record.attributes, edited)
        if not changes:
            st.info("Nothing changed yet: change at least one field, then score the what-if.")
            st.session_state.pop(WHATIF_KEY, None)
            return
        try:
            result = client().what_if(record.customer_id, changes)
        except ApiError as exc:
            show_error(exc, "score the what-if")
            st.session_state.pop(WHATIF_KEY, None)
            return
        st.session_state[WHATIF_KEY] = (record.customer_id, result)
    saved: tuple[str, WhatIf] | None = st.session_state.get(WHATIF_KEY)
    if saved is None or saved[0] != record.customer_id:
        return
    _comparison(saved[1])


def _comparison(result: WhatIf) -> None:
    st.markdown(f"**What if** {change_text(result.overrides)}")
    before, after = st.columns(2)
    with before:
        st.metric("Churn probability as stored", pct(result.baseline.churn_probability))
        st.write(band_text(result.baseline.risk_band))
        st.metric("Expected value as stored", money(result.baseline.expected_value))
    with after:
        st.metric(
            "Churn probability with the change",
            pct(result.what_if.churn_probability),
            delta=delta_text(result),
            delta_color="inverse",
        )
        st.write(band_text(result.what_if.risk_band))
        st.metric(
            "Expected value with the change",
            money(result.what_if.expected_value),
            delta=value_delta_text(result),
            # Neither good nor bad: a safer customer makes an offer worth less.
            delta_color="off",
        )
    if result.what_if.reasons:
        st.markdown(
            "Main reasons with the change:\n"
            + "\n".join(f"- {reason_text(r)}" for r in result.what_if.reasons)
        )


def main() -> None:
    """Render the page."""
    st.title("Customer")
    st.caption("Look a customer up by ID, or open one from the call list.")
    customer_id = _lookup()
    if customer_id is None:
        st.info("Type a customer ID and press **Look up**.")
        return
    problem = id_problem(customer_id)
    if problem:
        st.error(f"Customer ID: {problem}")
        return
    try:
        record = client().customer(customer_id)
    except ApiNotFoundError as exc:
        st.error(plain(exc.message))  # it quotes the ID, which may come from a crafted link
        return
    except ApiError as exc:
        show_error(exc, "load this customer")
        return
    info = model_info_or_last("load the model's fields for the what-if")
    _summary(record)
    _details(record, info)
    _what_if(record, info)


main()
