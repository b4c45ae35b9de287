"""churn_api.model_store with a registry faked in process: what is served when the champion
cannot be (refused, MLflow down), and that a cached copy is verified like a download."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from churn_api.bundle import ModelMeta, ModelRejectedError, find_bundle, read_bundle
from churn_api.model_store import ModelStore
from churn_api.registry import AliasTarget, Registry, RegistryUnavailableError
from churn_api.scorer import LoadedModel, load_model
from churn_api.settings import Settings


class FakeRegistry(Registry):
    """Aliases and versions held in memory; `download` copies a local model directory."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.aliases: dict[str, str] = {}
        self.sources: dict[str, Path] = {}
        self.down = False
        self.downloads: list[str] = []
        self.starts: list[bool] = []  # resolve's `starting` argument, call by call

    def resolve(self, alias: str, starting: bool = False) -> AliasTarget | None:
        self.starts.append(starting)
        if self.down:
            raise RegistryUnavailableError("connection refused by http://mlflow.internal:5000")
        version = self.aliases.get(alias)
        return None if version is None else AliasTarget(version, f"{'ab' * 16}")

    def download(self, target: AliasTarget) -> Path:
        if self.down:
            raise RegistryUnavailableError("download failed")
        final = self.cache_root / target.version
        if (final / ".complete").exists():
            return final
        self.downloads.append(target.version)
        shutil.copytree(self.sources[target.version], final)
        (final / ".complete").write_text("{}")
        return final


@pytest.fixture
def versions(
    tiny_model_dir: Path, tmp_path: Path, bundle_tools: dict[str, Callable[..., Any]]
) -> dict[str, Path]:
    """Version 1: the tiny bundle; 2: a different threshold, re-signed; 3: tampered after
    signing (calibration flipped, golden examples rewritten to match, as in issue 11)."""
    out = {"1": tiny_model_dir}
    for version in ("2", "3"):
        copy = tmp_path / f"v{version}"
        shutil.copytree(tiny_model_dir, copy)
        path = find_bundle(copy) / "feature_contract.json"
        contract = json.loads(path.read_text())
        contract["threshold"]["value"] = 0.5
        path.write_text(json.dumps(contract))
        bundle_tools["sign_bundle"](find_bundle(copy))
        out[version] = copy
    path = find_bundle(out["3"]) / "feature_contract.json"
    contract = json.loads(path.read_text())
    contract["calibration"]["y"] = [1.0 - y for y in contract["calibration"]["y"]]
    path.write_text(json.dumps(contract))
    tampered = LoadedModel(read_bundle(path.parent), ModelMeta("m", "3", None, None, "local", ""))
    golden_path = path.parent / "golden_examples.json"
    golden = json.loads(golden_path.read_text())
    for ex in golden["examples"]:
        customer = tampered.customers.validate_one(ex["input"])
        ex["probability"] = tampered.score_one(customer)["churn_probability"]
    golden_path.write_text(json.dumps(golden))
    # Without the signature check the attack works: the bundle proves its own golden examples.
    assert load_model(out["3"], tampered.meta).verify_golden() == len(golden["examples"])
    return out


def _store(tmp_path: Path, trusted_pem: str, versions: dict[str, Path]) -> ModelStore:
    settings = Settings(
        mlflow_tracking_uri="http://mlflow.internal:5000",
        model_uri=None,
        model_cache_dir=tmp_path / "cache",
        model_public_keys=trusted_pem,
        model_public_keys_file=None,
        allow_unsigned_models=False,
        churn_dev_mode=True,
    )
    store = ModelStore(settings)
    fake = FakeRegistry(settings)
    fake.sources = versions
    store.registry = fake
    return store


def test_a_refused_champion_leaves_the_previous_model_serving_degraded(
    tmp_path: Path, trusted_pem: str, versions: dict[str, Path]
) -> None:
    store = _store(tmp_path, trusted_pem, versions)
    fake: FakeRegistry = store.registry  # type: ignore[assignment]
    fake.aliases["champion"] = "1"
    assert store.refresh_once().meta.version == "1"
    fake.aliases["champion"] = "3"
    with pytest.raises(ModelRejectedError, match=r"champion version 3 refused: .* altered"):
        store.refresh_once(force=True)
    assert store.current is not None
    meta = store.current.meta
    assert (meta.version, meta.degraded) == ("1", True)
    assert "feature_contract.json altered" in str(meta.degraded_reason)
    assert fake.cached("3") is None  # a refused copy is not kept
    # The loop does not download a refused version again; a reload does.
    fake.downloads.clear()
    assert store.refresh_once().meta.version == "1"
    assert fake.downloads == []
    fake.aliases["champion"] = "2"
    healthy = store.refresh_once().meta
    assert (healthy.version, healthy.degraded, healthy.degraded_reason) == ("2", False, None)


def test_at_start_a_refused_champion_falls_back_to_the_last_verified_version(
    tmp_path: Path, trusted_pem: str, versions: dict[str, Path]
) -> None:
    first = _store(tmp_path, trusted_pem, versions)
    first.registry.aliases["champion"] = "2"  # type: ignore[attr-defined]
    first.refresh_once()  # verified and remembered in the cache
    store = _store(tmp_path, trusted_pem, versions)  # a new task, same cache
    store.registry.aliases["champion"] = "3"  # type: ignore[attr-defined]
    meta = store.refresh_once().meta
    assert (meta.version, meta.source, meta.degraded) == ("2", "cache", True)
    assert "champion version 3 refused" in str(meta.degraded_reason)
    assert meta.signature == "verified"


def test_at_start_without_cache_previous_champion_is_served(
    tmp_path: Path, trusted_pem: str, versions: dict[str, Path]
) -> None:
    store = _store(tmp_path, trusted_pem, versions)
    store.registry.aliases.update({"champion": "3", "previous-champion": "1"})  # type: ignore[attr-defined]
    meta = store.refresh_once().meta
    assert (meta.version, meta.alias, meta.source, meta.degraded) == (
        "1",
        "previous-champion",
        "registry",
        True,
    )
    empty = _store(tmp_path / "other", trusted_pem, versions)
    empty.registry.aliases["champion"] = "3"  # type: ignore[attr-defined]
    with pytest.raises(ModelRejectedError, match="no verified fallback version"):
        empty.refresh_once()
    assert empty.current is None


def test_a_tampered_cache_is_refused_and_downloaded_again(
    tmp_path: Path, trusted_pem: str, versions: dict[str, Path]
) -> None:
    store = _store(tmp_path, trusted_pem, versions)
    fake: FakeRegistry = store.registry  # type: ignore[assignment]
    fake.aliases["champion"] = "1"
    store.refresh_once()
    cached = find_bundle(fake.cache_root / "1") / "golden_examples.json"
    cached.write_text(cached.read_text().replace("0001-A", "0001-Z"))
    again = _store(tmp_path, trusted_pem, versions)
    again.registry.aliases["champion"] = "1"  # type: ignore[attr-defined]
    assert again.refresh_once().meta.version == "1"
    assert again.registry.downloads == ["1"]  # type: ignore[attr-defined]
    # MLflow down at start: the tampered cache is the only copy, and it is refused.
    cached = find_bundle(fake.cache_root / "1") / "golden_examples.json"
    cached.write_text(cached.read_text().replace("0001-A", "0001-Z"))
    down = _store(tmp_path, trusted_pem, versions)
    down.registry.down = True  # type: ignore[attr-defined]
    with pytest.raises(RegistryUnavailableError, match="no cached model"):
        down.refresh_once()


def test_mlflow_down_serves_the_cache_degraded_and_the_public_detail_hides_urls(
    tmp_path: Path, trusted_pem: str, versions: dict[str, Path]
) -> None:
    store = _store(tmp_path, trusted_pem, versions)
    store.registry.aliases["champion"] = "1"  # type: ignore[attr-defined]
    store.refresh_once()
    later = _store(tmp_path, trusted_pem, versions)
    later.registry.down = True  # type: ignore[attr-defined]
    meta = later.refresh_once().meta
    assert (meta.version, meta.source, meta.stale, meta.degraded) == ("1", "cache", True, True)
    # Only the first resolve of a store is a start's (one try when a verified copy is cached).
    later.refresh_once()
    assert later.registry.starts == [True, False]  # type: ignore[attr-defined]
    assert "mlflow.internal" in str(later.detail)
    assert "mlflow.internal" not in str(later.public_detail)
    assert "unreachable" in str(later.public_detail)


def _walk_attached(store: ModelStore) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if store.current is not None and store.current.walker is not None:
            return True
        time.sleep(0.01)
    return False


def test_the_tree_walk_is_attached_after_the_swap_and_kept_by_degraded_copies(
    tmp_path: Path, trusted_pem: str, versions: dict[str, Path]
) -> None:
    store = _store(tmp_path, trusted_pem, versions)
    fake: FakeRegistry = store.registry  # type: ignore[assignment]
    fake.aliases["champion"] = "1"
    served = store.refresh_once()
    assert _walk_attached(store), "the served model never got its single-row tree walk"
    assert store.current is served
    # MLflow down: the same model is served degraded, a copy that keeps the walk.
    fake.down = True
    store.refresh_once()
    degraded = store.current
    assert degraded is not None and degraded is not served and degraded.meta.degraded
    assert degraded.walker is served.walker
    # A new version is served with the booster first, then gets a walk of its own.
    fake.down = False
    fake.aliases["champion"] = "2"
    second = store.refresh_once()
    assert second.meta.version == "2"
    assert _walk_attached(store)
    assert store.current is second and second.walker is not served.walker
    customer = second.customers.validate_one({"tenure": 3})
    walked = second.score_one(customer)["churn_probability"]
    second.walker = None
    assert second.score_one(customer)["churn_probability"] == pytest.approx(walked, abs=1e-12)
