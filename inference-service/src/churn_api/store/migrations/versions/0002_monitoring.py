"""Monitoring: drift per scoring run, outcomes (what really happened), realized performance.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the column types (a migration never follows later edits of the schema).
Json = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drift_reports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(36),
            sa.ForeignKey("scoring_runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("field", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("psi", sa.Float, nullable=True),
        sa.Column("statistic", sa.Float, nullable=True),
        sa.Column("p_value", sa.Float, nullable=True),
        sa.Column("missing_rate", sa.Float, nullable=True),
        sa.Column("missing_rate_reference", sa.Float, nullable=True),
        sa.Column("unseen", Json, nullable=True),
        sa.Column("frequencies", Json, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "field", name="uq_drift_reports_run_field"),
    )
    op.create_table(
        "outcomes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id",
            sa.String(64),
            sa.ForeignKey("customers.customer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("churned", sa.Boolean, nullable=False),
        sa.Column("outcome_date", sa.Date, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.UniqueConstraint("customer_id", "outcome_date", name="uq_outcomes_customer_date"),
    )
    op.create_index("ix_outcomes_outcome_date", "outcomes", ["outcome_date"])
    op.create_table(
        "performance",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("positives", sa.Integer, nullable=False),
        sa.Column("roc_auc", sa.Float, nullable=True),
        sa.Column("pr_auc", sa.Float, nullable=True),
        sa.Column("brier", sa.Float, nullable=True),
        sa.Column("calibration_error", sa.Float, nullable=True),
        sa.Column("top_decile_precision", sa.Float, nullable=True),
        sa.Column("labels_uri", sa.Text, nullable=True),
    )
    op.create_index("ix_performance_computed_at", "performance", ["computed_at"])


def downgrade() -> None:
    op.drop_table("performance")
    op.drop_table("outcomes")
    op.drop_table("drift_reports")
