"""JWT bearer authentication (HS256) with the scopes `predict` and `admin`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

SCOPES = ("predict", "admin")
_CACHE_SIZE = 4096


class AuthError(Exception):
    """A 401 (no/bad token) or 403 (missing scope)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who is calling, with which scopes."""

    sub: str
    scopes: frozenset[str]
    exp: float


ANONYMOUS = Principal(sub="anonymous", scopes=frozenset(SCOPES), exp=float("inf"))


class Authenticator:
    """Verifies bearer tokens; with no secret every call is allowed (local development only)."""

    def __init__(self, secret: str | None, algorithm: str = "HS256") -> None:
        self.secret = secret or None
        self.algorithm = algorithm
        # A verified signature stays verified: cache it, but check expiry on every call.
        self._verified: dict[str, Principal] = {}

    @property
    def enabled(self) -> bool:
        """Whether a secret is configured."""
        return self.secret is not None

    def authorize(self, authorization: str | None, scope: str) -> Principal:
        """The caller of a request needing `scope`, or AuthError."""
        if self.secret is None:
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
        if principal.exp <= time.time():
            self._verified.pop(token, None)
            raise AuthError(401, "Token has expired")
        if scope not in principal.scopes:
            raise AuthError(403, f"Token lacks the '{scope}' scope")
        return principal

    def _decode(self, token: str) -> Principal:
        assert self.secret is not None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[self.algorithm],
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "Token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(401, f"Invalid token: {exc}") from None
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise AuthError(401, "Invalid token: 'scope' must be a space-separated string")
        return Principal(
            sub=str(claims["sub"]), scopes=frozenset(scope.split()), exp=float(claims["exp"])
        )


def mint_token(
    secret: str,
    scopes: list[str],
    ttl_seconds: int = 3600,
    sub: str = "churn-api-cli",
    algorithm: str = "HS256",
) -> str:
    """A signed token carrying `sub`, `scope` and `exp`."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {unknown}; choose from {list(SCOPES)}")
    now = int(time.time())
    claims = {"sub": sub, "scope": " ".join(scopes), "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=algorithm)
