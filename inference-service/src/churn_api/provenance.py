"""Model provenance: a bundle's signature.json checked before anything in the bundle is trusted.

The contract (docs/model-bundle.md "Signature", shared with the trainer): ECDSA P-256 over
SHA-256 of the canonical JSON of signature.json without "signature"; `files` lists the sha256 of
every other regular file of the bundle folder. Only public keys are held here, several at once
for key rotation (MODEL_PUBLIC_KEYS / MODEL_PUBLIC_KEYS_FILE).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from churn_api.bundle import ModelRejectedError

ALGORITHM = "ECDSA_SHA_256"
SIGNATURE_FILE = "signature.json"
_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


class UncheckedSignatureError(ModelRejectedError):
    """The signature could not be checked at all (none, or no trusted key for it)."""


@dataclass(frozen=True)
class Provenance:
    """What the signature check found: 'verified' (key_id, signed_at) or 'unchecked' (why)."""

    signature: str
    key_id: str | None = None
    signed_at: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class VerifiedFiles:
    """The bundle's files as read and hashed: use these bytes, not the disk, from now on."""

    provenance: Provenance
    data: dict[str, bytes] | None  # None when unchecked: read from the disk as before


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """First 16 hex characters of sha256(DER SubjectPublicKeyInfo)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def signed_payload(signature_doc: dict[str, Any]) -> bytes:
    """The exact bytes that are signed: the document without "signature", canonical JSON."""
    body = {k: signature_doc[k] for k in ("algorithm", "files", "key_id", "schema_version")}
    body["signed_at"] = signature_doc.get("signed_at")
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def load_public_keys(pem: bytes) -> dict[str, ec.EllipticCurvePublicKey]:
    """Every P-256 public key in a PEM text, by key id; ValueError for anything else."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    blocks = _PEM.findall(pem)
    if pem.strip() and not blocks:
        raise ValueError("no 'BEGIN PUBLIC KEY' block in the model public keys")
    for block in blocks:
        key = serialization.load_pem_public_key(block)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise ValueError("model public keys must be EC P-256 (ECDSA_SHA_256)")
        keys[key_id(key)] = key
    return keys


class TrustedKeys:
    """The public keys the service trusts, and whether unsigned bundles may load (development)."""

    def __init__(
        self, keys: dict[str, ec.EllipticCurvePublicKey], allow_unsigned: bool = False
    ) -> None:
        self.keys = keys
        self.allow_unsigned = allow_unsigned

    @classmethod
    def from_settings(
        cls, pem: str | None, pem_file: Path | None, allow_unsigned: bool
    ) -> TrustedKeys:
        """MODEL_PUBLIC_KEYS and MODEL_PUBLIC_KEYS_FILE together (both may be set)."""
        text = (pem or "").encode()
        if pem_file is not None:
            text += b"\n" + pem_file.read_bytes()
        return cls(load_public_keys(text), allow_unsigned)

    def warn_if_lax(self, log: logging.Logger) -> None:
        """A warning at start when bundles may load unchecked, or none can load at all."""
        if not self.keys:
            lax = "unsigned bundles load (ALLOW_UNSIGNED_MODELS)"
            log.warning(
                "no MODEL_PUBLIC_KEYS: %s",
                lax if self.allow_unsigned else "every bundle will be refused",
                extra={"event": "model_keys_missing"},
            )
        elif self.allow_unsigned:
            log.warning(
                "ALLOW_UNSIGNED_MODELS is on: bundles without a checkable signature load",
                extra={"event": "unsigned_models_allowed"},
            )

    def verify(self, bundle_dir: Path) -> VerifiedFiles:
        """Check the bundle folder's signature and files; ModelRejectedError says why not.

        With allow_unsigned, a bundle whose signature cannot be checked (none, or an unknown
        key) loads as 'unchecked'; a signature that was checked and failed is always refused.
        """
        try:
            return self._verify(bundle_dir)
        except UncheckedSignatureError as exc:
            if not self.allow_unsigned:
                raise
            return VerifiedFiles(Provenance("unchecked", reason=str(exc)), None)

    def _verify(self, bundle_dir: Path) -> VerifiedFiles:
        doc = _read_signature(bundle_dir / SIGNATURE_FILE)
        kid = doc["key_id"]
        public_key = self.keys.get(kid)
        if public_key is None:
            raise UncheckedSignatureError(f"signed by an unknown key {kid[:16]}")
        try:
            signature = base64.b64decode(doc["signature"], validate=True)
            public_key.verify(signature, signed_payload(doc), ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, binascii.Error, ValueError):
            raise ModelRejectedError("signature does not verify") from None
        data = _check_files(bundle_dir, doc["files"])
        return VerifiedFiles(Provenance("verified", kid, doc.get("signed_at")), data)


def _read_signature(path: Path) -> dict[str, Any]:
    """signature.json, well-formed and of the one known algorithm, or 'unsigned'."""
    if not path.is_file():
        raise UncheckedSignatureError(f"unsigned: no {SIGNATURE_FILE} in the bundle")
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise UncheckedSignatureError(f"unsigned: {SIGNATURE_FILE} is not JSON") from None
    well_formed = (
        type(doc) is dict
        and doc.get("schema_version") == 1
        and isinstance(doc.get("key_id"), str)
        and isinstance(doc.get("signature"), str)
        and isinstance(doc.get("signed_at"), str | None)
        and type(doc.get("files")) is dict
        and all(isinstance(k, str) and isinstance(v, str) for k, v in doc["files"].items())
    )
    if not well_formed:
        raise UncheckedSignatureError(f"unsigned: {SIGNATURE_FILE} is malformed")
    if doc.get("algorithm") != ALGORITHM:
        raise UncheckedSignatureError(
            f"unsigned: algorithm {str(doc.get('algorithm'))[:40]!r} is not {ALGORITHM}"
        )
    return doc


def _check_files(bundle_dir: Path, signed: dict[str, str]) -> dict[str, bytes]:
    """Every signed file present with its digest, and no other file; their bytes."""
    present = {
        p.relative_to(bundle_dir).as_posix(): p
        for p in bundle_dir.rglob("*")
        if p.is_file() or p.is_symlink()
    }
    present.pop(SIGNATURE_FILE, None)
    unsigned = sorted(set(present) - set(signed))
    if unsigned:
        raise ModelRejectedError(f"{unsigned[0]} not signed")
    data: dict[str, bytes] = {}
    for name, digest in sorted(signed.items()):
        path = present.get(name)
        if path is None:
            raise ModelRejectedError(f"{name} missing")
        if path.is_symlink():  # a link could point anywhere after the check
            raise ModelRejectedError(f"{name} altered (a symbolic link)")
        content = path.read_bytes()
        if hashlib.sha256(content).hexdigest() != digest.lower():
            raise ModelRejectedError(f"{name} altered")
        data[name] = content
    return data
