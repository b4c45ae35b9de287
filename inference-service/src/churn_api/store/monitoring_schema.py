"""The monitoring tables (revision 0002): drift per scoring run, outcomes, realized performance.

Defined on the store's one MetaData, beside schema.py's tables; only this module names their
columns.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from churn_api.store.schema import BigId, Json, metadata

drift_reports = Table(
    "drift_reports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "run_id",
        String(36),
        ForeignKey("scoring_runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    # A contract field, or "__score__" (drift.SCORE_FIELD) for the score's PSI.
    Column("field", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # numeric | categorical | score
    Column("n", Integer, nullable=False),
    Column("psi", Float, nullable=True),
    Column("statistic", Float, nullable=True),
    Column("p_value", Float, nullable=True),
    Column("missing_rate", Float, nullable=True),
    Column("missing_rate_reference", Float, nullable=True),
    Column("unseen", Json, nullable=True),
    # The score row's current bin shares (over the reference's score bins).
    Column("frequencies", Json, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("run_id", "field", name="uq_drift_reports_run_field"),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "customer_id",
        String(64),
        ForeignKey("customers.customer_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("churned", Boolean, nullable=False),
    Column("outcome_date", Date, nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Column("source", Text, nullable=False),  # the labels' URI, no credentials
    UniqueConstraint("customer_id", "outcome_date", name="uq_outcomes_customer_date"),
)
Index("ix_outcomes_outcome_date", outcomes.c.outcome_date)

performance = Table(
    "performance",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # Every row of one computation shares computed_at: the latest set is the current one.
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(100), nullable=False),
    Column("month", String(7), nullable=False),  # 'YYYY-MM' of the scores' snapshot, or 'all'
    Column("n", Integer, nullable=False),
    Column("positives", Integer, nullable=False),
    Column("roc_auc", Float, nullable=True),
    Column("pr_auc", Float, nullable=True),
    Column("brier", Float, nullable=True),
    Column("calibration_error", Float, nullable=True),
    Column("top_decile_precision", Float, nullable=True),
    Column("labels_uri", Text, nullable=True),
)
Index("ix_performance_computed_at", performance.c.computed_at)
