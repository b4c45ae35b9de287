"""The bearer token the UI sends: a fixed one, or one it mints from the shared JWT secret."""

from __future__ import annotations

import threading
import time

import jwt


class TokenSource:
    """The bearer token: a fixed one, or one minted from the shared secret and renewed early."""

    def __init__(
        self,
        token: str | None = None,
        secret: str | None = None,
        ttl_seconds: int = 300,
        subject: str = "churn-ui",
    ) -> None:
        self._fixed = token
        self._secret = secret
        self._ttl = ttl_seconds
        self._subject = subject
        self._minted: tuple[str, float] | None = None
        self._lock = threading.Lock()

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
                claims = {"sub": self._subject, "scope": "predict", "iat": int(now), "exp": exp}
                self._minted = (jwt.encode(claims, self._secret, algorithm="HS256"), exp)
            return self._minted[0]
