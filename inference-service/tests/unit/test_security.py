"""churn_api.security: HS256 tokens, scopes, expiry."""

from __future__ import annotations

import time

import jwt
import pytest

from churn_api.security import Authenticator, AuthError, mint_token


def test_tokens_scopes_and_expiry() -> None:
    auth = Authenticator("s3cret-s3cret-s3cret-s3cret-s3cret")
    token = mint_token("s3cret-s3cret-s3cret-s3cret-s3cret", ["predict"], 60, "alice")
    assert auth.authorize(f"Bearer {token}", "predict").sub == "alice"
    with pytest.raises(AuthError) as caught:
        auth.authorize(f"Bearer {token}", "admin")
    assert caught.value.status == 403
    expired = jwt.encode(
        {"sub": "a", "scope": "predict", "exp": int(time.time()) - 5},
        "s3cret-s3cret-s3cret-s3cret-s3cret",
    )
    forged = mint_token("another-secret-another-secret-xx", ["predict", "admin"], 60)
    for header in (
        None,
        "Basic abc",
        "Bearer",
        f"Bearer {expired}",
        f"Bearer {forged}",
        "Bearer not.a.jwt",
    ):
        with pytest.raises(AuthError) as caught:
            auth.authorize(header, "predict")
        assert caught.value.status == 401, header
    assert Authenticator(None).authorize(None, "admin").sub == "anonymous"
    with pytest.raises(ValueError, match="unknown scope"):
        mint_token("x" * 32, ["root"])


def test_cached_token_still_expires() -> None:
    secret = "s3cret-s3cret-s3cret-s3cret-s3cret"
    auth = Authenticator(secret)
    token = jwt.encode({"sub": "a", "scope": "predict", "exp": time.time() + 1.0}, secret)
    auth.authorize(f"Bearer {token}", "predict")
    time.sleep(1.1)
    with pytest.raises(AuthError, match="expired"):
        auth.authorize(f"Bearer {token}", "predict")
