"""The API's JSON bodies as pydantic models (what `GET /model`, `/predict` and friends return)."""

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
