"""Logistic-regression baseline on the same split, so every report shows what boosting adds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn_training.contract import Threshold
from churn_training.data import CATEGORIES, INPUT_FIELDS, NUMERIC_BOUNDS
from churn_training.decision import Economics, choose_threshold


@dataclass(frozen=True)
class Baseline:
    """The fitted baseline and its own expected-value threshold (from out-of-fold scores)."""

    model: Pipeline
    threshold: Threshold

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(frame[INPUT_FIELDS])[:, 1]

    @property
    def params(self) -> dict[str, object]:
        return {"model": "logistic_regression", "threshold": self.threshold.value}


def make_baseline() -> Pipeline:
    categorical = [c for c in INPUT_FIELDS if c in CATEGORIES]
    numeric = [c for c in INPUT_FIELDS if c in NUMERIC_BOUNDS]
    encode = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("numeric", StandardScaler(), numeric),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=2000))])


def fit_baseline(
    train: pd.DataFrame, y: np.ndarray, folds: int, seed: int, econ: Economics
) -> Baseline:
    """Fit on the training split; choose its threshold on out-of-fold scores, as for XGBoost."""
    X = train[INPUT_FIELDS]
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof = cross_val_predict(make_baseline(), X, y, cv=cv, method="predict_proba")[:, 1]
    return Baseline(model=make_baseline().fit(X, y), threshold=choose_threshold(y, oof, econ))
