"""The customer store: scoring runs, customers with their latest score, score history.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types (a migration never follows later edits of schema.py).
Json = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _score_columns() -> list[sa.Column]:
    return [
        sa.Column("churn_probability", sa.Float, nullable=False),
        sa.Column("churn", sa.Boolean, nullable=False),
        sa.Column("risk_band", sa.String(32), nullable=False),
        sa.Column("expected_value", sa.Float, nullable=False),
        sa.Column("reasons", Json, nullable=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "scoring_runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("snapshot_uri", sa.Text, nullable=False),
        sa.Column("snapshot_sha256", sa.String(64), nullable=True),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_scored", sa.Integer, nullable=False),
        sa.Column("rows_rejected", sa.Integer, nullable=False),
        sa.Column("rejected_sample", Json, nullable=True),
        sa.Column("profit_curve", Json, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_scoring_runs_started_at", "scoring_runs", ["status", "started_at"])
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("attributes", Json, nullable=False),
        sa.Column("customer_value", sa.Float, nullable=False),
        sa.Column("value_source", sa.String(32), nullable=False),
        sa.Column("contract", sa.String(64), nullable=True),
        sa.Column("tenure", sa.Float, nullable=True),
        *_score_columns(),
    )
    # The call list's orders end with customer_id so that pages never overlap on ties.
    op.create_index(
        "ix_customers_expected_value",
        "customers",
        [sa.text("expected_value DESC"), "customer_id"],
    )
    op.create_index(
        "ix_customers_churn_probability",
        "customers",
        [sa.text("churn_probability DESC"), "customer_id"],
    )
    op.create_index(
        "ix_customers_band_expected_value",
        "customers",
        ["risk_band", sa.text("expected_value DESC"), "customer_id"],
    )
    op.create_index("ix_customers_contract", "customers", ["contract"])
    op.create_index("ix_customers_tenure", "customers", ["tenure"])
    op.create_table(
        "scores",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id",
            sa.String(64),
            sa.ForeignKey("customers.customer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        *_score_columns(),
        # customer_id leads the unique index, which serves the history lookup too.
        sa.UniqueConstraint(
            "customer_id",
            "snapshot_date",
            "model_name",
            "model_version",
            name="uq_scores_version",
        ),
    )


def downgrade() -> None:
    op.drop_table("scores")
    op.drop_table("customers")
    op.drop_table("scoring_runs")
