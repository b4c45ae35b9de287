"""churn_api.security: per-key trust, required claims, lifetime, algorithms, expiry, cache."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from churn_api.security import (
    Authenticator,
    AuthError,
    mint_token,
    public_key_id,
    secret_problem,
    trusted_keys,
)

UI_SECRET = "ui-secret-for-the-unit-tests-0123456789abcdef"
OPERATOR = ec.generate_private_key(ec.SECP256R1())
UI_KEY = ec.generate_private_key(ec.SECP256R1())  # a predict-only ES256 client
STRANGER = ec.generate_private_key(ec.SECP256R1())


def _auth(max_lifetime: int = 3600, algorithms: tuple[str, ...] = ("ES256", "HS256")) -> Any:
    keys = trusted_keys([OPERATOR.public_key()], [UI_KEY.public_key()], UI_SECRET)
    return Authenticator(keys, max_lifetime_seconds=max_lifetime, algorithms=algorithms)


def _claims(**change: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "t",
        "scope": "predict admin",
        "iss": "churn-operator",
        "aud": "churn-api",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(change)
    return {k: v for k, v in claims.items() if v is not None}


def _es256(key: ec.EllipticCurvePrivateKey, **change: Any) -> str:
    kid = public_key_id(key.public_key())
    return jwt.encode(_claims(**change), key, algorithm="ES256", headers={"kid": kid})


def _refused(auth: Authenticator, token: str, scope: str = "predict") -> AuthError:
    with pytest.raises(AuthError) as caught:
        auth.authorize(f"Bearer {token}", scope)
    return caught.value


def test_operator_keys_grant_admin_and_predict() -> None:
    auth = _auth()
    token = mint_token(OPERATOR, ["admin", "predict"], 300, "alice")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert auth.authorize(f"Bearer {token}", "admin").sub == "alice"
    assert auth.authorize(f"Bearer {token}", "predict").sub == "alice"


def test_the_uis_keys_can_never_grant_admin() -> None:
    """Whatever its `scope` claim, a token verified by a predict-only key is not admin."""
    auth = _auth()
    for token in (
        mint_token(UI_SECRET, ["predict", "admin"], 300, "ui", issuer="churn-ui"),
        mint_token(UI_KEY, ["predict", "admin"], 300, "ui", issuer="churn-ui"),
    ):
        assert auth.authorize(f"Bearer {token}", "predict").scopes == {"predict"}
        refused = _refused(auth, token, "admin")
        assert refused.status == 403 and "not trusted for the 'admin' scope" in refused.message
    only_predict = mint_token(OPERATOR, ["predict"], 300)
    assert _refused(auth, only_predict, "admin").message == "Token lacks the 'admin' scope"


def test_wrong_algorithms_are_refused() -> None:
    auth = _auth()
    unsigned = jwt.encode(_claims(), None, algorithm="none")
    hs512 = jwt.encode(_claims(), UI_SECRET * 2, algorithm="HS512")
    # Algorithm confusion: an HS256 token "signed" with the operator's public key as secret.
    es_as_hs = jwt.encode(_claims(), "not-the-public-key-but-still-hmac-0123456789", "HS256")
    for token, words in (
        (unsigned, "algorithm 'none' is not accepted"),
        (hs512, "algorithm 'HS512' is not accepted"),
        (es_as_hs, "Signature verification failed"),
    ):
        refused = _refused(auth, token)
        assert refused.status == 401 and words in refused.message, refused.message
    # An allow-list without HS256 refuses even a token made with the right secret.
    hs256 = mint_token(UI_SECRET, ["predict"], 300, issuer="churn-ui")
    assert "'HS256' is not accepted" in _refused(_auth(algorithms=("ES256",)), hs256).message
    with pytest.raises(ValueError, match="unsupported"):
        Authenticator([], algorithms=("none",))


@pytest.mark.parametrize("missing", ["aud", "iss", "exp", "iat", "sub"])
def test_required_claims(missing: str) -> None:
    refused = _refused(_auth(), _es256(OPERATOR, **{missing: None}))
    assert refused.status == 401 and f'"{missing}"' in refused.message, refused.message


def test_wrong_audience_or_issuer_is_refused() -> None:
    auth = _auth()
    assert "audience" in _refused(auth, _es256(OPERATOR, aud="mlflow")).message.lower()
    assert "issuer" in _refused(auth, _es256(OPERATOR, iss="somebody-else")).message.lower()


def test_too_long_a_lifetime_is_refused() -> None:
    now = int(time.time())
    century = _es256(OPERATOR, iat=now, exp=now + 100 * 365 * 86_400)
    refused = _refused(_auth(), century)
    assert refused.status == 401 and "exceeds the maximum 3600 s" in refused.message
    day = _es256(OPERATOR, iat=now, exp=now + 86_400)
    assert "exceeds the maximum 3600 s" in _refused(_auth(), day).message
    assert _auth(max_lifetime=86_400).authorize(f"Bearer {day}", "admin").sub == "t"
    # Backdating iat into the future to shrink exp - iat is refused too.
    future = _es256(OPERATOR, iat=now + 86_000, exp=now + 86_400)
    assert "not yet valid" in _refused(_auth(), future).message


def test_forged_malformed_and_expired_tokens_are_401() -> None:
    auth = _auth()
    expired = _es256(OPERATOR, iat=int(time.time()) - 400, exp=int(time.time()) - 60)
    stranger = mint_token(STRANGER, ["admin"], 300)
    wrong_secret = mint_token("another-secret-another-secret-xxyz", ["predict"], 300)
    for header in (
        None,
        "Basic abc",
        "Bearer",
        f"Bearer {expired}",
        f"Bearer {stranger}",
        f"Bearer {wrong_secret}",
        "Bearer not.a.jwt",
    ):
        with pytest.raises(AuthError) as caught:
            auth.authorize(header, "predict")
        assert caught.value.status == 401, header
    assert Authenticator([]).authorize(None, "admin").sub == "anonymous"
    with pytest.raises(ValueError, match="unknown scope"):
        mint_token(OPERATOR, ["root"])


def test_cached_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = _auth()
    token = mint_token(OPERATOR, ["predict"], 60)
    auth.authorize(f"Bearer {token}", "predict")
    assert token in auth._verified  # the hot path skips the signature from now on
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60 + 31)
    with pytest.raises(AuthError, match="expired"):
        auth.authorize(f"Bearer {token}", "predict")
    assert token not in auth._verified


def test_weak_secrets_are_named() -> None:
    assert secret_problem("x") == "is shorter than 32 bytes"
    assert secret_problem("a1" * 15) == "is shorter than 32 bytes"
    assert secret_problem("insecure-local-development-secret-change-me") == (
        "is a publicly known example value"
    )
    assert "distinct characters" in (secret_problem("x" * 40) or "")
    assert secret_problem(UI_SECRET) is None
