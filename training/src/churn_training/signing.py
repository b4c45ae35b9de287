"""Sign the bundle (docs/model-bundle.md, "Signature"): signature.json over every file's sha256.

ECDSA P-256 / SHA-256, DER signature, base64 in JSON. The same bytes come from a local PEM key
and from an AWS KMS asymmetric key (ECC_NIST_P256); the API verifies both with the public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from churn_training.settings import TrainSettings

SIGNATURE_FILE = "signature.json"
ALGORITHM = "ECDSA_SHA_256"
SCHEMA_VERSION = 1
PRIVATE_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "signing-key.pub.pem"
# KMS signs at most 4096 bytes of RAW message; a bundle of ~60 files would exceed it.
KMS_RAW_LIMIT = 4096
KEY_SETTINGS = "MODEL_SIGNING_KEY_FILE, MODEL_SIGNING_KEY or MODEL_SIGNING_KMS_KEY_ID"


class SigningError(Exception):
    """The signing key is missing, unreadable or refused; the message is for a person."""


class Signer(Protocol):
    """Anything that signs bytes with ECDSA_SHA_256 and knows its public key's id."""

    @property
    def key_id(self) -> str: ...

    def sign(self, payload: bytes) -> bytes:
        """The DER-encoded ECDSA P-256 signature of SHA-256(payload)."""
        ...


def key_id_of(public_key: ec.EllipticCurvePublicKey) -> str:
    """First 16 hex chars of sha256(DER SubjectPublicKeyInfo)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def _p256_public_key(key: object, origin: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise SigningError(f"{origin} is not an EC P-256 (ECC_NIST_P256) key")
    return key


class LocalSigner:
    """A PEM PKCS#8 EC P-256 private key held by the trainer."""

    def __init__(self, pem: bytes, origin: str = "MODEL_SIGNING_KEY") -> None:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningError(f"{origin}: not an unencrypted PEM private key ({exc})") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SigningError(f"{origin} is not an EC P-256 (ECC_NIST_P256) key")
        self._key = key
        self._key_id = key_id_of(_p256_public_key(key.public_key(), origin))

    @classmethod
    def from_file(cls, path: Path) -> LocalSigner:
        try:
            return cls(path.read_bytes(), origin=f"MODEL_SIGNING_KEY_FILE {path}")
        except OSError as exc:
            raise SigningError(f"MODEL_SIGNING_KEY_FILE {path}: {exc.strerror}") from exc

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, payload: bytes) -> bytes:
        return self._key.sign(payload, ec.ECDSA(hashes.SHA256()))


class KmsSigner:
    """An AWS KMS asymmetric key (key spec ECC_NIST_P256); the private key never leaves KMS."""

    def __init__(self, key_id: str, client: Any | None = None) -> None:
        if client is None:
            try:
                import boto3  # only a KMS-signing trainer needs it
            except ImportError as exc:
                raise SigningError(
                    "MODEL_SIGNING_KMS_KEY_ID is set but boto3 is not installed"
                ) from exc
            client = boto3.client("kms")
        self._client, self._kms_key = client, key_id
        try:
            der = client.get_public_key(KeyId=key_id)["PublicKey"]
            public = serialization.load_der_public_key(der)
        except Exception as exc:  # botocore errors are not importable without boto3
            raise SigningError(f"KMS key {key_id}: cannot read its public key ({exc})") from exc
        self._key_id = key_id_of(_p256_public_key(public, f"KMS key {key_id}"))

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, payload: bytes) -> bytes:
        if len(payload) > KMS_RAW_LIMIT:
            raise SigningError(f"the signed payload is {len(payload)} bytes, KMS signs 4096")
        try:
            answer = self._client.sign(
                KeyId=self._kms_key,
                Message=payload,
                MessageType="RAW",
                SigningAlgorithm=ALGORITHM,
            )
        except Exception as exc:
            raise SigningError(f"KMS key {self._kms_key} refused to sign: {exc}") from exc
        return bytes(answer["Signature"])


def signer_from_settings(settings: TrainSettings, kms_client: Any | None = None) -> Signer | None:
    """The configured signer, or None when no key is configured; two sources are an error."""
    configured = [
        name
        for name, value in (
            ("MODEL_SIGNING_KEY_FILE", settings.signing_key_file),
            ("MODEL_SIGNING_KEY", settings.signing_key),
            ("MODEL_SIGNING_KMS_KEY_ID", settings.signing_kms_key_id),
        )
        if value
    ]
    if len(configured) > 1:
        raise SigningError(f"set only one of {', '.join(configured)}")
    if settings.signing_key_file:
        return LocalSigner.from_file(settings.signing_key_file)
    if settings.signing_key:
        return LocalSigner(settings.signing_key.get_secret_value().encode())
    if settings.signing_kms_key_id:
        return KmsSigner(settings.signing_kms_key_id, kms_client)
    return None


def file_hashes(bundle_dir: Path) -> dict[str, str]:
    """sha256 of every regular file under the bundle (POSIX relative paths), signature aside."""
    hashes_: dict[str, str] = {}
    for path in sorted(bundle_dir.rglob("*")):
        relative = path.relative_to(bundle_dir).as_posix()
        if path.is_file() and not path.is_symlink() and relative != SIGNATURE_FILE:
            hashes_[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes_


def canonical_payload(document: dict[str, Any]) -> bytes:
    """The exact signed bytes: the document without "signature", as canonical JSON."""
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_bundle(bundle_dir: Path, signer: Signer) -> dict[str, Any]:
    """Write signature.json, the bundle's last file; returns its content."""
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "algorithm": ALGORITHM,
        "key_id": signer.key_id,
        "files": file_hashes(bundle_dir),
        "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    signature = signer.sign(canonical_payload(document))
    document["signature"] = base64.b64encode(signature).decode("ascii")
    (bundle_dir / SIGNATURE_FILE).write_text(json.dumps(document, indent=2) + "\n")
    return document


def generate_keypair(out_dir: Path) -> tuple[Path, Path]:
    """`churn-train keygen`: a fresh P-256 pair as PEM files; never overwrites either."""
    private, public = out_dir / PRIVATE_KEY_FILE, out_dir / PUBLIC_KEY_FILE
    existing = [str(p) for p in (private, public) if p.exists()]
    if existing:
        raise SigningError(f"refusing to overwrite {' and '.join(existing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: a file that appeared since the check is not overwritten; 0600 from the start.
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(private, 0o600)  # the umask may have narrowed it; never widen beyond 0600
    fd = os.open(public, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private, public
