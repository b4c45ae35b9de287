"""Call list: whom to call, ranked from the latest scores in the customer store, with filters,
a budget, the profit curve, a CSV of the shown list, and a way into each customer."""

from __future__ import annotations

import streamlit as st

from churn_ui.api.errors import ApiError
from churn_ui.api.models import CallListPage, ModelInfo
from churn_ui.call_list_view import (
    BAND,
    BUDGET_MODES,
    CUSTOMER,
    IN_BUDGET,
    PAGE_SIZES,
    PROBABILITY,
    RANK,
    REASON,
    SORTS,
    VALUE,
    CallListQuery,
    best_k_text,
    budget_text,
    export_csv,
    export_name,
    page_count,
    shown_range,
    table,
)
from churn_ui.connection import client, model_info_or_last
from churn_ui.error_display import show_error
from churn_ui.store_charts import profit_curve_chart
from churn_ui.wording import band_text, label

CUSTOMER_PAGE = "app_pages/customer.py"
PAGE_KEY = "call_list_page"
FILTERS_KEY = "_call_list_filters"
ALL = "All"
# Streamlit drops a widget's value once its page is left; written back through the Session State
# API on every run, the list stays as the user left it when they come back from a customer.
# Defaults live here, not in the widget calls (Streamlit warns when both set a value).
WIDGET_DEFAULTS: dict[str, object] = {
    "cl_sort": "expected_value",
    "cl_band": ALL,
    "cl_contract": ALL,
    "cl_min_tenure": None,
    "cl_max_tenure": None,
    "cl_budget_mode": "none",
    "cl_budget_calls": 250,
    "cl_budget_amount": 5000.0,
    "cl_size": 50,
    PAGE_KEY: 1,
}


def _keep_widget_values() -> None:
    """Before the widgets are drawn: each keeps its value, or takes its default."""
    for key, default in WIDGET_DEFAULTS.items():
        st.session_state[key] = st.session_state.get(key, default)


def _choices(info: ModelInfo | None) -> tuple[list[str], list[str]]:
    """The risk bands and contract types the API accepts (from `GET /model`)."""
    if info is None:
        return [], []
    bands = [b.name for b in info.risk_bands]
    contract = next((f for f in info.fields if f.name == "Contract"), None)
    contracts = [str(c) for c in (contract.categories or [])] if contract else []
    return bands, contracts


def _query(info: ModelInfo | None) -> CallListQuery:
    """The filter, sort, budget and paging widgets; returns what they ask for."""
    bands, contracts = _choices(info)
    _keep_widget_values()
    if st.session_state["cl_band"] not in [ALL, *bands]:
        st.session_state["cl_band"] = ALL  # e.g. a new model with other bands
    if st.session_state["cl_contract"] not in [ALL, *contracts]:
        st.session_state["cl_contract"] = ALL
    sort_col, band_col, contract_col, low_col, high_col = st.columns([1.4, 1, 1.2, 1, 1])
    with sort_col:
        sort = st.radio("Rank by", list(SORTS), format_func=SORTS.__getitem__, key="cl_sort")
    with band_col:
        band = st.selectbox(
            "Risk band",
            [ALL, *bands],
            key="cl_band",
            format_func=lambda b: b if b == ALL else band_text(b),
        )
    with contract_col:
        contract = st.selectbox(label("Contract"), [ALL, *contracts], key="cl_contract")
    with low_col:
        min_tenure = st.number_input(
            "Tenure from (months)", min_value=0, value=None, step=1, key="cl_min_tenure"
        )
    with high_col:
        max_tenure = st.number_input(
            "Tenure to (months)", min_value=0, value=None, step=1, key="cl_max_tenure"
        )
    mode_col, budget_col, size_col, page_col = st.columns([1.4, 1, 1.2, 2])
    with mode_col:
        mode = st.radio(
            "Budget",
            list(BUDGET_MODES),
            format_func=BUDGET_MODES.__getitem__,
            key="cl_budget_mode",
            horizontal=True,
        )
    with budget_col:
        budget = None
        if mode == "calls":
            budget = st.number_input(
                "Calls we can make", min_value=0, step=50, key="cl_budget_calls"
            )
        elif mode == "amount":
            budget = st.number_input(
                "Money for offers ($)",
                min_value=0.0,
                step=500.0,
                format="%.2f",
                key="cl_budget_amount",
            )
    with size_col:
        size = st.selectbox("Customers per page", PAGE_SIZES, key="cl_size")
    filters = (sort, band, contract, min_tenure, max_tenure, size)
    if st.session_state.get(FILTERS_KEY) != filters:
        # Another list: start again at its first page.
        st.session_state[FILTERS_KEY] = filters
        st.session_state[PAGE_KEY] = 1
    with page_col:
        page = st.number_input("Page", min_value=1, step=1, key=PAGE_KEY)
    return CallListQuery(
        sort=sort,
        band=None if band == ALL else band,
        contract=None if contract == ALL else contract,
        min_tenure=min_tenure,
        max_tenure=max_tenure,
        page_size=size,
        page=int(page),
        budget_mode=mode,
        budget=budget,
    )


def _open_customer(customer_id: str) -> None:
    st.switch_page(CUSTOMER_PAGE, query_params={"customer": customer_id})


def _list(query: CallListQuery, page: CallListPage) -> None:
    """The table, the way into a customer, and the CSV download."""
    pages = page_count(page.total, query.page_size)
    st.caption(f"{shown_range(page)} · page {query.page:,} of {pages:,}")
    if not page.customers:
        if page.total:
            st.info(f"This list has {pages:,} page(s): go back to an earlier page.")
        return
    frame = table(page)
    event = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="cl_table",
        column_config={
            RANK: st.column_config.NumberColumn(RANK, format="%d", width="small"),
            CUSTOMER: st.column_config.TextColumn(CUSTOMER),
            PROBABILITY: st.column_config.ProgressColumn(
                PROBABILITY, format="percent", min_value=0.0, max_value=1.0
            ),
            BAND: st.column_config.TextColumn(BAND, width="small"),
            VALUE: st.column_config.NumberColumn(
                VALUE, format="dollar", help="What a retention offer is worth on average"
            ),
            REASON: st.column_config.TextColumn(REASON, width="large"),
            IN_BUDGET: st.column_config.CheckboxColumn(IN_BUDGET, width="small"),
        },
    )
    selected = list(event.selection.rows) if event is not None else []
    if selected:
        _open_customer(str(frame.iloc[selected[0]][CUSTOMER]))
    pick_col, open_col, download_col = st.columns([2, 1, 1.4], vertical_alignment="bottom")
    with pick_col:
        chosen = st.selectbox(
            "Open a customer of this page (or select a row above)",
            list(frame[CUSTOMER]),
            key="cl_pick",
        )
    with open_col:
        if st.button("Open customer", key="cl_open") and chosen:
            _open_customer(str(chosen))
    with download_col:
        st.download_button(
            "Download the shown list (CSV)",
            export_csv(page),
            file_name=export_name(query),
            mime="text/csv",
            key="cl_download",
        )


def main() -> None:
    """Render the page."""
    st.title("Call list")
    st.caption(
        "Whom to call: customers ranked from their latest scores. Expected value is what a "
        "retention offer is worth on average for the customer (their own value, or 12 × monthly "
        "charges where the data has none)."
    )
    info = model_info_or_last("load the risk bands and contract types")
    query = _query(info)
    try:
        page = client().call_list(query.params())
    except ApiError as exc:
        show_error(exc, "load the call list")
        return
    for text in (budget_text(page.budget), best_k_text(page)):
        if text:
            st.markdown(text)
    _list(query, page)
    if page.profit_curve is not None:
        st.subheader("Profit curve of the customer base")
        budget_calls = page.budget.calls if page.budget is not None else None
        st.altair_chart(
            profit_curve_chart(page.profit_curve, query.sort, budget_calls), width="stretch"
        )
        st.caption(
            "The expected value of calling the top k customers, for every k: it rises while "
            "calls are worth more than they cost and falls after. The blue mark is the best k; "
            "the dashed line is your budget."
        )


main()
