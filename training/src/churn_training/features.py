"""The contract's encoding part (inputs, defaults, one-hot columns), from training data only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn_training.contract import (
    CategoricalField,
    EncodedFeature,
    EncodingContract,
    FieldSpec,
    ImputationRule,
    NumericField,
)
from churn_training.data import (
    CATEGORIES,
    FIELD_GROUPS,
    ID_COLUMN,
    INPUT_FIELDS,
    INTEGER_COLUMNS,
    NUMERIC_BOUNDS,
    TARGET,
)
from churn_training.pyfunc_model import encode_records

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
IMPUTATION_RULES = [ImputationRule(field="TotalCharges", when_field="tenure", equals=0, value=0.0)]


def _group_of(name: str) -> str:
    return next(group for group, names in FIELD_GROUPS.items() if name in names)


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def build_fields(train: pd.DataFrame) -> list[FieldSpec]:
    """Field specs with categories seen in training and the defaults (mode / median)."""
    fields: list[FieldSpec] = []
    for name in INPUT_FIELDS:
        column = train[name]
        common = {"name": name, "group": _group_of(name), "description": DESCRIPTIONS[name]}
        if name in CATEGORIES:
            seen = set(column.unique().tolist())
            field: FieldSpec = CategoricalField(
                **common,
                dtype="integer" if name in INTEGER_COLUMNS else "string",
                categories=[c for c in CATEGORIES[name] if c in seen],
                # Ties go to the first allowed value, so the default does not depend on row order.
                default=_python(column.value_counts().sort_index().idxmax()),
            )
        else:
            low, high = NUMERIC_BOUNDS[name]
            median = float(column.median())
            field = NumericField(
                **common,
                dtype="integer" if name in INTEGER_COLUMNS else "number",
                minimum=low,
                maximum=high,
                default=round(median) if name in INTEGER_COLUMNS else round(median, 2),
            )
        fields.append(field)
    return fields


def encoded_features(fields: list[FieldSpec]) -> list[EncodedFeature]:
    """Numeric fields as themselves, categoricals fully one-hot in category order."""
    features: list[EncodedFeature] = []
    for spec in fields:
        if isinstance(spec, NumericField):
            features.append(EncodedFeature(name=spec.name, field=spec.name))
        else:
            features += [
                EncodedFeature(name=f"{spec.name}={c}", field=spec.name, category=c)
                for c in spec.categories
            ]
    return features


def encoding_contract(train: pd.DataFrame, model_name: str) -> EncodingContract:
    """The part of the contract known before any model is trained."""
    fields = build_fields(train)
    return EncodingContract(
        model_name=model_name,
        target=TARGET,
        id_field=ID_COLUMN,
        fields=fields,
        encoded_features=encoded_features(fields),
        imputation_rules=IMPUTATION_RULES,
    )


def encode_frame(contract: EncodingContract, frame: pd.DataFrame) -> np.ndarray:
    """Encode a DataFrame of customers with the contract (same code as the pyfunc model)."""
    return encode_records(contract.to_dict(), frame.to_dict(orient="records"))


def monotone_constraints(contract: EncodingContract) -> tuple[int, ...]:
    return tuple(MONOTONE.get(f.name, 0) for f in contract.encoded_features)


def labels(frame: pd.DataFrame) -> np.ndarray:
    return (frame[TARGET] == "Yes").to_numpy(dtype=np.int32)
