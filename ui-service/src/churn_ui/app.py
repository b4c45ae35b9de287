"""Streamlit entry point, the frame of every page: page setup, navigation, the status line and
the net for API errors a page did not expect. The pages themselves live in `app_pages/`.

When the API reports a customer store, the retention team's pages (Call list, Customer) come
first and the call list opens by default, and Model health (drift and realized performance, kept
in the store) follows Model; without a store none of them is shown."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from churn_ui.api.errors import ApiError
from churn_ui.error_display import show_error
from churn_ui.status_line import check_status, render_status, store_configured

# Not `pages/`: Streamlit would auto-discover that folder next to the entry file.
PAGES = Path(__file__).parent / "app_pages"

st.set_page_config(page_title="Churn console", page_icon=":material/trending_down:", layout="wide")

status = check_status()
with_store = store_configured(status)
# The retention team's pages, first, the call list opening by default, when there is a store.
customer_pages = (
    [
        st.Page(PAGES / "call_list.py", title="Call list", icon=":material/call:", default=True),
        st.Page(PAGES / "customer.py", title="Customer", icon=":material/badge:"),
    ]
    if with_store
    else []
)
# Drift reports and outcomes live in the customer store: no store, nothing to show.
health_pages = (
    [st.Page(PAGES / "model_health.py", title="Model health", icon=":material/monitor_heart:")]
    if with_store
    else []
)
navigation = st.navigation(
    [
        *customer_pages,
        st.Page(
            PAGES / "score.py",
            title="Score a customer",
            icon=":material/person_search:",
            default=not with_store,
        ),
        st.Page(PAGES / "batch.py", title="Batch scoring", icon=":material/upload_file:"),
        st.Page(PAGES / "model.py", title="Model", icon=":material/info:"),
        *health_pages,
    ]
)
render_status(status)
try:
    navigation.run()
except ApiError as exc:
    # Pages handle the failures they expect; this is the net for the rest: plain words only.
    show_error(exc)
