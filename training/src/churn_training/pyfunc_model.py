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


Records = pd.DataFrame | Iterable[Mapping[str, Any]]
# (row, stage: 1 convert / 3 compare, field or feature position, field, error)
EncodingError = tuple[int, int, int, str, Exception]


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _box(value: Any) -> Any:
    """A DataFrame cell as `DataFrame.to_dict(orient="records")` hands it over (pandas' rule)."""
    if value is pd.NA:
        return None
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


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

    def encode(self, records: Records) -> np.ndarray:
        """Encode records into the float32 matrix the booster was trained on."""
        return encode_records(self.contract, records)

    def raw_probability(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(matrix), dtype=np.float64)

    def probability(self, records: Records) -> np.ndarray:
        """Calibrated churn probabilities for dataset-form records."""
        raw = self.raw_probability(self.encode(records))
        return apply_calibration(self.contract["calibration"], raw)


def load_booster(path: str | Path) -> xgb.Booster:
    """The booster as every scorer uses it: one thread (single rows are the common case)."""
    booster = xgb.Booster()
    booster.load_model(str(path))
    booster.set_param({"nthread": 1})
    return booster


def _cells(records: Records, names: Iterable[str]) -> tuple[int, dict[str, Any], bool]:
    """Each field's column (None when absent), the row count, and whether cells need boxing."""
    if isinstance(records, pd.DataFrame):
        where = {name: i for i, name in enumerate(records.columns)}  # last duplicate wins
        columns: dict[str, Any] = {}
        for name in names:
            if name in where:
                series = records.iloc[:, where[name]]
                plain = series.dtype.kind in "biuf" and isinstance(series.dtype, np.dtype)
                columns[name] = series.to_numpy() if plain else series.to_numpy(dtype=object)
            else:
                columns[name] = None
        return len(records), columns, True
    rows = list(records)
    columns = {
        name: np.fromiter((r.get(name) for r in rows), dtype=object, count=len(rows))
        for name in names
    }
    return len(rows), columns, False


def _distinct(cells: np.ndarray, box: bool) -> tuple[np.ndarray, list[Any]]:
    """Codes into the distinct cell values; -1 for None/NaN (missing whatever the field)."""
    try:
        codes, uniques = pd.factorize(cells)
        codes = np.array(codes, dtype=np.intp)
    except TypeError:  # unhashable cells: each one stands alone
        codes, uniques = np.arange(len(cells), dtype=np.intp), cells
    values = [_box(u) for u in uniques] if box else list(uniques)
    nulls = np.flatnonzero(codes < 0)
    if nulls.size:  # pandas' nulls include pd.NA, NaT, float32 NaN: judge those one by one
        kinds = np.frompyfunc(type, 1, 1)(cells[nulls])
        odd = nulls[~(np.equal(kinds, type(None)) | np.equal(kinds, float))]
        codes[odd] = np.arange(len(values), len(values) + len(odd))
        values += [_box(v) if box else v for v in cells[odd]]
    return codes, values


@dataclass
class _Column:
    """One field over all rows: `codes` into `table` (field values after defaults), `missing`."""

    codes: np.ndarray
    table: list[Any]
    missing: np.ndarray
    numbers: np.ndarray | None = None  # numeric fields: the values per row, float64


def _column(
    spec: Mapping[str, Any], index: int, n: int, cells: Any, box: bool, errors: list[EncodingError]
) -> _Column:
    """Convert a field's cells as the per-record rule does (once per distinct value)."""
    numeric = spec["kind"] == "numeric"
    if cells is not None and numeric and cells.dtype != object:
        numbers = cells.astype(np.float64)
        missing = np.isnan(numbers) if cells.dtype.kind == "f" else np.zeros(n, dtype=bool)
        numbers[missing] = spec["default"]
        return _Column(np.zeros(n, dtype=np.intp), [], missing, numbers)
    if cells is None:
        codes, values = np.full(n, -1, dtype=np.intp), []
    else:
        codes, values = _distinct(cells.astype(object, copy=False), box)
    convert = float if numeric else int if spec["dtype"] == "integer" else None
    table: list[Any] = []
    missing_value: list[bool] = []
    failed: dict[int, Exception] = {}
    for k, value in enumerate(values):
        missing_value.append(_is_missing(value))
        try:
            table.append(
                spec["default"] if missing_value[-1] else convert(value) if convert else value
            )
        except Exception as exc:  # reported below, for the first row that holds it
            failed[k] = exc
            table.append(spec["default"])
    codes[codes < 0] = len(table)
    table.append(spec["default"])
    missing = np.array([*missing_value, True])[codes]
    if failed:
        row = int(np.flatnonzero(np.isin(codes, list(failed)))[0])
        errors.append((row, 1, index, spec["name"], failed[int(codes[row])]))
    numbers = np.array(table, dtype=np.float64)[codes] if numeric else None
    return _Column(codes, table, missing, numbers)


def _apply_rules(columns: dict[str, _Column], rules: Iterable[Mapping[str, Any]]) -> None:
    """A missing field takes the rule's value when the when_field (given or default) matches."""
    for rule in rules:
        column, when = columns[rule["field"]], columns[rule["when_field"]]
        if when.numbers is not None:
            matches = when.numbers == rule["equals"]
        else:
            matches = np.array([bool(v == rule["equals"]) for v in when.table])[when.codes]
        mask = column.missing & matches
        if column.numbers is not None:
            column.numbers[mask] = rule["value"]
        else:
            column.codes[mask] = len(column.table)
            column.table.append(rule["value"])


def _one_hot(
    column: _Column, category: Any, j: int, name: str, errors: list[EncodingError]
) -> np.ndarray:
    """1.0 where the field equals the category: compared once per distinct value."""
    equal = np.zeros(len(column.table), dtype=np.float32)
    failed: dict[int, Exception] = {}
    for k, value in enumerate(column.table):
        try:
            equal[k] = 1.0 if value == category else 0.0
        except Exception as exc:
            failed[k] = exc
    if failed:
        row = int(np.flatnonzero(np.isin(column.codes, list(failed)))[0])
        errors.append((row, 3, j, name, failed[int(column.codes[row])]))
    return equal[column.codes]


def _raise_first(errors: list[EncodingError]) -> None:
    """Raise the error the per-record rule meets first (row, then conversion before compare)."""
    row, _, _, name, exc = min(errors, key=lambda e: e[:3])
    try:
        named = type(exc)(f"{name} (row {row}): {exc}")
    except Exception:
        raise exc from None
    raise named from exc


def encode_records(contract: Mapping[str, Any], records: Records) -> np.ndarray:
    """Full one-hot for categoricals, raw values for numerics; missing fields take defaults.

    A missing field matched by an imputation rule takes the rule's value instead. `records` is
    a DataFrame (cells as `to_dict(orient="records")` gives them) or dataset-form mappings;
    each column is converted once per distinct value, never row by row.
    """
    fields = contract["fields"]
    n, cells, box = _cells(records, [f["name"] for f in fields])
    errors: list[EncodingError] = []
    columns = {
        f["name"]: _column(f, i, n, cells[f["name"]], box, errors) for i, f in enumerate(fields)
    }
    _apply_rules(columns, contract.get("imputation_rules", []))
    features = contract["encoded_features"]
    matrix = np.empty((n, len(features)), dtype=np.float32)
    for j, feature in enumerate(features):
        column = columns[feature["field"]]
        if "category" in feature:
            matrix[:, j] = _one_hot(column, feature["category"], j, feature["field"], errors)
        else:
            matrix[:, j] = column.numbers
    if errors:
        _raise_first(errors)
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
        probability = self.bundle.probability(model_input)
        threshold = self.bundle.contract["threshold"]["value"]
        return pd.DataFrame(
            {"churn_probability": probability, "churn": probability >= threshold},
            index=model_input.index if isinstance(model_input, pd.DataFrame) else None,
        )


mlflow.models.set_model(ChurnModel())
