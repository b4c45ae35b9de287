"""The business decision: the value of retention offers and the threshold that maximises it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from churn_training.contract import Threshold
from churn_training.settings import TrainSettings

THRESHOLD_GRID = np.round(np.arange(0.01, 1.0, 0.01), 2)


@dataclass(frozen=True)
class Economics:
    """What a retention offer costs and what it saves."""

    offer_cost: float = 50.0
    saved_customer_value: float = 500.0
    offer_success_rate: float = 0.3

    @classmethod
    def from_settings(cls, settings: TrainSettings) -> Economics:
        return cls(
            offer_cost=settings.offer_cost,
            saved_customer_value=settings.saved_customer_value,
            offer_success_rate=settings.offer_success_rate,
        )

    @classmethod
    def from_threshold(cls, threshold: Threshold) -> Economics:
        """The economics a model's threshold was chosen with (stored beside it)."""
        return cls(**{name: getattr(threshold, name) for name in cls.__dataclass_fields__})


def expected_value(y: np.ndarray, p: np.ndarray, threshold: float, econ: Economics) -> float:
    """Realised value of offering to everyone at or above the threshold, on labelled data."""
    offered = p >= threshold
    saved = float(y[offered].sum()) * econ.offer_success_rate * econ.saved_customer_value
    return saved - float(offered.sum()) * econ.offer_cost


def value_curve(y: np.ndarray, p: np.ndarray, econ: Economics) -> pd.DataFrame:
    """Expected value, F1 and the number of offers at every threshold of the grid."""
    rows = []
    for t in THRESHOLD_GRID:
        predicted = (p >= t).astype(int)
        rows.append(
            {
                "threshold": float(t),
                "expected_value": expected_value(y, p, float(t), econ),
                "f1": float(f1_score(y, predicted, zero_division=0)),
                "offers": int(predicted.sum()),
            }
        )
    return pd.DataFrame(rows)


def choose_threshold(y: np.ndarray, p: np.ndarray, econ: Economics) -> Threshold:
    """The threshold with the highest expected value, and the F1-optimal one beside it."""
    curve = value_curve(y, p, econ)
    best_ev = curve.loc[curve["expected_value"].idxmax()]
    best_f1 = curve.loc[curve["f1"].idxmax()]
    return Threshold(
        value=float(best_ev["threshold"]),
        strategy="expected_value",
        f1_optimal=float(best_f1["threshold"]),
        **asdict(econ),
    )
