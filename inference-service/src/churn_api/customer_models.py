"""The /customers response bodies, for the OpenAPI document (the routes build plain dicts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from churn_api.responses import Prediction, Reason


class _Body(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


class ModelName(_Body):
    name: str
    version: str


class StoredScore(_Body):
    """One score of a customer (the latest, or one of the history)."""

    churn_probability: float = Field(ge=0, le=1)
    churn: bool
    risk_band: str
    expected_value: float = Field(description="p x offer success rate x value - offer cost")
    model: ModelName
    scored_at: str
    snapshot_date: str
    run_id: str


class LatestScore(StoredScore):
    reasons: list[Reason] | None
    reasons_source: Literal["stored", "live", "unavailable"] = Field(
        description="live: computed now from the stored attributes with the served model"
    )
    reasons_model: ModelName | None = None


class CustomerRecord(_Body):
    """GET /customers/{customer_id}."""

    customer_id: str
    snapshot_date: str
    attributes: dict[str, str | int | float | None]
    customer_value: float
    value_source: Literal["customer_value", "12 x MonthlyCharges", "none"]
    latest: LatestScore
    history: list[StoredScore] = Field(description="newest first")


class CallListRow(_Body):
    rank: int = Field(ge=1, description="1-based position in the whole list")
    customer_id: str
    churn_probability: float
    churn: bool
    risk_band: str
    expected_value: float
    customer_value: float
    value_source: str
    contract: str | None
    tenure: float | None
    reasons: list[Reason] | None
    model_version: str
    scored_at: str
    within_budget: bool | None = Field(description="null when no budget was given")


class Budget(_Body):
    calls: int = Field(description="calls the budget buys (at most the list's total)")
    amount: float | None = Field(description="what those calls cost (calls x offer cost)")
    expected_value: float | None = Field(description="expected value of making those calls")
    requested: dict[str, float | None]


class CurvePoint(_Body):
    k: int
    expected_value: float


class ProfitCurve(_Body):
    points: list[CurvePoint]
    best_k: int
    best_expected_value: float


class ProfitCurves(_Body):
    """The whole base's expected value of calling the top k, for every k (the latest run)."""

    by_expected_value: ProfitCurve
    by_churn_probability: ProfitCurve
    offer_cost: float


class CallList(_Body):
    """GET /customers."""

    total: int
    limit: int
    offset: int
    sort: Literal["expected_value", "churn_probability"]
    filters: dict[str, str | float | None]
    customers: list[CallListRow]
    budget: Budget | None
    profit_curve: ProfitCurves | None


class WhatIfPrediction(Prediction):
    customer_value: float


class WhatIf(_Body):
    """POST /customers/{customer_id}/predict."""

    customer_id: str
    overrides: dict[str, str | int | float | None]
    baseline: WhatIfPrediction
    what_if: WhatIfPrediction
    delta: float = Field(description="what_if.churn_probability - baseline.churn_probability")
