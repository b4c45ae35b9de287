"""churn_api.contract: a broken feature contract is refused at load."""

from __future__ import annotations

import json
from typing import Any

import pytest

from churn_api.contract import FeatureContract


def test_contract_checks_catch_broken_bundles(contract_data: dict[str, Any]) -> None:
    bad_category = json.loads(json.dumps(contract_data))
    bad_category["encoded_features"][0]["category"] = 7
    bad_bands = {
        **contract_data,
        "risk_bands": [{"name": "a", "upper": 0.5}, {"name": "b", "upper": 0.4}],
    }
    for data in (bad_category, bad_bands):
        with pytest.raises(ValueError, match=r"category|risk_bands"):
            FeatureContract.model_validate(data)
