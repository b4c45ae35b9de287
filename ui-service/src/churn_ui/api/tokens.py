"""The bearer token the UI sends: a fixed one, or a short-lived `predict customers` token it
mints.

The UI holds only the API's UI secret (API_PREDICT_SECRET = the API's JWT_PREDICT_SECRET): the
API trusts it for `predict` and `customers` (the customer pages) and never grants `admin` to a
token it verifies, so a compromised console cannot reach /admin (docs/api.md "Authentication").
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import jwt

if TYPE_CHECKING:
    from churn_ui.settings import UISettings

# Scoring customers, and reading the customer store (its pages and the what-if).
SCOPE = "predict customers"


class TokenSource:
    """The bearer token: a fixed one, or one minted from the predict secret and renewed early."""

    def __init__(
        self,
        token: str | None = None,
        secret: str | None = None,
        ttl_seconds: int = 300,
        subject: str = "churn-ui",
        issuer: str = "churn-ui",
        audience: str = "churn-api",
    ) -> None:
        self._fixed = token
        self._secret = secret
        self._ttl = ttl_seconds
        self._claims = {"sub": subject, "scope": SCOPE, "iss": issuer, "aud": audience}
        self._minted: tuple[str, float] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: UISettings) -> TokenSource:
        """The token source the UI settings describe."""
        return cls(
            settings.api_token.get_secret_value() if settings.api_token else None,
            settings.api_predict_secret.get_secret_value() if settings.api_predict_secret else None,
            settings.api_token_ttl_seconds,
            settings.api_token_subject,
            settings.api_token_issuer,
            settings.api_token_audience,
        )

    @property
    def enabled(self) -> bool:
        """Whether requests carry a token at all."""
        return bool(self._fixed or self._secret)

    def header(self) -> dict[str, str]:
        """The Authorization header, or nothing when no token is configured."""
        token = self.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def token(self) -> str | None:
        """The current token (minting a fresh one when the last is near expiry)."""
        if self._fixed:
            return self._fixed
        if not self._secret:
            return None
        with self._lock:
            now = time.time()
            # Renew with a third of the lifetime left so a slow request never carries a dead one.
            if self._minted is None or self._minted[1] - now < self._ttl / 3:
                exp = int(now) + self._ttl
                claims = {**self._claims, "iat": int(now), "exp": exp}
                self._minted = (jwt.encode(claims, self._secret, algorithm="HS256"), exp)
            return self._minted[0]
