"""JWT bearer authentication with per-key trust: which key verified a token bounds its scopes.

Admin tokens are ES256, verified with operators' public keys only (JWT_ADMIN_PUBLIC_KEYS): the
API never holds anything that can mint one. Predict tokens are ES256 from JWT_PREDICT_PUBLIC_KEYS
(client programs: `predict` only) or HS256 from JWT_PREDICT_SECRET (shared with the UI:
`predict` and `customers`); a token never carries a scope its verifying key is not trusted for,
whatever its `scope` claim says. Every token needs `sub`, `iss` (one of
JWT_ISSUERS), `aud` (JWT_AUDIENCE), `iat` and `exp`, with `exp - iat` at most the maximum lifetime.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jwt

# "customers": the customer store's personal data (attributes, scores): operators' keys and
# the UI's secret, never the predict-only public keys of client programs.
SCOPES = ("predict", "admin", "customers")
# HS256 only for the UI's shared secret; ES256 for public keys. Nothing else, ever.
SUPPORTED_ALGORITHMS = ("ES256", "HS256")
LEEWAY_SECONDS = 30
MIN_SECRET_BYTES = 32
MIN_SECRET_DISTINCT = 8
# Values printed in this repository (today or in its history) or in common examples.
KNOWN_SECRETS = frozenset(
    {
        "insecure-local-development-secret-change-me",
        "change-me",
        "changeme",
        "secret",
        "your-secret-key",
        "your-256-bit-secret",
    }
)
_CACHE_SIZE = 4096
_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


class AuthError(Exception):
    """A 401 (no/bad token) or 403 (missing scope)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who is calling, with which scopes (claimed and granted by the verifying key)."""

    sub: str
    scopes: frozenset[str]
    exp: float
    trusted_for: frozenset[str] = frozenset(SCOPES)


ANONYMOUS = Principal(sub="anonymous", scopes=frozenset(SCOPES), exp=float("inf"))


@dataclass(frozen=True)
class TrustedKey:
    """A verification key, its algorithm and the scopes tokens it verifies may carry."""

    kid: str
    algorithm: str
    key: Any  # an EllipticCurvePublicKey (ES256) or the secret's bytes (HS256)
    scopes: frozenset[str]


def secret_problem(secret: str) -> str | None:
    """Why `secret` must not be trusted as an HS256 key, or None."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    if secret.strip().lower() in KNOWN_SECRETS:
        return "is a publicly known example value"
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        return f"has fewer than {MIN_SECRET_DISTINCT} distinct characters"
    return None


def load_public_keys(pem: bytes, what: str) -> list[Any]:
    """Every EC P-256 public key in a PEM text; ValueError naming `what` for anything else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    blocks = _PEM.findall(pem)
    if pem.strip() and not blocks:
        raise ValueError(f"{what}: no 'BEGIN PUBLIC KEY' block")
    keys = []
    for block in blocks:
        key = serialization.load_pem_public_key(block)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{what}: token keys must be EC P-256 public keys (ES256)")
        keys.append(key)
    return keys


def public_key_id(key: Any) -> str:
    """First 16 hex characters of sha256(DER SubjectPublicKeyInfo): the `kid` of its tokens."""
    from cryptography.hazmat.primitives import serialization

    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def trusted_keys(
    admin_keys: Iterable[Any], predict_keys: Iterable[Any], predict_secret: str | None
) -> list[TrustedKey]:
    """The verification keys: operators' (every scope), client programs' (predict) and the
    UI's secret (predict, customers)."""
    keys = [TrustedKey(public_key_id(k), "ES256", k, frozenset(SCOPES)) for k in admin_keys]
    keys += [TrustedKey(public_key_id(k), "ES256", k, frozenset({"predict"})) for k in predict_keys]
    if predict_secret:
        ui = frozenset({"predict", "customers"})
        keys.append(TrustedKey("", "HS256", predict_secret.encode(), ui))
    return keys


class Authenticator:
    """Verifies bearer tokens; with no key every call is allowed (CHURN_DEV_MODE only)."""

    def __init__(
        self,
        keys: Sequence[TrustedKey],
        audience: str = "churn-api",
        issuers: Sequence[str] = ("churn-ui", "churn-operator"),
        max_lifetime_seconds: int = 3600,
        algorithms: Sequence[str] = SUPPORTED_ALGORITHMS,
    ) -> None:
        unsupported = sorted(set(algorithms) - set(SUPPORTED_ALGORITHMS))
        if unsupported:
            raise ValueError(f"unsupported token algorithm(s) {unsupported}")
        self.keys = [k for k in keys if k.algorithm in algorithms]
        self.audience = audience
        self.issuers = list(issuers)
        self.max_lifetime = max_lifetime_seconds
        self.algorithms = frozenset(algorithms)
        # A verified signature stays verified: cache it, but check expiry on every call.
        self._verified: dict[str, Principal] = {}

    @property
    def enabled(self) -> bool:
        """Whether any verification key is configured."""
        return bool(self.keys)

    def authorize(self, authorization: str | None, scope: str) -> Principal:
        """The caller of a request needing `scope`, or AuthError."""
        if not self.keys:
            return ANONYMOUS
        if not authorization:
            raise AuthError(401, "Missing bearer token")
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise AuthError(401, "Authorization header must be 'Bearer <token>'")
        token = token.strip()
        principal = self._verified.get(token)
        if principal is None:
            principal = self._decode(token)
            if len(self._verified) >= _CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = principal
        if principal.exp + LEEWAY_SECONDS <= time.time():
            self._verified.pop(token, None)
            raise AuthError(401, "Token has expired")
        if scope not in principal.scopes:
            if scope not in principal.trusted_for:
                raise AuthError(403, f"Token's signing key is not trusted for the '{scope}' scope")
            raise AuthError(403, f"Token lacks the '{scope}' scope")
        return principal

    def _decode(self, token: str) -> Principal:
        # PyJWT (and the urllib it pulls in) costs a tenth of the start: imported when the first
        # token is checked, or by warmup.py once the model is served, never on the ready path.
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(401, f"Invalid token: {exc}") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise AuthError(401, f"Invalid token: algorithm {algorithm!r} is not accepted")
        kid = header.get("kid")
        candidates = [
            k
            for k in self.keys
            if k.algorithm == algorithm and (not kid or not k.kid or k.kid == kid)
        ]
        if not candidates:
            raise AuthError(401, "Invalid token: no trusted key for its algorithm and key id")
        failure: jwt.InvalidTokenError | None = None
        for trusted in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    trusted.key,
                    algorithms=[algorithm],
                    audience=self.audience,
                    issuer=self.issuers,
                    leeway=LEEWAY_SECONDS,
                    options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                )
            except jwt.InvalidSignatureError as exc:
                failure = exc
                continue
            except jwt.ExpiredSignatureError:
                raise AuthError(401, "Token has expired") from None
            except jwt.InvalidTokenError as exc:
                raise AuthError(401, f"Invalid token: {exc}") from None
            return self._principal(claims, trusted)
        raise AuthError(401, f"Invalid token: {failure}")

    def _principal(self, claims: dict[str, Any], trusted: TrustedKey) -> Principal:
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise AuthError(401, "Invalid token: 'iat' must be a number")
        if exp - iat > self.max_lifetime:
            raise AuthError(
                401,
                f"Invalid token: lifetime {int(exp - iat)} s exceeds the maximum "
                f"{self.max_lifetime} s (exp - iat)",
            )
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise AuthError(401, "Invalid token: 'scope' must be a space-separated string")
        return Principal(
            sub=str(claims["sub"]),
            scopes=frozenset(scope.split()) & trusted.scopes,
            exp=float(exp),
            trusted_for=trusted.scopes,
        )


def mint_token(
    key: Any,
    scopes: list[str],
    ttl_seconds: int = 900,
    sub: str = "churn-api-cli",
    issuer: str = "churn-operator",
    audience: str = "churn-api",
) -> str:
    """A signed token: ES256 with an EC private key (with its `kid`), HS256 with a secret."""
    import jwt

    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {unknown}; choose from {list(SCOPES)}")
    now = int(time.time())
    claims = {
        "sub": sub,
        "scope": " ".join(scopes),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if isinstance(key, str):
        return jwt.encode(claims, key, algorithm="HS256")
    kid = public_key_id(key.public_key())
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})
