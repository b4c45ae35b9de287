"""Live drift: the bounded window of scored rows, its gauges on /metrics, unseen categories."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from churn_api.bundle import ModelMeta, find_bundle
from churn_api.live_drift import MIN_ROWS, LiveWindow
from churn_api.main import create_app
from churn_api.provenance import TrustedKeys, load_public_keys
from churn_api.scorer import LoadedModel, load_model
from churn_api.settings import Settings


def synthetic_records(n: int, seed: int = 3) -> list[dict[str, Any]]:
    """Customers of the tiny contract, some fields missing."""
    rng = np.random.default_rng(seed)
    records = []
    for k in range(n):
        tenure = int(rng.integers(0, 73))
        monthly = round(float(rng.uniform(18, 120)), 2)
        record: dict[str, Any] = {
            "customerID": f"{k:04d}-LIVE",
            "gender": str(rng.choice(["Female", "Male"])),
            "SeniorCitizen": int(rng.random() < 0.2),
            "tenure": tenure,
            "Contract": str(rng.choice(["Month-to-month", "One year", "Two year"])),
            "MonthlyCharges": monthly,
            "TotalCharges": None if tenure == 0 else round(monthly * tenure, 2),
        }
        for name in ("gender", "tenure", "Contract"):
            if rng.random() < 0.05:
                record[name] = None
        records.append(record)
    return records


def _numeric(values: list[Any]) -> dict[str, Any]:
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    edges = np.unique(np.quantile(v, np.linspace(0.1, 0.9, 9)))
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
    return {
        "kind": "numeric",
        "count": len(v),
        "missing_rate": 1 - len(v) / len(values),
        "edges": edges.tolist(),
        "frequencies": (counts / len(v)).tolist(),
        "quantiles": np.quantile(v, np.linspace(0, 1, 101)).tolist(),
    }


def reference_of(
    records: list[dict[str, Any]], scores: np.ndarray, model: LoadedModel
) -> dict[str, Any]:
    """reference.json of some records, computed here as docs/model-bundle.md describes it."""
    fields: dict[str, Any] = {}
    for spec in model.contract.fields:
        values = [r.get(spec.name) for r in records]
        if spec.kind == "numeric":
            fields[spec.name] = _numeric(values)
            continue
        present = [v for v in values if v is not None]
        cats = spec.categories or []
        fields[spec.name] = {
            "kind": "categorical",
            "count": len(present),
            "missing_rate": 1 - len(present) / len(values),
            "categories": cats,
            "frequencies": [present.count(c) / len(present) for c in cats],
        }
    score = _numeric(scores.tolist())
    del score["kind"], score["missing_rate"]
    return {"format": 1, "rows": len(records), "computed_on": "test", "fields": fields,
            "score": score}  # fmt: skip


def shifted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every customer on a month-to-month contract: Contract drifts, nothing else is touched."""
    return [{**r, "Contract": "Month-to-month"} for r in records]


@pytest.fixture(scope="module")
def drift_model_dir(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_model_dir: Path,
    tiny_model: LoadedModel,
    bundle_tools: dict[str, Callable[..., Any]],
) -> Path:
    """The tiny model with a signed reference.json of 3,000 synthetic customers."""
    records = synthetic_records(3000, seed=21)
    scores = tiny_model.answer_batch(json.dumps({"customers": records})).probabilities
    copy = tmp_path_factory.mktemp("drift") / "model"
    shutil.copytree(tiny_model_dir, copy)
    (find_bundle(copy) / "reference.json").write_text(
        json.dumps(reference_of(records, scores, tiny_model))
    )
    bundle_tools["sign_bundle"](find_bundle(copy))
    return copy


@pytest.fixture(scope="module")
def drift_model(drift_model_dir: Path, trusted_pem: str) -> LoadedModel:
    keys = TrustedKeys(load_public_keys(trusted_pem.encode()))
    meta = ModelMeta("telco-churn", "d1", None, None, "local", str(drift_model_dir))
    return load_model(drift_model_dir, meta, keys=keys)


def _batch(model: LoadedModel, records: list[dict[str, Any]], window: LiveWindow) -> None:
    model.answer_batch(json.dumps({"customers": records}), record=window.record_batch)


def test_the_window_never_grows_and_overwrites_the_oldest_rows(drift_model: LoadedModel) -> None:
    window = LiveWindow(100)
    records = synthetic_records(250, seed=5)
    window.record_one(drift_model, drift_model.customers.validate_one(records[0]).__dict__, 0.5)
    arrays = (window._num, window._cat, window._score)
    sizes = [a.nbytes for a in arrays]
    for k, record in enumerate(records):
        values = drift_model.customers.validate_one({**record, "MonthlyCharges": k}).__dict__
        window.record_one(drift_model, values, k / 250)
    assert window.rows == 100 and len(window._pending) == 100  # a bounded deque too
    _, columns, scores = window.snapshot()  # the pending rows written into the arrays
    assert window.count == 100 and len(scores) == 100
    assert sorted(columns["MonthlyCharges"].tolist()) == list(range(150, 250))
    # A batch overwrites the oldest 30: the window is the last 70 single rows and the batch.
    _batch(drift_model, [{**r, "MonthlyCharges": 999} for r in records[:30]], window)
    assert (window._num, window._cat, window._score) == arrays  # the same objects
    assert [a.nbytes for a in arrays] == sizes
    _, columns, scores = window.snapshot()
    assert sorted(columns["MonthlyCharges"].tolist()) == [*range(180, 250), *[999.0] * 30]
    assert "customerID" not in columns
    assert window._num.shape == (3, 100) and window._cat.shape == (3, 100)


def test_a_batch_records_validated_values_and_drops_rejected_rows(
    drift_model: LoadedModel,
) -> None:
    window = LiveWindow(1000)
    rows = [
        {"tenure": 5, "Contract": "One year", "SeniorCitizen": 1, "MonthlyCharges": 20.0},
        {"tenure": "7", "SeniorCitizen": "1", "TotalCharges": " "},  # CSV text: the model's path
        {"tenure": 3, "Contract": "Three year"},  # rejected
        {"tenure": None, "Contract": None},
    ]
    _batch(drift_model, rows, window)
    _, columns, scores = window.snapshot()
    assert columns["tenure"][:2].tolist() == [5.0, 7.0] and np.isnan(columns["tenure"][2])
    assert columns["SeniorCitizen"].tolist() == [1, 1, -1]  # codes; -1 missing
    assert columns["Contract"].tolist() == [1, -1, -1]
    assert np.isnan(columns["TotalCharges"][1])
    assert len(scores) == 3 and np.all((scores >= 0) & (scores <= 1))


def test_a_model_without_reference_records_nothing(tiny_model: LoadedModel) -> None:
    window = LiveWindow(100)
    window.record_one(tiny_model, tiny_model.customers.validate_one({"tenure": 3}).__dict__, 0.1)
    _batch(tiny_model, synthetic_records(10), window)
    assert window.rows == 0 and window.snapshot()[0] is None


def _metrics(client: TestClient) -> dict[str, float]:
    out = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(("churn_feature_psi", "churn_score_psi", "churn_drift_window_rows",
                            "churn_unseen_category_total")):  # fmt: skip
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


@pytest.fixture
def client(drift_model_dir: Path, trusted_pem: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        model_uri=str(drift_model_dir),
        churn_dev_mode=True,
        model_public_keys=trusted_pem,
        model_cache_dir=tmp_path / "cache",
        model_refresh_seconds=0,
        drift_window_rows=2000,
        drift_interval_seconds=0.1,
    )
    with TestClient(create_app(settings)) as c:
        deadline = time.monotonic() + 30
        while c.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        yield c


def _wait_for(client: TestClient, check: Callable[[dict[str, float]], bool]) -> dict[str, float]:
    deadline = time.monotonic() + 10
    while not check(m := _metrics(client)):
        assert time.monotonic() < deadline, m
        time.sleep(0.05)
    return m


def test_gauges_on_metrics_after_scoring(client: TestClient) -> None:
    assert _metrics(client)["churn_drift_window_rows"] == 0
    assert "churn_feature_psi" not in str(_metrics(client))
    like_training = synthetic_records(1500, seed=99)
    for record in like_training[:50]:
        assert client.post("/predict", json=record).status_code == 200
    client.post("/predict/batch", json={"customers": like_training[50:1000]})
    m = _wait_for(client, lambda m: 'churn_feature_psi{field="Contract"}' in m)
    assert m["churn_drift_window_rows"] == 1000 >= MIN_ROWS
    psis = {k: v for k, v in m.items() if k.startswith("churn_feature_psi")}
    assert len(psis) == 6 and max(psis.values()) < 0.1, psis
    assert m["churn_score_psi"] < 0.1

    # The window (2,000 rows) filled with month-to-month customers: Contract drifts, alone.
    client.post("/predict/batch", json={"customers": shifted(synthetic_records(1000, seed=7))})
    client.post("/predict/batch", json={"customers": shifted(synthetic_records(1000, seed=8))})
    m = _wait_for(client, lambda m: m['churn_feature_psi{field="Contract"}'] > 0.2)
    assert m["churn_drift_window_rows"] == 2000
    others = {
        k: v for k, v in m.items() if k.startswith("churn_feature_psi") and "Contract" not in k
    }
    assert max(others.values()) < 0.1, others


def test_unknown_categories_are_counted_per_field(client: TestClient) -> None:
    assert client.post("/predict", json={"Contract": "Three year"}).status_code == 422
    bad_gender = {"gender": "Other", "SeniorCitizen": 3, "tenure": -1}
    assert client.post("/predict", json=bad_gender).status_code == 422
    answer = client.post("/predict/batch", json={"customers": [{"Contract": "Weekly"}, {}]})
    assert answer.status_code == 200 and answer.json()["failed"] == 1
    m = _metrics(client)
    assert m['churn_unseen_category_total{field="Contract"}'] == 2
    assert m['churn_unseen_category_total{field="gender"}'] == 1
    assert m['churn_unseen_category_total{field="SeniorCitizen"}'] == 1
    assert not any("tenure" in k for k in m)  # a number out of range is not a category


def test_a_new_model_starts_an_empty_window(
    drift_model: LoadedModel, drift_model_dir: Path, trusted_pem: str
) -> None:
    window = LiveWindow(1000)
    _batch(drift_model, synthetic_records(300, seed=1), window)
    assert window.count == 300
    keys = TrustedKeys(load_public_keys(trusted_pem.encode()))
    meta = ModelMeta("telco-churn", "d2", None, None, "local", str(drift_model_dir))
    successor = load_model(drift_model_dir, meta, keys=keys)  # its own reference object
    window.record_one(successor, successor.customers.validate_one({"tenure": 4}).__dict__, 0.2)
    assert window.rows == 1 and window.count == 0
    # A batch of the old model finishing after the swap takes the window back: never mixed.
    answer = drift_model.answer_batch(json.dumps({"customers": synthetic_records(50)}))
    window.record_batch(drift_model, answer)
    assert window.reference is drift_model.reference and window.rows == 50


def test_recording_never_fails_a_request(
    drift_model: LoadedModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from churn_api.live_drift import LiveDrift
    from churn_api.metrics import Metrics

    live = LiveDrift(LiveWindow(100), Metrics(), 60)

    def broken(*_args: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(live.window, "_write", broken)
    answer = drift_model.answer_batch(
        json.dumps({"customers": synthetic_records(20)}), record=live.record_batch
    )
    assert answer.succeeded == 20
    assert "live drift could not record a batch: RuntimeError: disk on fire" in caplog.text
    # Single rows of two layouts in the pending list (a swap between two requests): dropped.
    window = LiveWindow(100)
    window.record_one(drift_model, drift_model.customers.validate_one({}).__dict__, 0.1)
    window._pending.append(((1.0, 2.0), 0.5))
    window.flush()
    assert window.rows == 0
