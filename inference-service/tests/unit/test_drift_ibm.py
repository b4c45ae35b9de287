"""Drift on the IBM data: none on a random split against its own reference, clear drift on a
shifted base on exactly the shifted fields; and the trained champion's reference in use.

The reference here is built from the CSV with numpy, the way docs/model-bundle.md describes it
(the API tests never import the trainer); the integration test uses the trainer's own file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv
import pytest

from churn_api import drift
from churn_api.bundle import ModelMeta
from churn_api.provenance import TrustedKeys
from churn_api.reference import Reference
from churn_api.scorer import load_model

NUMERIC = ("tenure", "MonthlyCharges", "TotalCharges")
INTEGER_CATEGORIES = ("SeniorCitizen",)
SHIFTED = {"Contract", "MonthlyCharges", "TotalCharges"}
Columns = dict[str, np.ndarray]


def load_ibm(path: Path) -> Columns:
    """The CSV's input columns, cleaned as the contract says (a blank TotalCharges at tenure 0
    is 0), before encoding."""
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    columns: Columns = {}
    for name in table.column_names:
        if name in ("customerID", "Churn"):
            continue
        text = np.array(table.column(name).cast("string").to_pylist(), dtype=object)
        if name in NUMERIC:
            columns[name] = np.array([float(v) if v.strip() else 0.0 for v in text])
        elif name in INTEGER_CATEGORIES:
            columns[name] = np.array([int(v) for v in text], dtype=object)
        else:
            columns[name] = text
    return columns


def take(columns: Columns, rows: np.ndarray) -> Columns:
    return {name: values[rows] for name, values in columns.items()}


def build_reference(columns: Columns) -> Reference:
    """reference.json's fields from these rows (format 1, by the documented recipe)."""
    fields: dict[str, Any] = {}
    n = len(next(iter(columns.values())))
    for name, values in columns.items():
        if name in NUMERIC:
            edges = np.unique(np.quantile(values, np.arange(1, 10) / 10))
            counts = np.bincount(
                np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1
            )
            fields[name] = {
                "kind": "numeric",
                "count": n,
                "missing_rate": 0.0,
                "edges": edges.tolist(),
                "frequencies": (counts / n).tolist(),
                "quantiles": np.quantile(values, np.linspace(0, 1, 101)).tolist(),
            }
        else:
            categories = sorted(set(values.tolist()))
            shares = [float(np.count_nonzero(values == c)) / n for c in categories]
            fields[name] = {
                "kind": "categorical",
                "count": n,
                "missing_rate": 0.0,
                "categories": categories,
                "frequencies": shares,
            }
    return Reference.model_validate(
        {"format": 1, "rows": n, "computed_on": "training split", "fields": fields}
    )


def shift(columns: Columns, rng: np.random.Generator) -> Columns:
    """Month-to-month contracts doubled (their odds: 55 % -> 71 %), charges raised 30 %."""
    shifted = {name: values.copy() for name, values in columns.items()}
    contract = shifted["Contract"]
    monthly = contract == "Month-to-month"
    p = monthly.mean()
    target = round(2 * p / (1 + p) * len(contract))  # odds p/(1-p) doubled
    convert = rng.choice(np.flatnonzero(~monthly), target - monthly.sum(), replace=False)
    contract[convert] = "Month-to-month"
    shifted["MonthlyCharges"] = shifted["MonthlyCharges"] * 1.3
    shifted["TotalCharges"] = shifted["TotalCharges"] * 1.3
    return shifted


@pytest.fixture(scope="module")
def ibm(dataset_csv: Path) -> Columns:
    return load_ibm(dataset_csv)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_random_split_does_not_drift_from_its_own_reference(ibm: Columns, seed: int) -> None:
    rows = np.random.default_rng(seed).permutation(len(ibm["tenure"]))
    cut = int(0.8 * len(rows))
    ref = build_reference(take(ibm, rows[:cut]))
    report = drift.compare(ref, take(ibm, rows[cut:]))
    assert report.n == len(rows) - cut == 1409
    assert len(report.rows) == 19
    for row in report.rows:
        assert row.psi is not None and row.psi < 0.1, (row.field, row.psi)
        assert row.p_value is not None and row.p_value > 1e-3, (row.field, row.p_value)
        assert (row.missing_rate, row.unseen, row.status) == (0.0, {}, "ok"), row.field
    assert report.drifted() == []


def test_a_shifted_base_drifts_on_exactly_the_shifted_fields(ibm: Columns) -> None:
    rng = np.random.default_rng(7)
    rows = rng.permutation(len(ibm["tenure"]))
    cut = int(0.8 * len(rows))
    ref = build_reference(take(ibm, rows[:cut]))
    report = drift.compare(ref, shift(take(ibm, rows[cut:]), rng))
    by_field = {row.field: row for row in report.rows}
    for name, row in by_field.items():
        assert row.psi is not None and row.p_value is not None
        if name in SHIFTED:
            assert row.p_value < 1e-6, (name, row.p_value)
            assert row.psi > 0.05, (name, row.psi)
        else:
            assert row.p_value > 1e-3, (name, row.p_value)
            assert row.psi < 0.02, (name, row.psi)
    # PSI: +30 % moves every monthly charge up a bin or more (drift, ~1.4); doubled odds of
    # month-to-month (55 % -> 71 %) is about 0.1 (at the 'watch' line); +30 % of the
    # heavy-tailed total stays under 0.1. Their chi-square and KS p-values are what show them.
    assert by_field["MonthlyCharges"].status == "drift"
    assert by_field["Contract"].psi == pytest.approx(0.11, abs=0.03)
    assert by_field["TotalCharges"].statistic > 0.08
    assert report.drifted() == ["MonthlyCharges"]


def test_unseen_categories_in_the_ibm_frame_are_counted(ibm: Columns) -> None:
    ref = build_reference(ibm)
    current = take(ibm, np.arange(500))
    current["PaymentMethod"] = current["PaymentMethod"].copy()
    current["PaymentMethod"][:50] = "Crypto wallet"
    current["PaymentMethod"][50:55] = None
    row = next(r for r in drift.compare(ref, current).rows if r.field == "PaymentMethod")
    assert row.unseen == {"Crypto wallet": 50}
    assert row.missing_rate == pytest.approx(5 / 500)
    assert row.status == "drift"  # a tenth of the rows in a category the model never saw


@pytest.mark.integration
def test_the_trained_champion_reference_sees_no_drift_on_its_own_data(
    trained_model_dir: Path, ibm: Columns
) -> None:
    """The trainer's reference.json, verified with the session key, against a random sample of
    the same data scored by the model: every PSI (fields and score) under 0.1."""
    keys = TrustedKeys.from_settings(None, Path(os.environ["MODEL_PUBLIC_KEYS_FILE"]), False)
    meta = ModelMeta("telco-churn", "champion", None, None, "local", str(trained_model_dir))
    model = load_model(trained_model_dir, meta, keys=keys)
    assert model.meta.signature == "verified"
    ref = model.reference
    assert ref is not None and ref.score is not None
    assert ref.rows == model.contract.training["train_rows"]
    assert list(ref.fields) == [f.name for f in model.contract.fields]
    rows = np.random.default_rng(5).permutation(len(ibm["tenure"]))[:2000]
    sample = take(ibm, rows)
    records = [
        {
            name: (v.item() if isinstance(v, np.generic) else v)
            for name, v in zip(sample, row, strict=True)
        }
        for row in zip(*sample.values(), strict=True)
    ]
    answer = model.answer_batch(json.dumps({"customers": records}))
    assert answer.failed == 0
    report = drift.compare(ref, sample, answer.probabilities)
    assert max(row.psi or 0.0 for row in report.rows) < 0.1
    assert report.score_psi is not None and report.score_psi < 0.1
    shifted = drift.compare(ref, shift(sample, np.random.default_rng(6)))
    assert set(shifted.drifted()) == {"MonthlyCharges"}
