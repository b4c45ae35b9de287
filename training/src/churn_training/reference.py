"""reference.json (docs/model-bundle.md): the training split's distributions, for drift checks.

Computed on the rows the model learned from, after the contract's cleaning and before encoding:
per field the bins fixed now (numeric: inner edges at the training deciles) with their shares,
101 percentiles, the categories' shares and the missing rate; the same for the calibrated score.
The API's churn_api/reference.py reads this format; it must not change without both sides.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn_training.contract import CategoricalField, EncodingContract

REFERENCE_FILE = "reference.json"
FORMAT = 1
COMPUTED_ON = "training split"
SCORE_SOURCE = "out-of-fold"
DECILES = np.arange(1, 10) / 10
PERCENTILES = np.linspace(0.0, 1.0, 101)


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def numeric_bins(values: np.ndarray) -> dict[str, Any]:
    """Inner edges (unique training deciles), share per bin, and 101 percentiles.

    A value v falls in bin searchsorted(edges, v, side="right"), the same rule the API uses.
    """
    edges = np.unique(np.quantile(values, DECILES))
    bins = np.searchsorted(edges, values, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return {
        "edges": _floats(edges),
        "frequencies": _floats(counts / len(values)),
        "quantiles": _floats(np.quantile(values, PERCENTILES)),
    }


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def numeric_field(column: pd.Series) -> dict[str, Any]:
    values = pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64)
    present = values[~np.isnan(values)]
    if not len(present):
        raise ValueError(f"reference: field {column.name} has no values in the training split")
    return {
        "kind": "numeric",
        "count": len(present),
        "missing_rate": float(1 - len(present) / len(values)),
        **numeric_bins(present),
    }


def categorical_field(column: pd.Series, spec: CategoricalField) -> dict[str, Any]:
    present = column[column.notna()].map(_python)
    counts = present.value_counts()
    unknown = sorted(str(v) for v in set(counts.index) - set(spec.categories))
    if unknown:
        raise ValueError(f"reference: field {spec.name} holds {unknown[0]!r}, not a category")
    if not len(present):
        raise ValueError(f"reference: field {spec.name} has no values in the training split")
    return {
        "kind": "categorical",
        "count": len(present),
        "missing_rate": float(1 - len(present) / len(column)),
        "categories": list(spec.categories),
        "frequencies": [float(counts.get(c, 0) / len(present)) for c in spec.categories],
    }


def build(train: pd.DataFrame, contract: EncodingContract, scores: np.ndarray) -> dict[str, Any]:
    """The reference document of the training split and its calibrated (out-of-fold) scores."""
    if len(scores) != len(train):
        raise ValueError(f"reference: {len(scores)} scores for {len(train)} training rows")
    fields: dict[str, Any] = {}
    for spec in contract.fields:
        column = train[spec.name]
        if isinstance(spec, CategoricalField):
            fields[spec.name] = categorical_field(column, spec)
        else:
            fields[spec.name] = numeric_field(column)
    scores = np.asarray(scores, dtype=np.float64)
    return {
        "format": FORMAT,
        "rows": len(train),
        "computed_on": COMPUTED_ON,
        "fields": fields,
        "score": {"source": SCORE_SOURCE, "count": len(scores), **numeric_bins(scores)},
    }


def write_reference(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=1) + "\n")
