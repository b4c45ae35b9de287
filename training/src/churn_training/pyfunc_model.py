"""The MLflow pyfunc model: scores dataset-form records from the bundle (docs/model-bundle.md).

This file is logged with the model ("models from code") and executed by
`mlflow.pyfunc.load_model` and `mlflow models serve`, so it imports nothing from
`churn_training`. The training job scores its holdout and golden examples with these same
functions, so evaluation, MLflow's loader and the bundle cannot drift apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import xgboost as xgb

BOOSTER_FILE = "booster.ubj"
CONTRACT_FILE = "feature_contract.json"
GOLDEN_FILE = "golden_examples.json"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


@dataclass
class Bundle:
    """A loaded model bundle: booster plus feature contract."""

    booster: xgb.Booster
    contract: dict[str, Any]

    @classmethod
    def load(cls, directory: str | Path) -> Bundle:
        directory = Path(directory)
        contract = json.loads((directory / CONTRACT_FILE).read_text())
        return cls(booster=load_booster(directory / BOOSTER_FILE), contract=contract)

    def encode(self, records: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Encode records into the float32 matrix the booster was trained on."""
        return encode_records(self.contract, records)

    def raw_probability(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(matrix), dtype=np.float64)

    def probability(self, records: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Calibrated churn probabilities for dataset-form records."""
        raw = self.raw_probability(self.encode(records))
        return apply_calibration(self.contract["calibration"], raw)


def load_booster(path: str | Path) -> xgb.Booster:
    """The booster as every scorer uses it: one thread (single rows are the common case)."""
    booster = xgb.Booster()
    booster.load_model(str(path))
    booster.set_param({"nthread": 1})
    return booster


def encode_records(contract: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Full one-hot for categoricals, raw values for numerics; missing fields take defaults.

    A missing field matched by an imputation rule takes the rule's value instead.
    """
    fields = {f["name"]: f for f in contract["fields"]}
    features = contract["encoded_features"]
    rows = list(records)
    matrix = np.zeros((len(rows), len(features)), dtype=np.float32)
    rules = contract.get("imputation_rules", [])
    for i, record in enumerate(rows):
        values = {}
        missing = []
        for name, spec in fields.items():
            value = record.get(name)
            if _is_missing(value):
                value = spec["default"]
                missing.append(name)
            elif spec["kind"] == "numeric":
                value = float(value)
            elif spec["dtype"] == "integer":
                value = int(value)
            values[name] = value
        for rule in rules:
            if rule["field"] in missing and values[rule["when_field"]] == rule["equals"]:
                values[rule["field"]] = rule["value"]
        for j, feature in enumerate(features):
            value = values[feature["field"]]
            if "category" in feature:
                matrix[i, j] = 1.0 if value == feature["category"] else 0.0
            else:
                matrix[i, j] = value
    return matrix


def apply_calibration(calibration: Mapping[str, Any], raw: np.ndarray) -> np.ndarray:
    """Map raw booster probabilities to calibrated probabilities."""
    method = calibration["method"]
    if method == "isotonic":
        return np.interp(raw, calibration["x"], calibration["y"])
    if method == "sigmoid":
        clipped = np.clip(raw, 1e-12, 1 - 1e-12)
        logit = np.log(clipped / (1 - clipped))
        return 1.0 / (1.0 + np.exp(-(calibration["a"] * logit + calibration["b"])))
    if method == "none":
        return raw
    raise ValueError(f"unknown calibration method {method!r}")


class ChurnModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper: a DataFrame of customers in, churn probability and decision out."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.bundle = Bundle.load(context.artifacts["churn_model"])

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        records = model_input.to_dict(orient="records")
        probability = self.bundle.probability(records)
        threshold = self.bundle.contract["threshold"]["value"]
        return pd.DataFrame(
            {"churn_probability": probability, "churn": probability >= threshold},
            index=model_input.index,
        )


mlflow.models.set_model(ChurnModel())
