"""What a scoring run writes: the run's record and one scored partition, column-wise."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np


@dataclass
class RunRecord:
    """One `churn-score run`: what was scored, with which model and engine."""

    snapshot_uri: str  # credentials stripped by the caller
    snapshot_date: date
    model_name: str
    model_version: str
    engine: str = "local"  # "local" | "dask"
    snapshot_sha256: str | None = None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class ScoredRows:
    """One scored partition, column-wise (lists or 1-d ndarrays of equal length).

    attributes: the validated values as /predict sees them (blank -> None, imputed fields NOT
    filled in); reasons: a list of reasons or None per row; scored_at: when it was scored.
    """

    customer_id: Sequence[str]
    attributes: Sequence[dict[str, Any]]
    customer_value: Sequence[float] | np.ndarray
    value_source: Sequence[str]
    contract: Sequence[str | None]
    tenure: Sequence[float | None] | np.ndarray
    churn_probability: Sequence[float] | np.ndarray
    churn: Sequence[bool] | np.ndarray
    risk_band: Sequence[str]
    expected_value: Sequence[float] | np.ndarray
    reasons: Sequence[list[dict[str, Any]] | None]
    scored_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __len__(self) -> int:
        return len(self.customer_id)

    def check(self) -> None:
        """ValueError unless every column has one value per customer."""
        n = len(self.customer_id)
        for name in (
            "attributes",
            "customer_value",
            "value_source",
            "contract",
            "tenure",
            "churn_probability",
            "churn",
            "risk_band",
            "expected_value",
            "reasons",
        ):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"ScoredRows.{name} has {len(getattr(self, name))} values, not {n}"
                )
