"""The feature contract: inputs, encoding and defaults, derived from training data only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn_training.data import (
    CATEGORIES,
    FIELD_GROUPS,
    INPUT_FIELDS,
    INTEGER_COLUMNS,
    NUMERIC_BOUNDS,
    TARGET,
)
from churn_training.pyfunc_model import encode_records

SCHEMA_VERSION = 1

DESCRIPTIONS = {
    "gender": "Customer gender",
    "SeniorCitizen": "1 if the customer is 65 or older, else 0",
    "Partner": "Whether the customer has a partner",
    "Dependents": "Whether the customer has dependents",
    "tenure": "Months the customer has been with the company",
    "PhoneService": "Whether the customer has phone service",
    "MultipleLines": "Whether the customer has multiple phone lines",
    "InternetService": "Internet service provider type",
    "OnlineSecurity": "Online security add-on",
    "OnlineBackup": "Online backup add-on",
    "DeviceProtection": "Device protection add-on",
    "TechSupport": "Tech support add-on",
    "StreamingTV": "Streaming TV add-on",
    "StreamingMovies": "Streaming movies add-on",
    "Contract": "Contract term",
    "PaperlessBilling": "Whether the customer has paperless billing",
    "PaymentMethod": "How the customer pays",
    "MonthlyCharges": "Amount charged per month",
    "TotalCharges": "Total amount charged so far (0 for a customer in their first month)",
}
# Domain knowledge the booster must respect, so the behavioural checks hold by construction:
# longer tenure and a longer contract never raise the predicted risk.
MONOTONE = {"tenure": -1, "Contract=Month-to-month": 1, "Contract=Two year": -1}
# Applied before the plain defaults: a customer in their first month has not been billed yet,
# which is exactly how training treats the dataset's blank TotalCharges (see data.validate).
IMPUTATION_RULES = [
    {"field": "TotalCharges", "when_field": "tenure", "equals": 0, "value": 0.0},
]


def _group_of(name: str) -> str:
    return next(group for group, names in FIELD_GROUPS.items() if name in names)


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def build_fields(train: pd.DataFrame) -> list[dict[str, Any]]:
    """Field specs with categories seen in training and the defaults (mode / median)."""
    fields: list[dict[str, Any]] = []
    for name in INPUT_FIELDS:
        column = train[name]
        spec: dict[str, Any] = {"name": name, "group": _group_of(name)}
        if name in CATEGORIES:
            seen = set(column.unique().tolist())
            categories = [c for c in CATEGORIES[name] if c in seen]
            spec |= {
                "kind": "categorical",
                "dtype": "integer" if name in INTEGER_COLUMNS else "string",
                "categories": categories,
                # Ties go to the first allowed value, so the default does not depend on row order.
                "default": _python(column.value_counts().sort_index().idxmax()),
            }
        else:
            low, high = NUMERIC_BOUNDS[name]
            median = float(column.median())
            spec |= {
                "kind": "numeric",
                "dtype": "integer" if name in INTEGER_COLUMNS else "number",
                "minimum": low,
                "maximum": high,
                "default": round(median) if name in INTEGER_COLUMNS else round(median, 2),
            }
        spec["description"] = DESCRIPTIONS[name]
        fields.append(spec)
    return fields


def encoded_features(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Numeric fields as themselves, categoricals fully one-hot in category order."""
    features: list[dict[str, Any]] = []
    for spec in fields:
        if spec["kind"] == "numeric":
            features.append({"name": spec["name"], "field": spec["name"]})
        else:
            for category in spec["categories"]:
                features.append(
                    {
                        "name": f"{spec['name']}={category}",
                        "field": spec["name"],
                        "category": category,
                    }
                )
    return features


def base_contract(train: pd.DataFrame, model_name: str) -> dict[str, Any]:
    """The part of the contract known before the model is trained."""
    fields = build_fields(train)
    return {
        "schema_version": SCHEMA_VERSION,
        "model_name": model_name,
        "target": TARGET,
        "id_field": "customerID",
        "fields": fields,
        "encoded_features": encoded_features(fields),
        "imputation_rules": IMPUTATION_RULES,
    }


def encode_frame(contract: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Encode a DataFrame of customers with the contract (same code as the pyfunc model)."""
    return encode_records(contract, frame.to_dict(orient="records"))


def monotone_constraints(contract: dict[str, Any]) -> tuple[int, ...]:
    return tuple(MONOTONE.get(f["name"], 0) for f in contract["encoded_features"])


def labels(frame: pd.DataFrame) -> np.ndarray:
    return (frame[TARGET] == "Yes").to_numpy(dtype=np.int32)


def write_contract(contract: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(contract, indent=2) + "\n")


def read_contract(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
