"""churn_api.bundle: finding, reading and proving a bundle; a bad one is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from churn_api.bundle import ModelMeta, ModelRejectedError, find_bundle, read_bundle
from churn_api.scorer import LoadedModel, load_model


def _meta(path: Path) -> ModelMeta:
    return ModelMeta("telco-churn", "x", None, None, "local", str(path))


def test_the_bundle_is_found_and_reproduces_its_golden_examples(
    tiny_model: LoadedModel, tiny_model_dir: Path
) -> None:
    assert tiny_model.verify_golden() == 5
    assert tiny_model.bundle_dir == find_bundle(tiny_model.bundle_dir.parent.parent)
    assert find_bundle(tiny_model_dir) == tiny_model_dir / "artifacts" / "churn_model"
    assert find_bundle(tiny_model.bundle_dir) == tiny_model.bundle_dir
    with pytest.raises(ModelRejectedError, match=r"no feature_contract\.json"):
        find_bundle(tiny_model_dir / "artifacts" / "missing")


def test_a_model_that_misses_its_golden_examples_is_refused(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    golden_path = next(copy.rglob("golden_examples.json"))
    golden = json.loads(golden_path.read_text())
    golden["examples"][0]["probability"] += 1e-5
    golden_path.write_text(json.dumps(golden))
    with pytest.raises(ModelRejectedError, match="golden example 0"):
        load_model(copy, _meta(copy))


def test_unreadable_or_mismatched_bundles_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    bundle = find_bundle(copy)
    contract = json.loads((bundle / "feature_contract.json").read_text())
    contract["encoded_features"] = contract["encoded_features"][:-1]
    contract["fields"][-1]["kind"] = "numeric"
    (bundle / "feature_contract.json").write_text(json.dumps(contract))
    with pytest.raises(ModelRejectedError, match="booster expects 10 features, contract has 9"):
        read_bundle(bundle)
    (bundle / "booster.ubj").unlink()
    with pytest.raises(ModelRejectedError, match="cannot read the bundle"):
        read_bundle(bundle)
    golden = json.loads((find_bundle(tiny_model_dir) / "golden_examples.json").read_text())
    shutil.copytree(tiny_model_dir, tmp_path / "empty")
    (find_bundle(tmp_path / "empty") / "golden_examples.json").write_text(
        json.dumps({**golden, "examples": []})
    )
    with pytest.raises(ModelRejectedError, match="no examples"):
        load_model(tmp_path / "empty", _meta(tmp_path / "empty"))
