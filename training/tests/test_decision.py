"""Expected value of retention offers and the threshold chosen from it."""

from __future__ import annotations

import numpy as np
import pytest

from churn_training.decision import Economics, choose_threshold, expected_value, value_curve

ECON = Economics(offer_cost=50.0, saved_customer_value=500.0, offer_success_rate=0.3)


def test_expected_value_counts_offers_and_saves() -> None:
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.4, 0.8, 0.1])
    # Offers at 0.5: customers 0 and 2; one churner saved 30 % of the time.
    assert expected_value(y, p, 0.5, ECON) == pytest.approx(1 * 0.3 * 500 - 2 * 50)
    assert expected_value(y, p, 0.95, ECON) == 0.0


def test_value_curve_covers_the_grid() -> None:
    curve = value_curve(np.array([0, 1]), np.array([0.2, 0.7]), ECON)
    assert list(curve.columns) == ["threshold", "expected_value", "f1", "offers"]
    assert curve["threshold"].iloc[0] == 0.01 and curve["threshold"].iloc[-1] == 0.99
    assert curve["offers"].is_monotonic_decreasing


def test_threshold_maximises_value_and_carries_its_economics() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=3000)
    y = (rng.uniform(size=3000) < p).astype(int)
    threshold = choose_threshold(y, p, ECON)
    # An offer pays when p * 0.3 * 500 > 50, i.e. p > 1/3, for calibrated scores.
    assert threshold.value == pytest.approx(1 / 3, abs=0.06)
    assert threshold.strategy == "expected_value" and 0 < threshold.f1_optimal < 1
    assert Economics.from_threshold(threshold) == ECON
