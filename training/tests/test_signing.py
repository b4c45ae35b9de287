"""Bundle signing against the contract in docs/model-bundle.md ("Signature"), verified here by a
small independent verifier (never the API's code); keygen; publishing refused without a key."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from churn_training import cli, signing
from churn_training.settings import TrainSettings

KEY_ENV = ("MODEL_SIGNING_KEY_FILE", "MODEL_SIGNING_KEY", "MODEL_SIGNING_KMS_KEY_ID")


def verify(bundle_dir: Path, public_pem: bytes) -> dict[str, Any]:
    """The spec's verification, steps 1-4; raises AssertionError/InvalidSignature on refusal."""
    document = json.loads((bundle_dir / "signature.json").read_text())
    assert document["schema_version"] == 1 and document["algorithm"] == "ECDSA_SHA_256"
    public = serialization.load_pem_public_key(public_pem)
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert document["key_id"] == hashlib.sha256(der).hexdigest()[:16]
    payload = json.dumps(
        {k: document[k] for k in ("algorithm", "files", "key_id", "schema_version", "signed_at")},
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(base64.b64decode(document["signature"]), payload, ec.ECDSA(hashes.SHA256()))
    on_disk = {
        p.relative_to(bundle_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in bundle_dir.rglob("*")
        if p.is_file() and p.name != "signature.json"
    }
    assert on_disk == document["files"]
    return document


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return signing.generate_keypair(tmp_path / "keys")


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "churn_model"
    (folder / "extra").mkdir(parents=True)
    (folder / "booster.ubj").write_bytes(b"\x00booster")
    (folder / "feature_contract.json").write_text('{"schema_version": 1}')
    (folder / "extra" / "notes.txt").write_text("nested files are signed too")
    return folder


def test_signature_verifies_and_lists_every_file(bundle_dir: Path, keys) -> None:
    private, public = keys
    signer = signing.LocalSigner.from_file(private)
    written = signing.sign_bundle(bundle_dir, signer)
    document = verify(bundle_dir, public.read_bytes())
    assert document == written
    assert document["files"] == {
        "booster.ubj": hashlib.sha256(b"\x00booster").hexdigest(),
        "feature_contract.json": hashlib.sha256(b'{"schema_version": 1}').hexdigest(),
        "extra/notes.txt": hashlib.sha256(b"nested files are signed too").hexdigest(),
    }
    assert document["signed_at"].endswith("+00:00")
    # Signing again never lists the old signature.json.
    assert "signature.json" not in signing.sign_bundle(bundle_dir, signer)["files"]


def test_a_changed_file_or_payload_fails_verification(bundle_dir: Path, keys) -> None:
    private, public = keys
    signing.sign_bundle(bundle_dir, signing.LocalSigner.from_file(private))
    (bundle_dir / "booster.ubj").write_bytes(b"\x00tampered")
    with pytest.raises(AssertionError):
        verify(bundle_dir, public.read_bytes())
    document = json.loads((bundle_dir / "signature.json").read_text())
    document["files"]["booster.ubj"] = hashlib.sha256(b"\x00tampered").hexdigest()
    (bundle_dir / "signature.json").write_text(json.dumps(document))
    with pytest.raises(InvalidSignature):
        verify(bundle_dir, public.read_bytes())


class FakeKms:
    """boto3's KMS client as far as the signer uses it, backed by a local key."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.calls: list[dict[str, Any]] = []

    def get_public_key(self, KeyId: str) -> dict[str, bytes]:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {"PublicKey": der}

    def sign(self, **kwargs: Any) -> dict[str, bytes]:
        self.calls.append(kwargs)
        assert kwargs["MessageType"] == "RAW" and kwargs["SigningAlgorithm"] == "ECDSA_SHA_256"
        return {"Signature": self.key.sign(kwargs["Message"], ec.ECDSA(hashes.SHA256()))}

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def test_kms_signer_produces_the_same_format(
    bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in KEY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_SIGNING_KMS_KEY_ID", "alias/churn-model-signing")
    kms = FakeKms()
    signer = signing.signer_from_settings(TrainSettings(), kms_client=kms)
    assert isinstance(signer, signing.KmsSigner)
    signing.sign_bundle(bundle_dir, signer)
    verify(bundle_dir, kms.public_pem())
    assert kms.calls[0]["KeyId"] == "alias/churn-model-signing"


def test_kms_without_boto3_is_a_clear_error() -> None:
    try:
        import boto3  # noqa: F401
    except ImportError:
        with pytest.raises(signing.SigningError, match="boto3 is not installed"):
            signing.KmsSigner("alias/x")
    else:
        pytest.skip("boto3 is installed here")


def test_keygen_writes_a_private_0600_pair_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    assert cli.main(["keygen", "--out", str(out)]) == 0
    private, public = out / "signing-key.pem", out / "signing-key.pub.pem"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    signer = signing.LocalSigner.from_file(private)
    loaded = serialization.load_pem_public_key(public.read_bytes())
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    assert signer.key_id == signing.key_id_of(loaded)
    before = private.read_bytes()
    assert cli.main(["keygen", "--out", str(out)]) == cli.EXIT_USAGE
    assert private.read_bytes() == before
    public.unlink()  # either file existing is enough to refuse
    with pytest.raises(signing.SigningError, match="refusing to overwrite"):
        signing.generate_keypair(out)


def test_key_settings(tmp_path: Path, keys, monkeypatch: pytest.MonkeyPatch) -> None:
    private, _ = keys
    for name in KEY_ENV:
        monkeypatch.delenv(name, raising=False)
    assert signing.signer_from_settings(TrainSettings()) is None
    monkeypatch.setenv("MODEL_SIGNING_KEY", private.read_text())
    from_pem = signing.signer_from_settings(TrainSettings())
    assert from_pem is not None
    assert from_pem.key_id == signing.LocalSigner.from_file(private).key_id
    monkeypatch.setenv("MODEL_SIGNING_KEY_FILE", str(private))
    with pytest.raises(signing.SigningError, match="only one of MODEL_SIGNING_KEY_FILE"):
        signing.signer_from_settings(TrainSettings())
    monkeypatch.delenv("MODEL_SIGNING_KEY")
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "p384.pem").write_bytes(p384)
    monkeypatch.setenv("MODEL_SIGNING_KEY_FILE", str(tmp_path / "p384.pem"))
    with pytest.raises(signing.SigningError, match="not an EC P-256"):
        signing.signer_from_settings(TrainSettings())
    (tmp_path / "junk.pem").write_text("not a key")
    monkeypatch.setenv("MODEL_SIGNING_KEY_FILE", str(tmp_path / "junk.pem"))
    with pytest.raises(signing.SigningError, match=r"junk\.pem: not an unencrypted PEM"):
        signing.signer_from_settings(TrainSettings())


def test_publishing_without_a_key_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in (*KEY_ENV, "ALLOW_UNSIGNED_MODELS"):
        monkeypatch.delenv(name, raising=False)
    argv = ["--data", str(tmp_path / "never-read.csv"), "--tracking-uri", "http://127.0.0.1:9"]
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "refusing to publish an unsigned model" in err
    for name in (*KEY_ENV, "ALLOW_UNSIGNED_MODELS=true", "churn-train keygen"):
        assert name in err
    assert "not reachable" not in err and len(err.strip().splitlines()) == 1
    # The development switch lets it go on (to the tracking server check, which fails here).
    monkeypatch.setenv("ALLOW_UNSIGNED_MODELS", "true")
    assert cli.main(argv) == cli.EXIT_MLFLOW
    assert "not reachable" in capsys.readouterr().err


def test_a_bad_key_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("MODEL_SIGNING_KEY_FILE", str(tmp_path / "missing.pem"))
    assert cli.main(["--tracking-uri", "http://127.0.0.1:9"]) == cli.EXIT_USAGE
    assert "MODEL_SIGNING_KEY_FILE" in capsys.readouterr().err


@pytest.mark.integration
def test_the_published_champion_is_signed_and_identical_to_the_local_copy(
    champion, tmp_path: Path
) -> None:
    """The session's key signed it (root conftest.py); --model-dir holds the same bytes."""
    import mlflow

    from churn_training.bundle import single_bundle_in

    public = Path(os.environ["MODEL_PUBLIC_KEYS_FILE"]).read_bytes()
    local = verify(single_bundle_in(champion.model_dir), public)
    mlflow.set_tracking_uri(champion.uri)
    registered = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/telco-churn/{champion.result['version']}", dst_path=str(tmp_path)
    )
    assert verify(single_bundle_in(Path(registered)), public) == local
    assert set(local["files"]) >= {
        "booster.ubj",
        "feature_contract.json",
        "golden_examples.json",
        "model_card.md",
    }
