"""Batch scoring: upload a CSV, score it in chunks, rank the at-risk customers, download.

Test hook: the page scores whatever is in `st.session_state["batch_upload"]`, a
`(file_name, csv_bytes)` tuple. The file uploader only copies the uploaded file there, so tests
(Streamlit's AppTest cannot drive a file uploader) set that key and press the Score button.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from churn_ui.api.errors import ApiError
from churn_ui.api.models import ModelInfo
from churn_ui.batch_csv import ROW_COLUMN, CsvError, check_columns, check_size, read_csv
from churn_ui.batch_scoring import ScoredBatch, ranked_view, score_frame
from churn_ui.charts import at_risk_by, risk_distribution
from churn_ui.connection import client, model_info_or_last, settings
from churn_ui.error_display import show_error
from churn_ui.wording import band_text, money

UPLOAD_KEY = "batch_upload"
RESULT_KEY = "batch_result"
TABLE_COLUMNS = [
    "risk_rank",
    ROW_COLUMN,
    "customerID",
    "churn_probability",
    "risk_band",
    "recommend_offer",
    "expected_value",
    "top_reason",
    "Contract",
]


def _upload() -> tuple[str, bytes] | None:
    limits = settings()
    uploaded = st.file_uploader(
        "Customer file (CSV with the dataset's columns; other columns are kept)",
        type=["csv"],
        key="batch_file",
        max_upload_size=limits.max_upload_mb,
        help=f"Up to {limits.max_upload_mb:,} MB and {limits.max_upload_rows:,} customers a file.",
    )
    if uploaded is not None:
        try:
            # Checked before the bytes are copied: the browser's own check can be bypassed.
            check_size(uploaded.size, limits.max_upload_mb)
        except CsvError as exc:
            st.error(f"{uploaded.name}: {exc.message}")
            st.session_state.pop(UPLOAD_KEY, None)
            st.session_state.pop(RESULT_KEY, None)
            return None
        current = (uploaded.name, uploaded.getvalue())
        if st.session_state.get(UPLOAD_KEY) != current:
            st.session_state[UPLOAD_KEY] = current
            st.session_state.pop(RESULT_KEY, None)
    return st.session_state.get(UPLOAD_KEY)


def _score(info: ModelInfo, name: str, data: bytes) -> None:
    limits = settings()
    try:
        check_size(len(data), limits.max_upload_mb)
        frame = read_csv(data, max_rows=limits.max_upload_rows)
    except CsvError as exc:
        st.error(f"{name}: {exc.message}")
        return
    check = check_columns(list(frame.columns), info)
    if not check.ok:
        st.error(f"{name}: {check.problem()}")
        return
    if note := check.note():
        st.info(note)
    st.caption(f"{name}: {len(frame):,} customers")
    if not st.button("Score the file", type="primary", key="batch_score"):
        return
    bar = st.progress(0.0, text="Scoring…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Scored {done:,} of {total:,} rows")

    try:
        result = score_frame(client(), frame, info, limits.batch_chunk_rows, on_progress=progress)
    except CsvError as exc:
        st.error(exc.message)
        return
    except ApiError as exc:
        show_error(exc, "score the file (nothing was saved; your file is still loaded)")
        return
    st.session_state[RESULT_KEY] = (name, result)


def _results(info: ModelInfo, name: str, result: ScoredBatch) -> None:
    scored, rejected = result.scored, result.rejected
    flagged = scored[scored["recommend_offer"].fillna(False)]
    st.divider()
    st.header("Results")
    if result.failure:
        st.error(result.failure + " Upload the file again to score them.")
    kpis = st.columns(4)
    kpis[0].metric("Customers scored", f"{len(scored):,}")
    kpis[1].metric("Rows rejected", f"{len(rejected):,}")
    kpis[2].metric("Recommended for an offer", f"{len(flagged):,}")
    kpis[3].metric(
        "Expected value of those offers",
        money(float(flagged["expected_value"].sum()) if len(flagged) else 0.0),
    )
    st.caption(
        f"Scored by model version {result.model_version}. An offer is recommended at or above "
        f"{result.threshold:.0%} churn probability."
    )
    if rejected.shape[0]:
        st.subheader("Rows the scoring service rejected")
        st.warning(
            f"{len(rejected)} row(s) could not be scored. They are listed here and marked "
            "'rejected' in the download; fix them in the file and upload it again."
        )
        shown = [c for c in (ROW_COLUMN, "customerID", "rejection_reason") if c in rejected]
        st.dataframe(rejected[shown], hide_index=True, key="rejected_table")
    if scored.empty:
        st.info("No row could be scored.")
    else:
        _ranked(info, scored, result)
    st.download_button(
        "Download the scored file (CSV)",
        data=result.to_csv(),
        file_name=name.rsplit(".", 1)[0] + "_scored.csv",
        mime="text/csv",
        key="batch_download",
    )


def _ranked(info: ModelInfo, scored: pd.DataFrame, result: ScoredBatch) -> None:
    st.subheader("Customers ranked by churn risk")
    filters = st.columns(4)
    bands = [b.name for b in info.risk_bands]
    chosen = filters[0].multiselect(
        "Risk band", bands, default=bands, format_func=band_text, key="filter_band"
    )
    minimum = filters[1].slider(
        "Minimum churn probability", 0.0, 1.0, 0.0, 0.05, format="%.2f", key="filter_min"
    )
    contracts: list[str] = []
    if "Contract" in scored.columns:
        options = sorted(scored["Contract"].dropna().unique().tolist())
        contracts = filters[2].multiselect("Contract", options, key="filter_contract")
    offers_only = filters[3].toggle("Offer recommended only", key="filter_offers")
    view = ranked_view(result, chosen, minimum, contracts, offers_only)
    columns = [c for c in TABLE_COLUMNS if c in view.columns]
    st.dataframe(
        view[columns],
        hide_index=True,
        key="ranked_table",
        column_config={
            "risk_rank": st.column_config.NumberColumn("Rank"),
            ROW_COLUMN: st.column_config.NumberColumn("File row"),
            "churn_probability": st.column_config.ProgressColumn(
                "Churn probability", min_value=0.0, max_value=1.0, format="percent"
            ),
            "risk_band": "Risk band",
            "recommend_offer": st.column_config.CheckboxColumn("Offer?"),
            "expected_value": st.column_config.NumberColumn("Expected value", format="dollar"),
            "top_reason": "Top reason",
        },
    )
    st.caption(f"{len(view):,} of {len(scored):,} scored customers match the filters.")
    charts = st.columns(2)
    with charts[0]:
        st.markdown("**Risk distribution** (dashed line: action threshold)")
        st.altair_chart(risk_distribution(scored, info.risk_bands, result.threshold))
    if "Contract" in scored.columns:
        with charts[1]:
            st.markdown("**Customers recommended for an offer, by contract**")
            st.altair_chart(at_risk_by(scored, "Contract"))


def main() -> None:
    """Render the page."""
    st.title("Batch scoring")
    st.caption(
        "Upload a CSV of customers. Every row is scored; rows the service rejects are listed "
        "with the reason and kept, marked, in the download."
    )
    info = model_info_or_last("reach the scoring service")
    if info is None:
        return
    upload = _upload()
    if upload is not None:
        _score(info, *upload)
    saved = st.session_state.get(RESULT_KEY)
    if saved is not None:
        _results(info, *saved)


main()
