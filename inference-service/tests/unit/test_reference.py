"""churn_api.reference and the bundle: reference.json is read from the verified bytes, checked
against the contract, and optional (a bundle made before it loads with reference None)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from churn_api.bundle import ModelMeta, ModelRejectedError, find_bundle
from churn_api.provenance import TrustedKeys, load_public_keys
from churn_api.reference import Reference, parse_reference
from churn_api.scorer import LoadedModel, load_model

REFERENCE: dict[str, Any] = {
    "format": 1,
    "rows": 400,
    "computed_on": "training split",
    "fields": {
        "Contract": {
            "kind": "categorical",
            "count": 400,
            "missing_rate": 0.0,
            "categories": ["Month-to-month", "One year", "Two year"],
            "frequencies": [0.55, 0.25, 0.2],
        },
        "SeniorCitizen": {
            "kind": "categorical",
            "count": 400,
            "missing_rate": 0.0,
            "categories": [0, 1],
            "frequencies": [0.8, 0.2],
        },
        "tenure": {
            "kind": "numeric",
            "count": 400,
            "missing_rate": 0.0,
            "edges": [6.0, 29.0, 55.0],
            "frequencies": [0.25, 0.25, 0.25, 0.25],
            "quantiles": [float(q) for q in range(0, 202, 2)],
        },
    },
    "score": {
        "source": "out-of-fold",
        "count": 400,
        "edges": [0.2, 0.5],
        "frequencies": [0.5, 0.3, 0.2],
        "quantiles": [i / 100 for i in range(101)],
    },
}


def _meta(path: Path) -> ModelMeta:
    return ModelMeta("telco-churn", "x", None, None, "local", str(path))


@pytest.fixture
def with_reference(
    tiny_model_dir: Path, tmp_path: Path, bundle_tools: dict[str, Callable[..., Any]]
) -> Callable[[Any], Path]:
    """A signed copy of the tiny model with the given reference.json (text or data)."""

    def make(content: Any) -> Path:
        copy = tmp_path / "model"
        shutil.copytree(tiny_model_dir, copy)
        text = content if isinstance(content, str) else json.dumps(content)
        (find_bundle(copy) / "reference.json").write_text(text)
        bundle_tools["sign_bundle"](find_bundle(copy))
        return copy

    return make


def _load(model_dir: Path, trusted_pem: str) -> LoadedModel:
    keys = TrustedKeys(load_public_keys(trusted_pem.encode()))
    return load_model(model_dir, _meta(model_dir), keys=keys)


def test_a_bundle_without_reference_loads_with_none(tiny_model: LoadedModel) -> None:
    assert tiny_model.reference is None


def test_the_reference_is_read_from_the_verified_bytes(
    with_reference: Callable[[Any], Path], trusted_pem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = with_reference(REFERENCE)
    path = find_bundle(model_dir) / "reference.json"
    original = Path.read_bytes

    def swapped_after_the_check(self: Path) -> bytes:
        data = original(self)
        if self == path:
            path.write_text("{}")  # the disk changes right after the signature check read it
        return data

    monkeypatch.setattr(Path, "read_bytes", swapped_after_the_check)
    model = _load(model_dir, trusted_pem)
    assert model.meta.signature == "verified"
    assert isinstance(model.reference, Reference)
    assert model.reference.rows == 400
    senior = model.reference.fields["SeniorCitizen"]
    assert senior.kind == "categorical" and senior.categories == [0, 1]
    assert model.reference.score is not None and model.reference.score.edges == [0.2, 0.5]


def test_a_changed_reference_breaks_the_signature(
    with_reference: Callable[[Any], Path], trusted_pem: str
) -> None:
    model_dir = with_reference(REFERENCE)
    path = find_bundle(model_dir) / "reference.json"
    changed = json.loads(path.read_text())
    changed["fields"]["Contract"]["frequencies"] = [0.2, 0.25, 0.55]
    path.write_text(json.dumps(changed))
    with pytest.raises(ModelRejectedError, match=r"reference\.json altered"):
        _load(model_dir, trusted_pem)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["fields"]["tenure"].update(frequencies=[0.5, 0.5]),
            "tenure.numeric: Value error, bins: 2 frequencies, expected 4",
        ),
        (lambda r: r["fields"]["tenure"].update(edges=[29.0, 6.0, 55.0]), "strictly increasing"),
        (lambda r: r["fields"]["tenure"].update(quantiles=[1.0] * 100), "expected 101"),
        (lambda r: r["fields"]["Contract"].update(frequencies=[0.5, 0.2, 0.2]), "sum to"),
        (lambda r: r.update(format=2), "format"),
        (lambda r: r["fields"].update(Plan=r["fields"]["Contract"]), "Plan is not in the contract"),
        (lambda r: r["fields"]["Contract"].update(categories=["A", "B", "C"]), "categories differ"),
        (lambda r: r["fields"]["tenure"].update(kind="categorical"), "categories"),
    ],
)
def test_a_malformed_or_mismatched_reference_refuses_the_model(
    with_reference: Callable[[Any], Path],
    trusted_pem: str,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    document = json.loads(json.dumps(REFERENCE))
    change(document)
    with pytest.raises(ModelRejectedError, match=message):
        _load(with_reference(document), trusted_pem)


def test_reference_json_that_is_not_json_is_refused(
    with_reference: Callable[[Any], Path], trusted_pem: str
) -> None:
    with pytest.raises(ModelRejectedError, match=r"reference\.json is malformed"):
        _load(with_reference("{not json"), trusted_pem)


def test_parse_reference_keeps_keys_it_does_not_know() -> None:
    document = json.loads(json.dumps(REFERENCE)) | {"added_later": {"x": 1}}
    assert parse_reference(json.dumps(document)).rows == 400
    with pytest.raises(ValueError, match=r"^rows: Input should be greater than or equal to 1$"):
        parse_reference(json.dumps({**REFERENCE, "rows": 0}))
