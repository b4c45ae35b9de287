"""A tiny model bundle made here, in the documented layout (docs/model-bundle.md).

A small xgboost booster trained on synthetic rows, its feature contract, and golden examples
computed in this file from the documented rules (not by churn_api), so unit and route tests run
without the training package, a trained model or a server. The bundle is signed here too, with
`cryptography` following the signing contract (docs/model-bundle.md "Signature"), by a key of
this test session (TEST_KEY); the API's tests trust its public half (TEST_PUBLIC_PEM).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from churn_api.bundle import ModelMeta
from churn_api.scorer import LoadedModel, load_model

TEST_KEY = ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """The PEM SubjectPublicKeyInfo of a key pair, as MODEL_PUBLIC_KEYS holds it."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


TEST_PUBLIC_PEM = public_pem(TEST_KEY)


def spec_key_id(key: ec.EllipticCurvePrivateKey) -> str:
    """First 16 hex characters of sha256(DER SubjectPublicKeyInfo)."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def sign_bundle(
    bundle: Path,
    key: ec.EllipticCurvePrivateKey = TEST_KEY,
    algorithm: str = "ECDSA_SHA_256",
    key_id: str | None = None,
) -> dict[str, Any]:
    """Write bundle/signature.json as the signing contract says (written last); returns it."""
    (bundle / "signature.json").unlink(missing_ok=True)
    files = {
        p.relative_to(bundle).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(bundle.rglob("*"))
        if p.is_file()
    }
    doc: dict[str, Any] = {
        "schema_version": 1,
        "algorithm": algorithm,
        "key_id": key_id or spec_key_id(key),
        "files": files,
        "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    payload = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    doc["signature"] = base64.b64encode(signature).decode()
    (bundle / "signature.json").write_text(json.dumps(doc, indent=2))
    return doc


CONTRACT: dict[str, Any] = {
    "schema_version": 1,
    "model_name": "telco-churn",
    "target": "Churn",
    "id_field": "customerID",
    "fields": [
        {
            "name": "gender",
            "kind": "categorical",
            "dtype": "string",
            "categories": ["Female", "Male"],
            "default": "Male",
            "description": "Customer gender",
        },
        {
            "name": "SeniorCitizen",
            "kind": "categorical",
            "dtype": "integer",
            "categories": [0, 1],
            "default": 0,
            "description": "1 if 65 or older",
        },
        {
            "name": "tenure",
            "kind": "numeric",
            "dtype": "integer",
            "minimum": 0,
            "maximum": 120,
            "default": 29,
            "description": "Months with the company",
        },
        {
            "name": "Contract",
            "kind": "categorical",
            "dtype": "string",
            "group": "billing",
            "categories": ["Month-to-month", "One year", "Two year"],
            "default": "Month-to-month",
        },
        {
            "name": "MonthlyCharges",
            "kind": "numeric",
            "dtype": "number",
            "group": "billing",
            "minimum": 0,
            "maximum": 1000,
            "default": 70.35,
        },
        {
            "name": "TotalCharges",
            "kind": "numeric",
            "dtype": "number",
            "group": "billing",
            "minimum": 0,
            "maximum": 100000,
            "default": 1397.47,
        },
    ],
    "encoded_features": [
        {"name": "gender=Female", "field": "gender", "category": "Female"},
        {"name": "gender=Male", "field": "gender", "category": "Male"},
        {"name": "SeniorCitizen=0", "field": "SeniorCitizen", "category": 0},
        {"name": "SeniorCitizen=1", "field": "SeniorCitizen", "category": 1},
        {"name": "tenure", "field": "tenure"},
        {"name": "Contract=Month-to-month", "field": "Contract", "category": "Month-to-month"},
        {"name": "Contract=One year", "field": "Contract", "category": "One year"},
        {"name": "Contract=Two year", "field": "Contract", "category": "Two year"},
        {"name": "MonthlyCharges", "field": "MonthlyCharges"},
        {"name": "TotalCharges", "field": "TotalCharges"},
    ],
    "imputation_rules": [
        {"field": "TotalCharges", "when_field": "tenure", "equals": 0, "value": 0.0}
    ],
    "calibration": {
        "method": "isotonic",
        "x": [0.0, 0.2, 0.5, 0.8, 1.0],
        "y": [0.0, 0.1, 0.45, 0.85, 1.0],
    },
    "threshold": {
        "value": 0.3,
        "strategy": "expected_value",
        "offer_cost": 50.0,
        "saved_customer_value": 500.0,
        "offer_success_rate": 0.3,
    },
    "risk_bands": [
        {"name": "low", "upper": 0.3},
        {"name": "medium", "upper": 0.6},
        {"name": "high", "upper": 1.0},
    ],
    "metrics": {"roc_auc": 0.8},
    "training": {"trained_at": "2026-01-01T00:00:00+00:00", "rows": 400},
}
GOLDEN_INPUTS: list[dict[str, Any]] = [
    {
        "customerID": "0001-A",
        "gender": "Female",
        "SeniorCitizen": 0,
        "tenure": 1,
        "Contract": "Month-to-month",
        "MonthlyCharges": 85.5,
        "TotalCharges": 85.5,
    },
    {
        "customerID": "0002-B",
        "gender": "Male",
        "SeniorCitizen": 1,
        "tenure": 60,
        "Contract": "Two year",
        "MonthlyCharges": 25.0,
        "TotalCharges": 1500.0,
    },
    {
        "customerID": "0003-C",
        "gender": "Male",
        "SeniorCitizen": 0,
        "tenure": 0,
        "Contract": "One year",
        "MonthlyCharges": 40.0,
        "TotalCharges": " ",
    },
    {"customerID": "0004-D", "tenure": 12},
    {"customerID": "0005-E", "Contract": "One year", "MonthlyCharges": 99.9},
]


def encode_by_the_docs(record: dict[str, Any]) -> list[float]:
    """docs/model-bundle.md's encoding, written independently of churn_api."""
    used, missing = {}, set()
    for spec in CONTRACT["fields"]:
        value = record.get(spec["name"])
        if value is None or (isinstance(value, str) and not value.strip()):
            value = spec["default"]
            missing.add(spec["name"])
        used[spec["name"]] = value
    for rule in CONTRACT["imputation_rules"]:
        if rule["field"] in missing and used[rule["when_field"]] == rule["equals"]:
            used[rule["field"]] = rule["value"]
    return [
        float(used[e["field"]]) if "category" not in e else float(used[e["field"]] == e["category"])
        for e in CONTRACT["encoded_features"]
    ]


def probability_by_the_docs(booster: xgb.Booster, records: list[dict[str, Any]]) -> np.ndarray:
    """Raw booster probability, then the isotonic calibration (numpy.interp)."""
    X = np.array([encode_by_the_docs(r) for r in records], dtype=np.float32)
    raw = booster.inplace_predict(X, validate_features=False)
    cal = CONTRACT["calibration"]
    return np.interp(np.asarray(raw, dtype=np.float64), cal["x"], cal["y"])


def synthetic_records(n: int, seed: int = 3) -> list[dict[str, Any]]:
    """Client records like dataset rows: every field present, some null."""
    rng = np.random.default_rng(seed)
    records = []
    for k in range(n):
        tenure = int(rng.integers(0, 73))
        monthly = round(float(rng.uniform(18, 120)), 2)
        record: dict[str, Any] = {
            "customerID": f"{k:04d}-SYN",
            "gender": str(rng.choice(["Female", "Male"])),
            "SeniorCitizen": int(rng.random() < 0.2),
            "tenure": tenure,
            "Contract": str(rng.choice(["Month-to-month", "One year", "Two year"])),
            "MonthlyCharges": monthly,
            "TotalCharges": None if tenure == 0 else round(monthly * tenure, 2),
        }
        for name in ("gender", "tenure", "MonthlyCharges", "Contract"):
            if rng.random() < 0.08:
                record[name] = None
        records.append(record)
    return records


def train_booster(rows: int = 400, trees: int = 40, seed: int = 0) -> xgb.Booster:
    """A small binary:logistic booster whose splits also learn where missing values go."""
    rng = np.random.default_rng(seed)
    X = np.array([encode_by_the_docs(r) for r in synthetic_records(rows, seed)], dtype=np.float32)
    tenure, monthly = X[:, 4], X[:, 8]
    logit = 1.5 * X[:, 5] - 0.04 * tenure + 0.02 * monthly - 1.0 + rng.normal(0, 0.8, rows)
    y = (logit > 0).astype(int)
    X[rng.random(X.shape) < 0.1] = np.nan  # holes: every split learns a default direction
    names = [e["name"] for e in CONTRACT["encoded_features"]]
    dtrain = xgb.DMatrix(X, label=y, feature_names=names)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": seed}
    return xgb.train(params, dtrain, num_boost_round=trees)


def write_bundle(
    model_dir: Path,
    booster: xgb.Booster | None = None,
    key: ec.EllipticCurvePrivateKey | None = TEST_KEY,
) -> Path:
    """An MLflow-like model directory holding the bundle at artifacts/churn_model/, signed by
    `key` (None: unsigned)."""
    booster = booster or train_booster()
    bundle = model_dir / "artifacts" / "churn_model"
    bundle.mkdir(parents=True)
    (model_dir / "MLmodel").write_text("artifact_path: model\nrun_id: tiny-run\n")
    booster.save_model(str(bundle / "booster.ubj"))
    (bundle / "feature_contract.json").write_text(json.dumps(CONTRACT))
    probabilities = probability_by_the_docs(booster, GOLDEN_INPUTS)
    golden = {
        "tolerance": 1e-6,
        "examples": [
            {"input": r, "probability": float(p)}
            for r, p in zip(GOLDEN_INPUTS, probabilities, strict=True)
        ],
    }
    (bundle / "golden_examples.json").write_text(json.dumps(golden))
    (bundle / "model_card.md").write_text("# tiny test model\n")
    if key is not None:
        sign_bundle(bundle, key)
    return model_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory with the tiny bundle (read-only: copy it to change it)."""
    return write_bundle(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def trusted_pem() -> str:
    """The public key that verifies the tiny bundle (MODEL_PUBLIC_KEYS of the tests' apps)."""
    return TEST_PUBLIC_PEM


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> LoadedModel:
    """The tiny bundle, loaded and verified as the service loads a model."""
    meta = ModelMeta("telco-churn", "tiny", None, None, "local", str(tiny_model_dir))
    return load_model(tiny_model_dir, meta)


@pytest.fixture(scope="session")
def tiny_records() -> list[dict[str, Any]]:
    """400 dataset-like records for the tiny model."""
    return synthetic_records(400, seed=11)


@pytest.fixture(scope="session")
def bundle_tools() -> dict[str, Callable[..., Any]]:
    """The builder's functions, for tests that make their own variant of the bundle."""
    return {
        "write_bundle": write_bundle,
        "sign_bundle": sign_bundle,
        "public_pem": public_pem,
        "train_booster": train_booster,
        "probability_by_the_docs": probability_by_the_docs,
    }
