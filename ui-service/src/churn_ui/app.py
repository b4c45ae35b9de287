"""Streamlit entry point: page setup and navigation (each page starts with the status line)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from churn_ui.client import ApiError
from churn_ui.common import show_error

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="Churn console", page_icon=":material/trending_down:", layout="wide")

navigation = st.navigation(
    [
        st.Page(
            PAGES / "score.py",
            title="Score a customer",
            icon=":material/person_search:",
            default=True,
        ),
        st.Page(PAGES / "batch.py", title="Batch scoring", icon=":material/upload_file:"),
        st.Page(PAGES / "model.py", title="Model", icon=":material/info:"),
    ]
)
try:
    navigation.run()
except ApiError as exc:
    # Pages handle the failures they expect; this is the net for the rest: plain words only.
    show_error(exc)
