"""Unit tests: schemas, encoding, calibration, bands, explanations, security (no servers)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import numpy as np
import pytest
import xgboost as xgb

from churn_api.contract import FeatureContract
from churn_api.explain import field_contributions
from churn_api.features import Encoder
from churn_api.predictor import (
    Calibrator,
    InvalidRequestError,
    LoadedModel,
    ModelMeta,
    ModelRejectedError,
    find_bundle,
    gc_paused,
    load_model,
)
from churn_api.schemas import build_customer_model, parse_choice, parse_flag
from churn_api.security import Authenticator, AuthError, mint_token
from churn_api.trees import TreeWalker, UnsupportedModelError

# A small hand-written contract: enough to pin the encoding rules without any model.
CONTRACT: dict[str, Any] = {
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
def contract() -> FeatureContract:
    return FeatureContract.model_validate(CONTRACT)


def test_encoding_is_full_one_hot_in_contract_order(contract: FeatureContract) -> None:
    enc = Encoder(contract)
    row, imputed, used = enc.encode_one({"SeniorCitizen": 1, "tenure": 5, "Contract": "Two year"})
    assert row.dtype == np.float32
    assert row.tolist() == [[0.0, 1.0, 5.0, 0.0, 0.0, 1.0, np.float32(1397.47)]]
    assert imputed == ["TotalCharges"]
    assert used["TotalCharges"] == 1397.47


def test_missing_and_null_take_defaults(contract: FeatureContract) -> None:
    enc = Encoder(contract)
    row, imputed, _ = enc.encode_one({"Contract": None})
    assert imputed == ["SeniorCitizen", "tenure", "Contract", "TotalCharges"]
    assert row[0, 0] == 1.0
    assert row[0, 2] == 29.0
    assert row[0, 3] == 1.0


def test_imputation_rule_gives_new_customers_zero_total(contract: FeatureContract) -> None:
    """Training reads a blank TotalCharges at tenure 0 as 0, so serving must too."""
    rule = {"field": "TotalCharges", "when_field": "tenure", "equals": 0, "value": 0.0}
    ruled = FeatureContract.model_validate(CONTRACT | {"imputation_rules": [rule]})
    enc = Encoder(ruled)
    _, imputed, used = enc.encode_one({"tenure": 0})
    assert used["TotalCharges"] == 0.0
    assert "TotalCharges" in imputed
    assert enc.encode_one({"tenure": 3})[2]["TotalCharges"] == 1397.47
    assert enc.encode_one({"tenure": 0, "TotalCharges": 5.0})[2]["TotalCharges"] == 5.0
    Customer = build_customer_model(ruled)
    rows = [{"tenure": 0}, {"tenure": 4}, {"tenure": 0, "TotalCharges": 9.0}]
    X, _, _, errors = enc.encode_batch(
        rows, frozenset(Customer.model_fields), lambda r: Customer.model_validate(r).__dict__
    )
    assert not errors
    total = [f.name for f in ruled.encoded_features].index("TotalCharges")
    assert X[:, total].tolist() == [0.0, np.float32(1397.47), 9.0]


def test_batch_encoding_matches_single_rows(contract: FeatureContract) -> None:
    enc = Encoder(contract)
    Customer = build_customer_model(contract)
    rows: list[Any] = [
        {"SeniorCitizen": 1, "tenure": 5, "Contract": "One year", "TotalCharges": 20.5},
        {"tenure": 7.0},
        {"SeniorCitizen": "1", "TotalCharges": " "},  # CSV text: goes the per-row way
        {"Contract": "Three year"},
        {"tenure": -1},
        {"tenure": float("nan")},
        {"Contarct": "One year"},
        "not an object",
        {"tenure": 12.5},
        {"TotalCharges": 10**400},
    ]

    def validate(raw: Any) -> dict[str, Any] | list[dict[str, str]]:
        try:
            return Customer.model_validate(raw).__dict__
        except Exception as exc:
            return [{"field": "?", "message": str(exc)}]

    X, positions, imputed, errors = enc.encode_batch(
        rows, frozenset(Customer.model_fields), validate
    )
    assert positions == [0, 1, 2]
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9]
    for j, k in enumerate(positions):
        checked = validate(rows[k])
        assert isinstance(checked, dict)
        one, one_imputed, _ = enc.encode_one(checked)
        assert X[j].tolist() == one[0].tolist()
        assert list(imputed[j]) == one_imputed
    assert imputed[2] == ["tenure", "Contract", "TotalCharges"]


def test_schema_rejects_with_field_names(contract: FeatureContract) -> None:
    Customer = build_customer_model(contract)
    schema = Customer.model_json_schema()
    assert schema["additionalProperties"] is False
    contract_enum = schema["properties"]["Contract"]["anyOf"][0]["enum"]
    assert contract_enum == ["Month-to-month", "One year", "Two year"]
    model = LoadedModel.__new__(LoadedModel)
    model.Customer, model.known_fields = Customer, list(Customer.model_fields)
    cases = {
        b'{"Contract": "Monthly"}': ("Contract", "'Month-to-month', 'One year' or 'Two year'"),
        b'{"Contarct": "One year"}': ("Contarct", "did you mean 'Contract'"),
        b'{"tenure": NaN}': ("tenure", "finite"),
        b'{"TotalCharges": Infinity}': ("TotalCharges", "finite"),
        b'{"tenure": -3}': ("tenure", "greater than or equal to 0"),
        b'{"tenure": 4.5}': ("tenure", "fractional"),
        b'{"tenure": ': ("body", "Invalid JSON"),
        b"[1, 2]": ("body", "an object"),
    }
    for body, (field, words) in cases.items():
        with pytest.raises(InvalidRequestError) as caught:
            model.validate_one(body)
        errors = caught.value.errors
        assert errors[0]["field"] == field, (body, errors)
        assert words in errors[0]["message"], (body, errors)
        assert "nan" not in json.dumps(errors).lower().replace("finite", "")


def test_csv_text_is_accepted(contract: FeatureContract) -> None:
    Customer = build_customer_model(contract)
    c = Customer.model_validate(
        {"customerID": 42, "SeniorCitizen": "1", "tenure": "3", "TotalCharges": " ", "Churn": "No"}
    )
    assert (c.customerID, c.SeniorCitizen, c.tenure, c.TotalCharges) == ("42", 1, 3, None)


def test_isotonic_calibration_interpolates_and_clips(contract: FeatureContract) -> None:
    cal = Calibrator(contract)
    got = cal(np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.95], dtype=np.float32))
    assert got == pytest.approx([0.0, 0.0, 0.2, 0.4, 0.7, 1.0], abs=1e-6)


def test_sigmoid_calibration(contract: FeatureContract) -> None:
    data = {**CONTRACT, "calibration": {"method": "sigmoid", "a": 2.0, "b": -0.5}}
    cal = Calibrator(FeatureContract.model_validate(data))
    raw = np.array([0.2, 0.5, 0.9])
    expected = 1 / (1 + np.exp(-(2.0 * np.log(raw / (1 - raw)) - 0.5)))
    assert cal(raw) == pytest.approx(expected, abs=1e-12)


def test_contract_checks_catch_broken_bundles() -> None:
    bad_category = json.loads(json.dumps(CONTRACT))
    bad_category["encoded_features"][0]["category"] = 7
    bad_bands = {
        **CONTRACT,
        "risk_bands": [{"name": "a", "upper": 0.5}, {"name": "b", "upper": 0.4}],
    }
    for data in (bad_category, bad_bands):
        with pytest.raises(ValueError, match=r"category|risk_bands"):
            FeatureContract.model_validate(data)


def test_tokens_scopes_and_expiry() -> None:
    auth = Authenticator("s3cret-s3cret-s3cret-s3cret-s3cret")
    token = mint_token("s3cret-s3cret-s3cret-s3cret-s3cret", ["predict"], 60, "alice")
    assert auth.authorize(f"Bearer {token}", "predict").sub == "alice"
    with pytest.raises(AuthError) as caught:
        auth.authorize(f"Bearer {token}", "admin")
    assert caught.value.status == 403
    expired = jwt.encode(
        {"sub": "a", "scope": "predict", "exp": int(time.time()) - 5},
        "s3cret-s3cret-s3cret-s3cret-s3cret",
    )
    forged = mint_token("another-secret-another-secret-xx", ["predict", "admin"], 60)
    for header in (
        None,
        "Basic abc",
        "Bearer",
        f"Bearer {expired}",
        f"Bearer {forged}",
        "Bearer not.a.jwt",
    ):
        with pytest.raises(AuthError) as caught:
            auth.authorize(header, "predict")
        assert caught.value.status == 401, header
    assert Authenticator(None).authorize(None, "admin").sub == "anonymous"
    with pytest.raises(ValueError, match="unknown scope"):
        mint_token("x" * 32, ["root"])


def test_cached_token_still_expires() -> None:
    secret = "s3cret-s3cret-s3cret-s3cret-s3cret"
    auth = Authenticator(secret)
    token = jwt.encode({"sub": "a", "scope": "predict", "exp": time.time() + 1.0}, secret)
    auth.authorize(f"Bearer {token}", "predict")
    time.sleep(1.1)
    with pytest.raises(AuthError, match="expired"):
        auth.authorize(f"Bearer {token}", "predict")


# -- with the real trained model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_model(trained_model_dir: Path) -> LoadedModel:
    meta = ModelMeta("telco-churn", "test", None, None, "local", str(trained_model_dir))
    return load_model(trained_model_dir, meta)


def test_real_bundle_reproduces_golden_examples(real_model: LoadedModel) -> None:
    assert real_model.verify_golden() >= 1
    assert real_model.bundle_dir == find_bundle(real_model.bundle_dir.parent.parent)


def test_explanations_sum_to_the_margin(real_model: LoadedModel) -> None:
    examples = [ex["input"] for ex in real_model.golden["examples"]]
    X = np.vstack(
        [real_model.encoder.encode_one(real_model.validate_one(r).__dict__)[0] for r in examples]
    )
    per_field, bias = field_contributions(real_model.booster, X, real_model.encoder)
    margin = real_model.booster.predict(xgb.DMatrix(X), output_margin=True)
    assert per_field.shape == (len(examples), len(real_model.encoder.field_names))
    assert per_field.sum(axis=1) + bias == pytest.approx(margin, abs=1e-4)
    raw = real_model.booster.inplace_predict(X)
    assert 1 / (1 + np.exp(-(per_field.sum(axis=1) + bias))) == pytest.approx(raw, abs=1e-5)


def test_explain_reasons_are_signed_plain_words(real_model: LoadedModel) -> None:
    customer = real_model.validate_one({"Contract": "Month-to-month", "tenure": 1})
    result = real_model.score_one(customer, explain=True)
    reasons = result["reasons"]
    assert len(reasons) == 5
    assert [abs(r["contribution"]) for r in reasons] == sorted(
        (abs(r["contribution"]) for r in reasons), reverse=True
    )
    for r in reasons:
        assert r["effect"] == ("raises" if r["contribution"] > 0 else "lowers")
        assert r["text"] == f"{r['field']} = {r['value']} {r['effect']} risk"


def test_a_model_that_misses_its_golden_examples_is_refused(
    trained_model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(trained_model_dir, copy)
    golden_path = next(copy.rglob("golden_examples.json"))
    golden = json.loads(golden_path.read_text())
    golden["examples"][0]["probability"] += 1e-5
    golden_path.write_text(json.dumps(golden))
    with pytest.raises(ModelRejectedError, match="golden example 0"):
        load_model(copy, ModelMeta("telco-churn", "x", None, None, "local", str(copy)))


def test_scoring_needs_neither_pandas_nor_sklearn(trained_model_dir: Path) -> None:
    # The API image ships without them; prove the service imports and scores in their absence.
    code = f"""
import sys
for name in ("pandas", "sklearn"):
    sys.modules[name] = None  # makes `import name` raise ImportError
from pathlib import Path
from churn_api.main import create_app
from churn_api.predictor import load_model, ModelMeta
m = load_model(Path({str(trained_model_dir)!r}), ModelMeta("t", "1", None, None, "local", "x"))
body = '{{"customers": [{{"tenure": 3}}, {{"tenure": -1}}]}}'
out = m.score_batch(body)
assert out["succeeded"] == 1 and out["failed"] == 1, out
create_app()
print("ok", sorted(k for k in ("pandas", "sklearn") if sys.modules.get(k) is not None))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok []"
    assert not math.isnan(0.0)


def test_score_histogram_buckets_are_prometheus_cumulative() -> None:
    from churn_api.metrics import ScoreHistogram

    batch, single = ScoreHistogram(), ScoreHistogram()
    values = np.array([0.0, 0.1, 0.15, 0.5, 0.99, 1.0, 0.3])
    batch.observe(values)
    for v in values:
        single.observe_one(float(v))
    samples = {(s.name, s.labels.get("le")): s.value for s in next(iter(batch.collect())).samples}
    assert samples[("churn_api_churn_probability_bucket", "0.1")] == 2  # le is inclusive
    assert samples[("churn_api_churn_probability_bucket", "0.3")] == 4
    assert samples[("churn_api_churn_probability_bucket", "1")] == 7
    assert samples[("churn_api_churn_probability_bucket", "+Inf")] == 7
    assert samples[("churn_api_churn_probability_count", None)] == 7
    assert samples[("churn_api_churn_probability_sum", None)] == pytest.approx(values.sum())
    assert next(iter(single.collect())).samples == next(iter(batch.collect())).samples


def test_query_parameters_read_like_pydantic() -> None:
    for text in ("1", "true", "True", "t", "yes", "Y", "on", " TRUE "):
        assert parse_flag(text, "explain") is True
    for text in ("0", "false", "f", "no", "N", "off"):
        assert parse_flag(text, "explain") is False
    assert parse_flag(None, "explain") is False
    for text in ("", "maybe", "2", "truthy"):
        with pytest.raises(InvalidRequestError) as caught:
            parse_flag(text, "explain")
        assert caught.value.errors[0]["field"] == "explain"
    assert parse_choice(None, "sort", ("none", "risk")) == "none"
    assert parse_choice("risk", "sort", ("none", "risk")) == "risk"
    with pytest.raises(InvalidRequestError) as caught:
        parse_choice("Risk", "sort", ("none", "risk"))
    assert caught.value.errors == [{"field": "sort", "message": "Input should be 'none' or 'risk'"}]


def test_gc_pause_always_restores_collection() -> None:
    import gc

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # an overlapping batch leaves it to the first
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def _encoded(model: LoadedModel, records: list[dict[str, Any]]) -> np.ndarray:
    return np.vstack([model.encoder.encode_one(model.validate_one(r).__dict__)[0] for r in records])


def test_tree_walk_equals_the_booster_bit_for_bit(
    real_model: LoadedModel, dataset_records: list[dict[str, Any]]
) -> None:
    assert real_model.walker is not None, "the trained model must take the fast single-row path"
    X = _encoded(real_model, dataset_records)
    native = real_model.booster.inplace_predict(X, validate_features=False)
    walked = np.array([real_model.walker.predict_one(row) for row in X], dtype=np.float32)
    assert np.array_equal(walked, native)
    # Missing values follow each split's default direction, as in XGBoost.
    rng = np.random.default_rng(7)
    holes = X[:500].copy()
    holes[rng.random(holes.shape) < 0.3] = np.nan
    native = real_model.booster.inplace_predict(holes, validate_features=False)
    walked = np.array([real_model.walker.predict_one(row) for row in holes], dtype=np.float32)
    assert np.array_equal(walked, native)


def test_single_rows_score_the_same_with_and_without_the_walk(
    real_model: LoadedModel, dataset_records: list[dict[str, Any]]
) -> None:
    native = real_model.with_meta()
    native.walker = None
    for record in dataset_records[:300]:
        customer = real_model.validate_one(record)
        fast = real_model.score_one(customer)["churn_probability"]
        slow = native.score_one(customer)["churn_probability"]
        assert abs(fast - slow) <= 1e-12


def test_tree_walk_refuses_what_it_does_not_repeat() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((200, 4)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    cases = {
        "booster dart": {"booster": "dart", "objective": "binary:logistic"},
        "objective reg:squarederror": {"objective": "reg:squarederror"},
    }
    for reason, params in cases.items():
        booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=2)
        with pytest.raises(UnsupportedModelError, match=reason):
            TreeWalker(booster)
    plain = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), 3)
    walker = TreeWalker(plain)
    assert walker.matches(plain, X, 0.0) == 0.0
    broken = TreeWalker(plain)
    broken.leaf = broken.leaf + np.float32(0.01)
    with pytest.raises(UnsupportedModelError, match="differs from the booster"):
        broken.matches(plain, X, 1e-6)


def test_batch_and_single_rows_agree_on_odd_values(real_model: LoadedModel) -> None:
    """Whatever takes the vectorised batch path must mean what the per-row model says."""
    rows: list[Any] = [
        {"SeniorCitizen": True},
        {"SeniorCitizen": 1.0},
        {"SeniorCitizen": "1"},
        {"SeniorCitizen": 1.5},
        {"tenure": True},
        {"tenure": 3.0},
        {"tenure": "3"},
        {"tenure": 10**30},
        {"tenure": None, "Contract": None},
        {"Contract": " Two year"},
        {"Contract": ["Two year"]},
        {"Contract": {"a": 1}},
        {"gender": 1},
        {"MonthlyCharges": "70.5"},
        {"TotalCharges": " "},
        {"tenure": 0},
        {"customerID": 12345},
        {"customerID": "x" * 65},
        {"customerID": ["A"]},
        [],
        None,
    ]
    result = real_model.score_batch(json.dumps({"customers": rows}))
    assert result["count"] == len(rows)
    for k, row in enumerate(rows):
        got = result["results"][k]
        assert got["row"] == k
        checked = real_model._validate_row(row)  # the per-row model /predict uses
        if isinstance(checked, list):
            assert got["ok"] is False, (row, got)
            assert [e["field"] for e in got["errors"]] == [e["field"] for e in checked], row
            continue
        expected = real_model.score_one(real_model.Customer.model_validate(row))
        assert got["ok"] is True, (row, got)
        assert got["prediction"]["churn_probability"] == pytest.approx(
            expected["churn_probability"], abs=1e-6
        )
        assert list(got["prediction"]["imputed_fields"]) == expected["imputed_fields"], row
        assert got["prediction"]["customerID"] == expected["customerID"]
    nan_body = '{"customers": [{"tenure": NaN}, {"MonthlyCharges": Infinity}, {"tenure": 3}]}'
    result = real_model.score_batch(nan_body)
    assert [r["ok"] for r in result["results"]] == [False, False, True]
    assert result["results"][0]["errors"][0]["field"] == "tenure"


def test_clean_batches_take_the_strict_decoder_with_the_same_answers(
    real_model: LoadedModel, dataset_records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[Any] = [
        *dataset_records[:400],
        {"tenure": 12, "MonthlyCharges": 70.5},
        {"tenure": 0, "TotalCharges": None},  # the imputation rule: goes through the row model
        {"Contract": None, "customerID": "A-1", "Churn": "Yes"},
        {},
    ]
    body = json.dumps({"customers": rows})
    per_row = real_model.with_meta()
    monkeypatch.setattr(
        per_row, "_encode_body", lambda b: per_row._encode_rows(per_row._batch_rows(b))
    )
    slow_calls: list[int] = []
    original = real_model._encode_rows
    monkeypatch.setattr(real_model, "_encode_rows", lambda r: slow_calls.append(1) or original(r))
    fast = real_model.score_batch(body)
    assert not slow_calls, "a clean batch must take the strict decoder"
    assert fast == per_row.score_batch(body)
    assert fast["succeeded"] == len(rows)
    # One bad row sends the whole batch the per-row way; the other rows' answers do not move.
    mixed = real_model.score_batch(json.dumps({"customers": [*rows, {"tenure": "3x"}]}))
    assert slow_calls
    assert mixed["results"][: len(rows)] == fast["results"]
    assert mixed["results"][-1]["errors"][0]["field"] == "tenure"
    # The strict decoder checks the envelope too; the per-row path then names the problem.
    for envelope, words in (
        ({"customers": []}, "between 1 and"),
        ({"customers": rows[:1], "extra": 1}, "Unknown field 'extra'"),
        ({"rows": rows[:1]}, "Unknown field 'rows'"),
        ([], "an object with a 'customers' list"),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            real_model.score_batch(json.dumps(envelope))
        assert words in caught.value.errors[0]["message"]
