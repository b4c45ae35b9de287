"""Choosing and fitting the calibration; applying it is the pyfunc model's (one home)."""

from __future__ import annotations

import numpy as np
import pytest

from churn_training import calibration
from churn_training.contract import IsotonicCalibration, SigmoidCalibration
from churn_training.pyfunc_model import apply_calibration


def _overconfident(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores pushed towards 0 and 1: the truth is much milder."""
    rng = np.random.default_rng(5)
    true_p = rng.uniform(0.05, 0.95, size=n)
    y = (rng.uniform(size=n) < true_p).astype(int)
    logit = np.log(true_p / (1 - true_p))
    return 1 / (1 + np.exp(-3 * logit)), y


def test_fit_mapping_exports_plain_numbers() -> None:
    raw, y = _overconfident()
    iso = calibration.fit_mapping("isotonic", raw, y)
    assert isinstance(iso, IsotonicCalibration) and iso.x == sorted(iso.x)
    sig = calibration.fit_mapping("sigmoid", raw, y)
    assert isinstance(sig, SigmoidCalibration)
    assert sig.a == pytest.approx(1 / 3, abs=0.08)  # undoes the factor 3 on the log-odds
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        calibration.fit_mapping("beta", raw, y)


def test_choose_improves_brier_and_keeps_both_scores() -> None:
    raw, y = _overconfident()
    chosen = calibration.choose(raw, y, seed=1, folds=3)
    assert set(chosen.brier) == {"isotonic", "sigmoid"}
    assert chosen.method == min(chosen.brier, key=chosen.brier.get)
    calibrated = apply_calibration(chosen.mapping.model_dump(), raw)
    assert np.mean((calibrated - y) ** 2) < np.mean((raw - y) ** 2)
