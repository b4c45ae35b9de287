"""churn_api.scorer (and explain): probabilities, explanations, one path per shape."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import xgboost as xgb

from churn_api import scorer
from churn_api.bundle import golden_inputs
from churn_api.explain import field_contributions
from churn_api.scorer import LoadedModel, gc_paused


def test_explanations_sum_to_the_margin(tiny_model: LoadedModel) -> None:
    model = tiny_model
    examples = golden_inputs(model.golden)
    X = np.vstack(
        [model.encoder.encode_one(model.customers.validate_one(r).__dict__)[0] for r in examples]
    )
    per_field, bias = field_contributions(model.booster, X, model.encoder)
    margin = model.booster.predict(xgb.DMatrix(X), output_margin=True, validate_features=False)
    assert per_field.shape == (len(examples), len(model.encoder.field_names))
    assert per_field.sum(axis=1) + bias == pytest.approx(margin, abs=1e-4)
    raw = model.booster.inplace_predict(X, validate_features=False)
    assert 1 / (1 + np.exp(-(per_field.sum(axis=1) + bias))) == pytest.approx(raw, abs=1e-5)


def test_explain_reasons_are_signed_plain_words(tiny_model: LoadedModel) -> None:
    customer = tiny_model.customers.validate_one({"Contract": "Month-to-month", "tenure": 1})
    result = tiny_model.score_one(customer, explain=True)
    reasons = result["reasons"]
    assert len(reasons) == 5
    assert [abs(r["contribution"]) for r in reasons] == sorted(
        (abs(r["contribution"]) for r in reasons), reverse=True
    )
    for r in reasons:
        assert r["effect"] == ("raises" if r["contribution"] > 0 else "lowers")
        assert r["text"] == f"{r['field']} = {r['value']} {r['effect']} risk"
    # A batch row explains itself as /predict does.
    body = json.dumps({"customers": [{"Contract": "Month-to-month", "tenure": 1}]})
    row = orjson.loads(tiny_model.answer_batch(body, explain=True).json)["results"][0]
    batch_reasons = row["prediction"]["reasons"]
    assert [{**r, "contribution": 0} for r in batch_reasons] == [
        {**r, "contribution": 0} for r in reasons
    ]
    assert [r["contribution"] for r in batch_reasons] == pytest.approx(
        [r["contribution"] for r in reasons], abs=1e-6
    )


def test_single_rows_score_the_same_with_and_without_the_walk(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]]
) -> None:
    native = tiny_model.with_meta()
    native.walker = None
    for record in tiny_records:
        customer = tiny_model.customers.validate_one(record)
        fast = tiny_model.score_one(customer)["churn_probability"]
        slow = native.score_one(customer)["churn_probability"]
        assert abs(fast - slow) <= 1e-12


def test_a_prediction_follows_the_contract(tiny_model: LoadedModel) -> None:
    c = tiny_model.contract
    result = tiny_model.score_one(
        tiny_model.customers.validate_one({"customerID": "X", "tenure": 3})
    )
    p = result["churn_probability"]
    assert result["churn"] == (p >= c.threshold.value)
    t = c.threshold
    assert (
        result["expected_value"] == p * t.offer_success_rate * t.saved_customer_value - t.offer_cost
    )
    band = next(b.name for b in c.risk_bands if b.upper > p or b is c.risk_bands[-1])
    assert result["risk_band"] == band
    assert result["model"] == {"name": "telco-churn", "version": "tiny", "alias": None}
    assert result["customerID"] == "X"
    assert result["reasons"] is None


def test_batch_sorting_puts_ok_rows_first_highest_first(tiny_model: LoadedModel) -> None:
    rows = [{"tenure": 70, "Contract": "Two year"}, {"tenure": -1}, {"tenure": 1}, {"tenure": 30}]
    body = json.dumps({"customers": rows})
    answer = tiny_model.answer_batch(body, sort="risk")
    out = orjson.loads(answer.json)
    assert (out["count"], out["succeeded"], out["failed"]) == (4, 3, 1)
    assert (answer.succeeded, answer.failed) == (3, 1)
    assert len(answer.probabilities) == len(answer.bands) == 3
    assert out["results"][-1]["row"] == 1
    probs = [r["prediction"]["churn_probability"] for r in out["results"][:3]]
    assert probs == sorted(probs, reverse=True)
    by_ev = orjson.loads(tiny_model.answer_batch(body, sort="expected_value").json)
    evs = [r["prediction"]["expected_value"] for r in by_ev["results"][:3]]
    assert evs == sorted(evs, reverse=True)
    plain = orjson.loads(tiny_model.answer_batch(body).json)
    assert [r["row"] for r in plain["results"]] == [0, 1, 2, 3]


def test_gc_pause_always_restores_collection() -> None:
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


def test_scoring_needs_neither_pandas_nor_sklearn(tiny_model_dir: Path) -> None:
    # The API image ships without them; prove the service imports and scores in their absence.
    code = f"""
import sys
for name in ("pandas", "sklearn"):
    sys.modules[name] = None  # makes `import name` raise ImportError
from pathlib import Path
import orjson
from churn_api.main import create_app
from churn_api.bundle import ModelMeta
from churn_api.scorer import load_model
m = load_model(Path({str(tiny_model_dir)!r}), ModelMeta("t", "1", None, None, "local", "x"))
body = '{{"customers": [{{"tenure": 3}}, {{"tenure": -1}}]}}'
out = orjson.loads(m.answer_batch(body).json)
assert out["succeeded"] == 1 and out["failed"] == 1, out
create_app()
print("ok", sorted(k for k in ("pandas", "sklearn") if sys.modules.get(k) is not None))
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CHURN_DEV_MODE": "true"},  # no token keys here: auth off
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok []"


def test_a_batch_s_row_objects_are_freed_before_collection_resumes(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alive when collection resumes, the first pass would walk every one of them (~4 ms for
    # 10,000 rows); freed first, it finds the few objects the answer keeps.
    young: list[int] = []

    class Recorder:
        """The gc module as scorer sees it, counting the young objects when it re-enables."""

        isenabled = staticmethod(gc.isenabled)
        disable = staticmethod(gc.disable)

        @staticmethod
        def enable() -> None:
            young.append(len(gc.get_objects(generation=0)))
            gc.enable()

    monkeypatch.setattr(scorer, "gc", Recorder)
    rows = (tiny_records * (2000 // len(tiny_records) + 1))[:2000]
    body = json.dumps({"customers": [*rows, {"tenure": -1}]})
    gc.collect()
    answer = tiny_model.answer_batch(body, sort="risk")
    assert (answer.succeeded, answer.failed) == (2000, 1)
    assert gc.isenabled()
    assert len(young) == 1 and young[0] < 500, young


def test_batch_rows_carry_the_single_row_body(tiny_model: LoadedModel) -> None:
    builder, ref = tiny_model.predictions, tiny_model.ref
    cases = [
        ("A", 0.1, 0, ["tenure"], None),
        (None, 0.9, 2, (), [{"field": "x"}]),
        (7, 0.5, 1, (), None),
    ]
    rows = builder.batch_rows(tiny_model.ref_json, [4, 5, 9], *map(list, zip(*cases, strict=True)))
    assert [r["row"] for r in rows] == [4, 5, 9]
    for row, case in zip(rows, cases, strict=True):
        assert (row["ok"], row["errors"]) == (True, None)
        # The serialised reference writes the same bytes as the dict /predict serialises.
        assert orjson.dumps(row["prediction"]) == orjson.dumps(builder.one(ref, *case))
    assert builder.one(ref, *cases[2])["customerID"] == "7"
