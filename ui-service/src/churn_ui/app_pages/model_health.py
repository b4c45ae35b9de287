"""Model health: which model serves and since when, how far the scored customers drift from the
data the model learned from, and how well its scores did once outcomes were known."""

from __future__ import annotations

import streamlit as st

from churn_ui.api.errors import ApiError, ApiNotFoundError
from churn_ui.api.health_models import DriftHistory, ModelsView, PerformanceHistory
from churn_ui.api.models import ModelInfo
from churn_ui.connection import client, model_info_or_last
from churn_ui.error_display import show_error
from churn_ui.health_charts import (
    drift_chart,
    latest_drift_chart,
    performance_chart,
    score_distribution_chart,
)
from churn_ui.health_view import (
    NO_REFERENCE,
    NO_REGISTRY,
    TREND_FIELDS,
    alias_lines,
    drift_frame,
    drift_summary,
    latest_frame,
    latest_score_frequencies,
    latest_table,
    most_moved,
    run_label,
    score_frame,
    versions_in_service,
    when_text,
)
from churn_ui.performance_view import (
    METRICS,
    holdout_for,
    overall_text,
    performance_frame,
    performance_summary,
    performance_table,
)

DRIFT_RUNS = 20


def _registry() -> ModelsView | None:
    """The registry's aliases, or None (said on the page) when the service cannot give them."""
    try:
        return client().models()
    except ApiNotFoundError:
        st.caption(
            "This scoring service does not report the registry's champion and challenger (an "
            "older version without `GET /monitoring/models`); the MLflow registry holds them."
        )
    except ApiError as exc:
        show_error(exc, "load the registry's champion and challenger")
    return None


def _models(info: ModelInfo | None, drift: DriftHistory | None) -> None:
    st.subheader("Champion and challenger")
    if info is not None:
        facts = {
            "Serving": f"version **{info.version}** of {info.name}"
            + (
                f" (alias `{info.alias}`)" if info.alias else " (a local folder, no registry alias)"
            ),
            "Trained": when_text(info.trained_at),
            "Loaded by the scoring service": when_text(info.loaded_at),
        }
        st.markdown("\n".join(f"- **{k}:** {v}" for k, v in facts.items()))
        if info.stale:
            st.warning(
                "The scoring service could not confirm the alias with the registry recently."
            )
    view = _registry()
    if view is not None and view.aliases is None:
        st.caption(NO_REGISTRY)
    elif view is not None:
        st.markdown("\n".join(f"- {line}" for line in alias_lines(view)))
        if view.served is not None and view.served.degraded:
            st.warning(
                f"Serving version {view.served.version} as a fallback: the champion could not "
                "be served (see the scoring service's /health/ready)."
            )
    if drift is not None and (versions := versions_in_service(drift)):
        listed = "the latest run" if len(drift.runs) == 1 else f"the last {len(drift.runs)} runs"
        st.markdown(
            f"**Versions that scored the customer base** ({listed}): " + "; ".join(versions) + "."
        )


def _drift(history: DriftHistory) -> None:
    st.subheader("Drift of the scored customers against the training data")
    summary = drift_summary(history)
    if not history.runs:
        st.info(summary, icon=":material/hourglass_empty:")
        return
    st.markdown(summary)
    frame = drift_frame(history)
    limits = history.thresholds
    if frame.empty:
        st.info("The scoring runs carry no per-field drift measurements.")
    else:
        st.altair_chart(latest_drift_chart(latest_frame(frame), limits), width="stretch")
        st.caption(
            "PSI (population stability index) of each field in the latest run, against the "
            f"customers the model learned from: under {limits.field_psi_watch:g} is stable, "
            f"{limits.field_psi_watch:g} to {limits.field_psi_drift:g} is worth watching, over "
            f"{limits.field_psi_drift:g} the field has drifted."
        )
        if frame["run_id"].nunique() > 1:
            st.markdown(f"**Over the last {frame['run_id'].nunique()} scoring runs**")
            st.altair_chart(drift_chart(most_moved(frame), limits), width="stretch")
            st.caption(
                f"The fields that moved most (at most {TREND_FIELDS}); every field of the "
                "latest run is in the table below."
            )
        else:
            st.caption("One scoring run so far: the trend over runs appears from the second.")
    with st.expander(f"Every field of the latest run ({run_label(history.runs[0])})"):
        st.dataframe(
            latest_table(history.runs[0], history.thresholds),
            hide_index=True,
            width="stretch",
            key="mh_latest_fields",
            column_config={
                "PSI": st.column_config.NumberColumn("PSI", format="%.3f"),
                "Test p-value": st.column_config.NumberColumn(
                    "Test p-value",
                    format="%.3g",
                    help="KS test (numbers) or chi-square test (categories) against training",
                ),
            },
        )
    _score_distribution(history)


def _score_distribution(history: DriftHistory) -> None:
    st.subheader("Score distribution against the training reference")
    if history.reference_score is None:
        st.info(NO_REFERENCE)
        return
    latest = latest_score_frequencies(history)
    current = latest[1] if latest else None
    st.altair_chart(
        score_distribution_chart(score_frame(history.reference_score, current)), width="stretch"
    )
    if latest is None:
        served = f" (version {history.model_version})" if history.model_version else ""
        st.caption(
            f"No scoring run of the served model{served} carries its score shares yet: the "
            "training reference alone."
        )
    else:
        run = latest[0]
        psi = f" (score PSI {run.score_psi:.3f})" if run.score_psi is not None else ""
        st.caption(
            f"Share of customers per churn probability bin: the training data against the run of "
            f"{run_label(run)}{psi}. The bins are the training scores' deciles."
        )


def _performance(history: PerformanceHistory) -> None:
    st.subheader("Realized performance, from outcomes")
    summary, alert = performance_summary(history)
    if not history.rows:
        st.info(summary, icon=":material/hourglass_empty:")
        return
    if alert:
        st.warning(summary, icon=":material/trending_down:")
    else:
        st.markdown(summary)
    overall = overall_text(history)
    if overall:
        st.markdown(overall)
    frame = performance_frame(history)
    shown = [name for name in METRICS.values() if name in set(frame["metric"])]
    if shown:
        metric = st.radio("Measure", shown, horizontal=True, key="mh_metric")
        holdout = holdout_for(history, metric)
        st.altair_chart(performance_chart(frame, metric, holdout), width="stretch")
        st.caption(
            "Each customer's outcome is judged against the latest score made before it, grouped "
            "by the month of that score and the model version that made it. The dashed line is "
            "the same measure on the training holdout."
        )
    st.dataframe(
        performance_table(history),
        hide_index=True,
        width="stretch",
        key="mh_performance",
        column_config={
            name: st.column_config.NumberColumn(name, format="%.3f") for name in METRICS.values()
        },
    )


def main() -> None:
    """Render the page."""
    st.title("Model health")
    st.caption(
        "Is the model still fit for the customers it scores? Drift compares each scoring run "
        "with the data the model learned from; realized performance compares its scores with "
        "what the customers then did."
    )
    info = model_info_or_last("load the served model")
    api = client()
    drift: DriftHistory | None = None
    try:
        drift = api.drift(DRIFT_RUNS)
    except ApiError as exc:
        _models(info, None)
        show_error(exc, "load the drift reports")
    else:
        _models(info, drift)
        _drift(drift)
    try:
        performance = api.performance()
    except ApiError as exc:
        show_error(exc, "load the realized performance")
    else:
        _performance(performance)


main()
