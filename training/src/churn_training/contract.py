"""The feature contract (docs/model-bundle.md) as typed, frozen models, written once per run.

The contract grows in three stages, each a new object: `EncodingContract` (known from the training
split alone), `ScoringContract` (plus what fitting decided) and `FeatureContract` (plus the holdout
metrics and the training record). The JSON keeps the key order the API has always read.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1

# SeniorCitizen's categories are the integers 0/1; every other field's are strings.
Category = str | int
# `int | float` keeps integers integers in the JSON (tenure's bounds are 0 and 120, not 0.0).
Number = int | float
Group = Literal["account", "services", "billing"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoricalField(_Frozen):
    """An input compared exactly against the categories seen in training, one-hot encoded."""

    name: str
    group: Group
    kind: Literal["categorical"] = "categorical"
    dtype: Literal["string", "integer"]
    categories: list[Category] = Field(min_length=1)
    default: Category
    description: str

    @model_validator(mode="after")
    def _default_is_a_category(self) -> Self:
        if self.default not in self.categories:
            raise ValueError(
                f"default {self.default!r} of {self.name} is not one of its categories"
            )
        return self


class NumericField(_Frozen):
    """An input used as its own value, within inclusive bounds."""

    name: str
    group: Group
    kind: Literal["numeric"] = "numeric"
    dtype: Literal["integer", "number"]
    minimum: Number
    maximum: Number
    default: Number
    description: str

    @model_validator(mode="after")
    def _default_within_bounds(self) -> Self:
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError(f"default {self.default} of {self.name} is outside its bounds")
        return self


FieldSpec = Annotated[CategoricalField | NumericField, Field(discriminator="kind")]


class EncodedFeature(_Frozen):
    """One column of the booster's row: a numeric field, or one category of a categorical one."""

    name: str
    field: str
    category: Category | None = None  # absent from the JSON for a numeric column


class ImputationRule(_Frozen):
    """A missing `field` takes `value` (not its default) when `when_field` equals `equals`."""

    field: str
    when_field: str
    equals: Category | float
    value: Category | float


class IsotonicCalibration(_Frozen):
    """Calibrated = numpy.interp(raw, x, y)."""

    method: Literal["isotonic"] = "isotonic"
    x: list[float] = Field(min_length=1)
    y: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(self.x) != len(self.y):
            raise ValueError("isotonic calibration needs x and y of equal length")
        if any(b < a for a, b in itertools.pairwise(self.x)):
            raise ValueError("isotonic calibration x must be ascending")
        return self


class SigmoidCalibration(_Frozen):
    """Calibrated = 1 / (1 + exp(-(a * logit(raw) + b)))."""

    method: Literal["sigmoid"] = "sigmoid"
    a: float
    b: float


Calibration = Annotated[IsotonicCalibration | SigmoidCalibration, Field(discriminator="method")]


class Threshold(_Frozen):
    """The decision threshold and the business values it was chosen with."""

    value: float = Field(ge=0, le=1)
    strategy: Literal["expected_value"] = "expected_value"
    f1_optimal: float = Field(ge=0, le=1)
    offer_cost: float
    saved_customer_value: float
    offer_success_rate: float


class RiskBand(_Frozen):
    """A named probability band: a probability falls in the first band whose upper exceeds it."""

    name: str
    upper: float


class TrainingInfo(_Frozen):
    """Where the model came from: data, split sizes, seed and library versions."""

    trained_at: str
    data_source: str
    data_sha256: str
    rows: int
    train_rows: int
    holdout_rows: int
    seed: int
    xgboost_version: str
    mlflow_version: str


class EncodingContract(_Frozen):
    """Known from the training split alone: the inputs and how they become the booster's row."""

    schema_version: Literal[1] = SCHEMA_VERSION
    model_name: str
    target: str
    id_field: str
    fields: list[FieldSpec]
    encoded_features: list[EncodedFeature]
    imputation_rules: list[ImputationRule]

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        specs = {f.name: f for f in self.fields}
        if len(specs) != len(self.fields):
            raise ValueError("duplicate field names in the contract")
        for feature in self.encoded_features:
            spec = specs.get(feature.field)
            if spec is None:
                raise ValueError(f"encoded feature {feature.name} refers to unknown field")
            categories = spec.categories if isinstance(spec, CategoricalField) else []
            if (feature.category is None) != (not categories):
                raise ValueError(f"encoded feature {feature.name} does not match its field's kind")
            if feature.category is not None and feature.category not in categories:
                raise ValueError(f"encoded feature {feature.name}: not a category of its field")
        for rule in self.imputation_rules:
            if rule.field not in specs or rule.when_field not in specs:
                raise ValueError(f"imputation rule for {rule.field} refers to an unknown field")
        return self

    @classmethod
    def extending(cls, earlier: EncodingContract, **added: Any) -> Self:
        """A contract of this (later) stage: `earlier` unchanged plus the fields it adds."""
        return cls(**dict(earlier), **added)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, as the pyfunc model and the API read them from the file."""
        return self.model_dump(exclude_none=True)


class ScoringContract(EncodingContract):
    """Adds what fitting decided; everything a scorer needs."""

    calibration: Calibration
    threshold: Threshold
    risk_bands: list[RiskBand] = Field(min_length=1)

    @model_validator(mode="after")
    def _bands_increase(self) -> Self:
        uppers = [band.upper for band in self.risk_bands]
        if any(b <= a for a, b in itertools.pairwise(uppers)):
            raise ValueError("risk_bands must have increasing upper bounds")
        return self


class FeatureContract(ScoringContract):
    """The whole feature_contract.json: adds the holdout metrics and the training record."""

    metrics: dict[str, float]
    training: TrainingInfo


def to_json(contract: FeatureContract) -> str:
    # json.dumps (not pydantic's serializer) keeps Python's float repr the file has always had.
    return json.dumps(contract.to_dict(), indent=2) + "\n"


def write_contract(contract: FeatureContract, path: Path) -> None:
    path.write_text(to_json(contract))


def read_contract(path: Path) -> FeatureContract:
    return FeatureContract.model_validate(json.loads(path.read_text()))
