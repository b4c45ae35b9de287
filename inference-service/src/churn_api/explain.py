"""Reasons: XGBoost pred_contribs summed back to the original fields, in plain words."""

from __future__ import annotations

from typing import Any

import numpy as np
import xgboost as xgb

from churn_api.features import Encoder

TOP_REASONS = 5


def field_contributions(
    booster: xgb.Booster, X: np.ndarray, encoder: Encoder
) -> tuple[np.ndarray, np.ndarray]:
    """Per-field log-odds contributions (n, fields) and the bias (n,); they sum to the margin."""
    contribs = booster.predict(xgb.DMatrix(X), pred_contribs=True, validate_features=False)
    contribs = np.asarray(contribs, dtype=np.float64).reshape(X.shape[0], -1)
    per_field = np.zeros((X.shape[0], len(encoder.field_names)), dtype=np.float64)
    np.add.at(per_field.T, encoder.feature_field, contribs[:, :-1].T)
    return per_field, contribs[:, -1]


def reason_text(field: str, value: Any, contribution: float) -> str:
    """'Contract = Month-to-month raises risk'."""
    return f"{field} = {value} {'raises' if contribution > 0 else 'lowers'} risk"


def top_reasons(
    per_field: np.ndarray, values: dict[str, Any], field_names: list[str], k: int = TOP_REASONS
) -> list[dict[str, Any]]:
    """The k fields with the largest absolute contribution, signed, with a sentence each."""
    order = np.argsort(-np.abs(per_field), kind="stable")[:k]
    reasons = []
    for j in order:
        c = float(per_field[j])
        name = field_names[j]
        reasons.append(
            {
                "field": name,
                "value": values[name],
                "contribution": c,
                "effect": "raises" if c > 0 else "lowers",
                "text": reason_text(name, values[name], c),
            }
        )
    return reasons
