"""churn_api.provenance: only a bundle signed by a trusted key, unchanged, is loaded.

The bundles are signed here with `cryptography`, following the signing contract
(docs/model-bundle.md "Signature"), never by the training package.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from churn_api.bundle import ModelMeta, ModelRejectedError, find_bundle
from churn_api.provenance import TrustedKeys, load_public_keys
from churn_api.scorer import load_model

FILES = ("booster.ubj", "feature_contract.json", "golden_examples.json", "model_card.md")


@pytest.fixture
def bundle(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny (signed) bundle folder to change."""
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    return find_bundle(copy)


@pytest.fixture
def keys(trusted_pem: str) -> TrustedKeys:
    return TrustedKeys(load_public_keys(trusted_pem.encode()))


def _meta(path: Path) -> ModelMeta:
    return ModelMeta("telco-churn", "x", None, None, "local", str(path))


def _refused(keys: TrustedKeys, bundle: Path, words: str) -> None:
    with pytest.raises(ModelRejectedError, match=words):
        keys.verify(bundle)
    with pytest.raises(ModelRejectedError, match=words):  # the loader checks before reading
        load_model(bundle, _meta(bundle), keys=keys)


def test_a_signed_bundle_verifies_and_loads_the_bytes_it_checked(
    keys: TrustedKeys, bundle: Path, bundle_tools: dict[str, Callable[..., Any]]
) -> None:
    verified = keys.verify(bundle)
    assert verified.provenance.signature == "verified"
    assert verified.provenance.key_id in keys.keys
    assert verified.data is not None and set(verified.data) == set(FILES)
    model = load_model(bundle, _meta(bundle), keys=keys)
    assert (model.meta.signature, model.meta.signed_by) == ("verified", verified.provenance.key_id)


def test_unsigned_is_refused(keys: TrustedKeys, bundle: Path) -> None:
    (bundle / "signature.json").unlink()
    _refused(keys, bundle, "unsigned: no signature.json")
    (bundle / "signature.json").write_text("{not json")
    _refused(keys, bundle, "unsigned: signature.json is not JSON")
    (bundle / "signature.json").write_text(json.dumps({"schema_version": 1}))
    _refused(keys, bundle, "unsigned: signature.json is malformed")


@pytest.mark.parametrize("name", FILES)
def test_one_byte_changed_in_any_file_is_refused(
    keys: TrustedKeys, bundle: Path, name: str
) -> None:
    path = bundle / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    _refused(keys, bundle, f"{name} altered")


def test_extra_missing_or_linked_files_are_refused(keys: TrustedKeys, bundle: Path) -> None:
    (bundle / "extra.pkl").write_bytes(b"anything")
    _refused(keys, bundle, "extra.pkl not signed")
    (bundle / "extra.pkl").unlink()
    (bundle / "sub").mkdir()
    (bundle / "sub" / "x.json").write_text("{}")
    _refused(keys, bundle, "sub/x.json not signed")
    shutil.rmtree(bundle / "sub")
    (bundle / "model_card.md").unlink()
    _refused(keys, bundle, "model_card.md missing")
    (bundle / "model_card.md").symlink_to(bundle / "golden_examples.json")
    _refused(keys, bundle, "model_card.md altered")


def test_a_changed_signature_document_does_not_verify(keys: TrustedKeys, bundle: Path) -> None:
    path = bundle / "signature.json"
    doc = json.loads(path.read_text())
    doc["files"]["booster.ubj"] = "0" * 64  # the attacker's own digest
    path.write_text(json.dumps(doc))
    _refused(keys, bundle, "signature does not verify")
    doc = json.loads(path.read_text())
    doc["signature"] = "not base64!"
    path.write_text(json.dumps(doc))
    _refused(keys, bundle, "signature does not verify")


def test_unknown_key_and_wrong_algorithm_are_refused(
    keys: TrustedKeys, bundle: Path, bundle_tools: dict[str, Callable[..., Any]]
) -> None:
    sign = bundle_tools["sign_bundle"]
    other = ec.generate_private_key(ec.SECP256R1())
    doc = sign(bundle, other)
    _refused(keys, bundle, f"signed by an unknown key {doc['key_id']}")
    sign(bundle, other, key_id=next(iter(keys.keys)))  # claims a trusted key's id
    _refused(keys, bundle, "signature does not verify")
    sign(bundle, algorithm="RSASSA_PSS_SHA_256")
    _refused(keys, bundle, "algorithm 'RSASSA_PSS_SHA_256' is not ECDSA_SHA_256")


def test_a_second_trusted_key_verifies_key_rotation(
    trusted_pem: str, bundle: Path, bundle_tools: dict[str, Callable[..., Any]], tmp_path: Path
) -> None:
    new = ec.generate_private_key(ec.SECP256R1())
    doc = bundle_tools["sign_bundle"](bundle, new)
    pem_file = tmp_path / "keys.pem"
    pem_file.write_text(bundle_tools["public_pem"](new))
    both = TrustedKeys.from_settings(trusted_pem, pem_file, allow_unsigned=False)
    assert len(both.keys) == 2
    assert both.verify(bundle).provenance.key_id == doc["key_id"]
    concatenated = TrustedKeys.from_settings(
        trusted_pem + bundle_tools["public_pem"](new), None, False
    )
    assert concatenated.verify(bundle).provenance.signature == "verified"


def test_allow_unsigned_loads_what_cannot_be_checked_and_says_so(
    trusted_pem: str, bundle: Path, bundle_tools: dict[str, Callable[..., Any]]
) -> None:
    nobody = TrustedKeys({}, allow_unsigned=True)
    unchecked = nobody.verify(bundle)  # signed, but by no key we hold
    assert unchecked.provenance.signature == "unchecked"
    assert "unknown key" in str(unchecked.provenance.reason)
    (bundle / "signature.json").unlink()
    model = load_model(bundle, _meta(bundle), keys=nobody)
    assert model.meta.signature == "unchecked"
    # A signature that was checked and failed is refused even in development.
    bundle_tools["sign_bundle"](bundle)
    (bundle / "model_card.md").write_text("changed")
    lax = TrustedKeys(load_public_keys(trusted_pem.encode()), allow_unsigned=True)
    with pytest.raises(ModelRejectedError, match=r"model_card\.md altered"):
        lax.verify(bundle)
    with pytest.raises(ModelRejectedError, match="unsigned"):
        TrustedKeys({}).verify(bundle.parent / "missing")


def test_public_keys_must_be_p256(bundle_tools: dict[str, Callable[..., Any]]) -> None:
    with pytest.raises(ValueError, match="no 'BEGIN PUBLIC KEY'"):
        load_public_keys(b"garbage")
    p384 = bundle_tools["public_pem"](ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ValueError, match="P-256"):
        load_public_keys(p384.encode())
    assert load_public_keys(b"") == {}
