"""The customer store's tables: the only module that names their columns."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSONB on PostgreSQL (binary, compact); plain JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

scoring_runs = Table(
    "scoring_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("snapshot_uri", Text, nullable=False),
    Column("snapshot_sha256", String(64), nullable=True),
    Column("snapshot_date", Date, nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(100), nullable=False),
    Column("engine", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_scored", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("rejected_sample", Json, nullable=True),
    Column("profit_curve", Json, nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_scoring_runs_started_at", "status", "started_at"),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("snapshot_date", Date, nullable=False),
    Column("attributes", Json, nullable=False),
    Column("customer_value", Float, nullable=False),
    Column("value_source", String(32), nullable=False),
    Column("contract", String(64), nullable=True),
    Column("tenure", Float, nullable=True),
    # The latest score, denormalised: the call list reads one table.
    Column("churn_probability", Float, nullable=False),
    Column("churn", Boolean, nullable=False),
    Column("risk_band", String(32), nullable=False),
    Column("expected_value", Float, nullable=False),
    Column("reasons", Json, nullable=True),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(100), nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(36), nullable=False),
)
# The call list's orders end with customer_id so that pages never overlap on ties.
Index("ix_customers_expected_value", customers.c.expected_value.desc(), customers.c.customer_id)
Index(
    "ix_customers_churn_probability",
    customers.c.churn_probability.desc(),
    customers.c.customer_id,
)
Index(
    "ix_customers_band_expected_value",
    customers.c.risk_band,
    customers.c.expected_value.desc(),
    customers.c.customer_id,
)
Index("ix_customers_contract", customers.c.contract)
Index("ix_customers_tenure", customers.c.tenure)

scores = Table(
    "scores",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "customer_id",
        String(64),
        ForeignKey("customers.customer_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("snapshot_date", Date, nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(100), nullable=False),
    Column("run_id", String(36), nullable=False),
    Column("churn_probability", Float, nullable=False),
    Column("churn", Boolean, nullable=False),
    Column("risk_band", String(32), nullable=False),
    Column("expected_value", Float, nullable=False),
    Column("reasons", Json, nullable=True),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    # customer_id leads the unique index, which serves the history lookup too.
    UniqueConstraint(
        "customer_id", "snapshot_date", "model_name", "model_version", name="uq_scores_version"
    ),
)
