"""The API's JSON bodies as pydantic models: `GET /model`, `/predict` and friends, and the
customer store's `/customers` routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None
Customer = Mapping[str, Scalar]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class FieldError(_Model):
    """One problem the API found, named by field."""

    field: str
    message: str


class FieldSpec(_Model):
    """One input field of the model, as `GET /model` describes it."""

    name: str
    kind: Literal["categorical", "numeric"]
    dtype: Literal["string", "integer", "number"]
    group: str = "account"
    categories: list[str | int] | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: str | int | float | None = None
    description: str = ""


class Threshold(_Model):
    """The decision threshold and the business values it was chosen with."""

    value: float
    strategy: str
    f1_optimal: float | None = None
    offer_cost: float | None = None
    saved_customer_value: float | None = None
    offer_success_rate: float | None = None


class RiskBand(_Model):
    """A named band of probabilities below `upper`."""

    name: str
    upper: float


class InputSchema(_Model):
    """The fields a customer record may carry."""

    fields: list[FieldSpec]
    id_field: str = "customerID"


class ModelInfo(_Model):
    """`GET /model`."""

    name: str
    version: str
    alias: str | None = None
    run_id: str | None = None
    source: str | None = None
    loaded_at: str | None = None
    trained_at: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    threshold: Threshold
    risk_bands: list[RiskBand]
    input_schema: InputSchema
    stale: bool = False
    detail: str | None = None

    @property
    def fields(self) -> list[FieldSpec]:
        """The model's input fields in dataset order."""
        return self.input_schema.fields


class Reason(_Model):
    """One field's push on the churn risk."""

    field: str
    value: Scalar = None
    contribution: float
    effect: Literal["raises", "lowers"]
    text: str = ""


class ModelRef(_Model):
    """Which model answered."""

    name: str
    version: str
    alias: str | None = None


class Prediction(_Model):
    """`POST /predict`."""

    customerID: str | None = None
    churn_probability: float
    churn: bool
    threshold: float
    risk_band: str
    expected_value: float
    imputed_fields: list[str] = Field(default_factory=list)
    model: ModelRef
    reasons: list[Reason] | None = None


class BatchRow(_Model):
    """One row of a batch answer: a prediction or the row's errors."""

    row: int
    ok: bool
    prediction: Prediction | None = None
    errors: list[FieldError] | None = None


class BatchResult(_Model):
    """`POST /predict/batch`."""

    model: ModelRef
    count: int
    succeeded: int
    failed: int
    results: list[BatchRow]


class Readiness(_Model):
    """`GET /health/ready` (both 200 and 503 answers)."""

    ready: bool
    model_version: str | None = None
    detail: str | None = None
    # "ok" | "unavailable" | "not configured"; None from an API without the customer store.
    store: str | None = None

    @property
    def has_store(self) -> bool:
        """Whether the API reports a customer store (reachable or not right now)."""
        return self.store is not None and self.store != "not configured"


# -- the customer store (`/customers...`) --


class ScoreEntry(_Model):
    """One stored score of a customer (an entry of the history)."""

    churn_probability: float
    churn: bool
    risk_band: str
    expected_value: float
    model: ModelRef
    scored_at: str | None = None
    snapshot_date: str | None = None
    run_id: str | None = None


class LatestScore(ScoreEntry):
    """The customer's latest score with its reasons (stored, or computed live by the API)."""

    reasons: list[Reason] | None = None
    # "stored" | "live" (computed now from the stored attributes) | "unavailable"
    reasons_source: str | None = None
    reasons_model: ModelRef | None = None


class CustomerRecord(_Model):
    """`GET /customers/{customer_id}`."""

    customer_id: str
    snapshot_date: str | None = None
    attributes: dict[str, Scalar]
    customer_value: float | None = None
    value_source: str | None = None
    latest: LatestScore
    history: list[ScoreEntry] = Field(default_factory=list)


class CallListRow(_Model):
    """One customer of the ranked call list."""

    rank: int
    customer_id: str
    churn_probability: float
    churn: bool
    risk_band: str
    expected_value: float
    customer_value: float | None = None
    value_source: str | None = None
    contract: str | None = None
    tenure: float | None = None
    reasons: list[Reason] | None = None
    model_version: str | None = None
    scored_at: str | None = None
    within_budget: bool | None = None


class ProfitPoint(_Model):
    """The expected value of calling the top `k` customers."""

    k: int
    expected_value: float


class ProfitCurve(_Model):
    """The expected value of calling the top k for every k, and the best k."""

    points: list[ProfitPoint]
    best_k: int
    best_expected_value: float


class ProfitCurves(_Model):
    """The base's profit curves, ranked by expected value and by churn probability."""

    by_expected_value: ProfitCurve
    by_churn_probability: ProfitCurve | None = None
    offer_cost: float | None = None


class Budget(_Model):
    """The budget applied to the list: calls it pays for, its amount, their expected value."""

    calls: int | None = None
    amount: float | None = None
    expected_value: float | None = None


class CallListPage(_Model):
    """`GET /customers`: one page of the ranked call list, with the total and the curves."""

    total: int
    limit: int
    offset: int
    sort: str
    filters: dict[str, Scalar] = Field(default_factory=dict)
    customers: list[CallListRow]
    budget: Budget | None = None
    profit_curve: ProfitCurves | None = None


class WhatIf(_Model):
    """`POST /customers/{customer_id}/predict`: the stored customer and the changed one."""

    customer_id: str
    overrides: dict[str, Scalar] = Field(default_factory=dict)
    baseline: Prediction
    what_if: Prediction
    delta: float
