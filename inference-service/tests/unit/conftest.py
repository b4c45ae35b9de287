"""A small hand-written contract: enough to pin encoding and validation rules without a model."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from churn_api.contract import FeatureContract

SMALL_CONTRACT: dict[str, Any] = {
    "schema_version": 1,
    "model_name": "telco-churn",
    "fields": [
        {
            "name": "SeniorCitizen",
            "kind": "categorical",
            "dtype": "integer",
            "categories": [0, 1],
            "default": 0,
        },
        {
            "name": "tenure",
            "kind": "numeric",
            "dtype": "integer",
            "minimum": 0,
            "maximum": 120,
            "default": 29,
        },
        {
            "name": "Contract",
            "kind": "categorical",
            "dtype": "string",
            "categories": ["Month-to-month", "One year", "Two year"],
            "default": "Month-to-month",
        },
        {
            "name": "TotalCharges",
            "kind": "numeric",
            "dtype": "number",
            "minimum": 0,
            "maximum": 100000,
            "default": 1397.47,
        },
    ],
    "encoded_features": [
        {"name": "SeniorCitizen=0", "field": "SeniorCitizen", "category": 0},
        {"name": "SeniorCitizen=1", "field": "SeniorCitizen", "category": 1},
        {"name": "tenure", "field": "tenure"},
        {"name": "Contract=Month-to-month", "field": "Contract", "category": "Month-to-month"},
        {"name": "Contract=One year", "field": "Contract", "category": "One year"},
        {"name": "Contract=Two year", "field": "Contract", "category": "Two year"},
        {"name": "TotalCharges", "field": "TotalCharges"},
    ],
    "calibration": {"method": "isotonic", "x": [0.1, 0.5, 0.9], "y": [0.0, 0.4, 1.0]},
    "threshold": {"value": 0.3},
    "risk_bands": [
        {"name": "low", "upper": 0.3},
        {"name": "medium", "upper": 0.6},
        {"name": "high", "upper": 1.0},
    ],
}


@pytest.fixture
def contract_data() -> dict[str, Any]:
    """The small contract as JSON data (a fresh copy to change)."""
    return copy.deepcopy(SMALL_CONTRACT)


@pytest.fixture
def contract(contract_data: dict[str, Any]) -> FeatureContract:
    """The small contract, parsed."""
    return FeatureContract.model_validate(contract_data)
