"""churn_api.calibration: the contract's isotonic and sigmoid mappings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from churn_api.calibration import Calibrator
from churn_api.contract import FeatureContract


def test_isotonic_calibration_interpolates_and_clips(contract: FeatureContract) -> None:
    cal = Calibrator(contract)
    got = cal(np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.95], dtype=np.float32))
    assert got == pytest.approx([0.0, 0.0, 0.2, 0.4, 0.7, 1.0], abs=1e-6)
    assert [cal.one(float(v)) for v in (0.0, 0.3, 0.95)] == pytest.approx([0.0, 0.2, 1.0])


def test_sigmoid_calibration(contract_data: dict[str, Any]) -> None:
    data = {**contract_data, "calibration": {"method": "sigmoid", "a": 2.0, "b": -0.5}}
    cal = Calibrator(FeatureContract.model_validate(data))
    raw = np.array([0.2, 0.5, 0.9])
    expected = 1 / (1 + np.exp(-(2.0 * np.log(raw / (1 - raw)) - 0.5)))
    assert cal(raw) == pytest.approx(expected, abs=1e-12)
    assert [cal.one(float(v)) for v in raw] == pytest.approx(expected, abs=1e-12)
