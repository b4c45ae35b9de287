"""The feature contract (docs/model-bundle.md), parsed and checked when a bundle loads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Category = str | int


class _ContractPart(BaseModel):
    """A part of the contract: frozen, and tolerant of keys this server does not know.

    Unknown keys are kept, not refused: a newer trainer may add information (drift references,
    reports) that an older server can ignore; every key this server relies on is typed here.
    """

    model_config = ConfigDict(extra="allow", frozen=True)


class FieldSpec(_ContractPart):
    """One input field as the training job describes it."""

    name: str
    kind: Literal["categorical", "numeric"]
    dtype: Literal["string", "integer", "number"]
    group: str = "account"
    categories: list[Category] | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: Category | float
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.kind == "categorical":
            if not self.categories:
                raise ValueError(f"categorical field {self.name} has no categories")
            if self.default not in self.categories:
                raise ValueError(f"default of {self.name} is not one of its categories")
        return self


class EncodedFeature(_ContractPart):
    """One column of the encoded float32 row."""

    name: str
    field: str
    category: Category | None = None


class ImputationRule(_ContractPart):
    """A missing `field` takes `value` (not its default) when `when_field` equals `equals`."""

    field: str
    when_field: str
    equals: Category | float
    value: Category | float


class Calibration(_ContractPart):
    """Isotonic (x, y) or sigmoid (a, b) mapping from raw to calibrated probability."""

    method: Literal["isotonic", "sigmoid", "none"]
    x: list[float] | None = None
    y: list[float] | None = None
    a: float | None = None
    b: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Calibration:
        if self.method == "isotonic":
            if not self.x or not self.y or len(self.x) != len(self.y):
                raise ValueError("isotonic calibration needs x and y of equal, non-zero length")
            if any(b < a for a, b in zip(self.x, self.x[1:], strict=False)):
                raise ValueError("isotonic calibration x must be ascending")
        if self.method == "sigmoid" and (self.a is None or self.b is None):
            raise ValueError("sigmoid calibration needs a and b")
        return self


class Threshold(_ContractPart):
    """The decision threshold and the business values behind it."""

    value: float = Field(ge=0, le=1)
    strategy: str = "expected_value"
    f1_optimal: float | None = None
    offer_cost: float = 0.0
    saved_customer_value: float = 0.0
    offer_success_rate: float = 0.0


class RiskBand(_ContractPart):
    """A named probability band: the first band whose upper exceeds p."""

    name: str
    upper: float


class FeatureContract(_ContractPart):
    """feature_contract.json, schema_version 1."""

    schema_version: Literal[1]
    model_name: str
    target: str = "Churn"
    id_field: str = "customerID"
    fields: list[FieldSpec]
    encoded_features: list[EncodedFeature]
    calibration: Calibration
    threshold: Threshold
    risk_bands: list[RiskBand]
    imputation_rules: list[ImputationRule] = []
    metrics: dict[str, object] = {}
    training: dict[str, object] = {}

    @model_validator(mode="after")
    def _check(self) -> FeatureContract:
        names = {f.name: f for f in self.fields}
        if len(names) != len(self.fields):
            raise ValueError("duplicate field names in the contract")
        for e in self.encoded_features:
            spec = names.get(e.field)
            if spec is None:
                raise ValueError(f"encoded feature {e.name} refers to unknown field {e.field}")
            if e.category is not None and e.category not in (spec.categories or []):
                raise ValueError(f"encoded feature {e.name}: {e.category!r} is not a category")
        for rule in self.imputation_rules:
            if rule.field not in names or rule.when_field not in names:
                raise ValueError(f"imputation rule for {rule.field} refers to an unknown field")
        if not self.risk_bands or any(
            b.upper <= a.upper for a, b in zip(self.risk_bands, self.risk_bands[1:], strict=False)
        ):
            raise ValueError("risk_bands must be non-empty with increasing upper bounds")
        return self
