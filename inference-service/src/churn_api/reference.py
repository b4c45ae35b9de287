"""reference.json (docs/model-bundle.md): what the training split looked like, typed and checked.

The trainer computes it on the rows the model learned from (after the contract's cleaning,
before encoding) and signs it with the rest of the bundle; drift.py compares against it.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from churn_api.contract import FeatureContract

REFERENCE_FILE = "reference.json"
QUANTILES = 101  # percentiles 0..100
_SUM_TOLERANCE = 1e-6

Category = str | int


class _Frozen(BaseModel):
    # Unknown keys are kept, not refused: a newer trainer may add to the format.
    model_config = ConfigDict(extra="allow", frozen=True)


def _check_frequencies(frequencies: list[float], expected: int, what: str) -> None:
    if len(frequencies) != expected:
        raise ValueError(f"{what}: {len(frequencies)} frequencies, expected {expected}")
    if any(not math.isfinite(f) or f < 0 for f in frequencies):
        raise ValueError(f"{what}: frequencies must be finite and >= 0")
    if frequencies and abs(sum(frequencies) - 1.0) > _SUM_TOLERANCE:
        raise ValueError(f"{what}: frequencies sum to {sum(frequencies)}, not 1")


def _check_bins(edges: list[float], frequencies: list[float], quantiles: list[float]) -> None:
    if any(not math.isfinite(e) for e in edges) or any(
        b <= a for a, b in itertools.pairwise(edges)
    ):
        raise ValueError("edges must be finite and strictly increasing")
    _check_frequencies(frequencies, len(edges) + 1, "bins")
    if len(quantiles) != QUANTILES:
        raise ValueError(f"{len(quantiles)} quantiles, expected {QUANTILES}")
    if any(not math.isfinite(q) for q in quantiles) or any(
        b < a for a, b in itertools.pairwise(quantiles)
    ):
        raise ValueError("quantiles must be finite and non-decreasing")


class NumericReference(_Frozen):
    """Bins fixed at training time (inner edges, training deciles) and 101 percentiles.

    A value v falls in bin searchsorted(edges, v, side="right"); frequencies are shares of the
    non-missing values (`count` of them); missing_rate is the share of all rows.
    """

    kind: Literal["numeric"] = "numeric"
    count: int = Field(ge=1)
    missing_rate: float = Field(ge=0, le=1)
    edges: list[float]
    frequencies: list[float]
    quantiles: list[float]

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_bins(self.edges, self.frequencies, self.quantiles)
        return self


class CategoricalReference(_Frozen):
    """The share of each category (in the contract's order) among the non-missing values."""

    kind: Literal["categorical"] = "categorical"
    count: int = Field(ge=1)
    missing_rate: float = Field(ge=0, le=1)
    categories: list[Category] = Field(min_length=1)
    frequencies: list[float]

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("duplicate categories")
        _check_frequencies(self.frequencies, len(self.categories), "categories")
        return self


FieldReference = Annotated[NumericReference | CategoricalReference, Field(discriminator="kind")]


class ScoreReference(_Frozen):
    """The calibrated churn probability's bins and percentiles on the training split."""

    source: str = "out-of-fold"
    count: int = Field(default=0, ge=0)
    edges: list[float]
    frequencies: list[float]
    quantiles: list[float]

    @model_validator(mode="after")
    def _check(self) -> Self:
        _check_bins(self.edges, self.frequencies, self.quantiles)
        return self


class Reference(_Frozen):
    """The whole reference.json, format 1."""

    format: Literal[1]
    rows: int = Field(ge=1)
    computed_on: str
    fields: dict[str, FieldReference] = Field(min_length=1)
    score: ScoreReference | None = None

    def check_against(self, contract: FeatureContract) -> None:
        """ValueError unless every field matches the contract's kind (and categories)."""
        specs = {spec.name: spec for spec in contract.fields}
        unknown = sorted(set(self.fields) - set(specs))
        if unknown:
            raise ValueError(f"reference field {unknown[0]} is not in the contract")
        for name, ref in self.fields.items():
            spec = specs[name]
            if ref.kind != spec.kind:
                raise ValueError(f"reference field {name} is {ref.kind}, the contract {spec.kind}")
            if isinstance(ref, CategoricalReference) and ref.categories != spec.categories:
                raise ValueError(f"reference field {name}: categories differ from the contract")


def parse_reference(data: bytes | str) -> Reference:
    """reference.json's bytes as a Reference; ValueError says, in one line, what is wrong."""
    try:
        return Reference.model_validate_json(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in e['loc']) or 'document'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:3]
        ]
        raise ValueError("; ".join(problems)) from None
