"""Fit the probability calibration, chosen on out-of-fold predictions of the training split.

Applying a calibration has one home, `pyfunc_model.apply_calibration`, the code the logged model
and the training job's evaluation both run; this module only fits and chooses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

from churn_training.contract import Calibration, IsotonicCalibration, SigmoidCalibration
from churn_training.pyfunc_model import apply_calibration

METHODS = ("isotonic", "sigmoid")


@dataclass(frozen=True)
class CalibrationChoice:
    """The chosen mapping (as stored in the contract) and the cross-validated Brier of each."""

    mapping: Calibration
    brier: dict[str, float]

    @property
    def method(self) -> str:
        return self.mapping.method


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def fit_mapping(method: str, raw: np.ndarray, y: np.ndarray) -> Calibration:
    """Fit one calibration method and export it as plain numbers (applied without sklearn)."""
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return IsotonicCalibration(
            x=[float(v) for v in iso.X_thresholds_], y=[float(v) for v in iso.y_thresholds_]
        )
    if method == "sigmoid":
        # Platt scaling on the log-odds; a large C keeps it an (almost) unregularised fit.
        lr = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), y)
        return SigmoidCalibration(a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
    raise ValueError(f"unknown calibration method {method!r}")


def choose(raw_oof: np.ndarray, y: np.ndarray, seed: int, folds: int = 5) -> CalibrationChoice:
    """Pick the method with the lower Brier score in a cross-validation over the OOF scores."""
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    brier: dict[str, float] = {}
    for method in METHODS:
        calibrated = np.zeros_like(raw_oof)
        for fit_idx, eval_idx in cv.split(raw_oof.reshape(-1, 1), y):
            mapping = fit_mapping(method, raw_oof[fit_idx], y[fit_idx])
            calibrated[eval_idx] = apply_calibration(mapping.model_dump(), raw_oof[eval_idx])
        brier[method] = float(brier_score_loss(y, calibrated))
    best = min(METHODS, key=lambda m: brier[m])
    return CalibrationChoice(mapping=fit_mapping(best, raw_oof, y), brier=brier)
