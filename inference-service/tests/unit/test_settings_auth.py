"""The API refuses, when its settings load, an authentication setup it must not trust."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError
from testkit import API_AUTH_VARIABLES

from churn_api.cli import run, write_key_pair
from churn_api.settings import Settings, authenticator

GOOD_SECRET = "a-generated-looking-secret-0123456789abcdef"


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


ADMIN_PEM = _pem(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(autouse=True)
def _no_auth_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in API_AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _refused(**values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)  # type: ignore[arg-type]
    return str(caught.value)


def test_without_keys_the_api_refuses_to_start_unless_dev_mode() -> None:
    message = _refused()
    assert "authentication is required" in message
    for name in ("JWT_ADMIN_PUBLIC_KEYS", "JWT_PREDICT_SECRET", "CHURN_DEV_MODE=true"):
        assert name in message
    assert not authenticator(Settings(churn_dev_mode=True)).enabled
    # Blank variables (compose's `X=`) are unset, never an empty key.
    assert "authentication is required" in _refused(
        jwt_predict_secret=" ", jwt_admin_public_keys=""
    )


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("x", "shorter than 32 bytes"),
        ("0123456789abcdef0123456789abcde", "shorter than 32 bytes"),
        ("insecure-local-development-secret-change-me", "publicly known example value"),
        ("a" * 64, "fewer than 8 distinct characters"),
    ],
)
def test_weak_secrets_are_refused_at_start(secret: str, problem: str) -> None:
    message = _refused(jwt_predict_secret=secret)
    assert "Value error, JWT_PREDICT_SECRET " in message and problem in message
    assert "CHURN_DEV_MODE" in message
    # Development mode accepts it (main.py logs a warning) and still checks tokens with it.
    assert authenticator(Settings(jwt_predict_secret=secret, churn_dev_mode=True)).enabled


def test_good_keys_start(tmp_path: Path) -> None:
    _, public = write_key_pair(tmp_path / "keys")
    settings = Settings(jwt_predict_secret=GOOD_SECRET, jwt_admin_public_keys_file=public)
    auth = authenticator(settings)
    assert [(k.algorithm, sorted(k.scopes)) for k in auth.keys] == [
        ("ES256", ["admin", "customers", "predict"]),
        ("HS256", ["customers", "predict"]),  # the UI's secret: never admin
    ]
    assert authenticator(Settings(jwt_admin_public_keys=ADMIN_PEM)).enabled


@pytest.mark.parametrize("algorithms", ["none", "HS256,none", "RS256", "HS512", " , "])
def test_the_algorithm_allow_list_is_checked_when_settings_load(algorithms: str) -> None:
    message = _refused(jwt_predict_secret=GOOD_SECRET, jwt_algorithms=algorithms)
    assert "JWT_ALGORITHMS" in message and "not allowed" in message


def test_keys_must_match_the_allowed_algorithms() -> None:
    assert "excludes HS256" in _refused(jwt_predict_secret=GOOD_SECRET, jwt_algorithms="ES256")
    assert "excludes ES256" in _refused(jwt_admin_public_keys=ADMIN_PEM, jwt_algorithms="HS256")


def test_lifetime_limits() -> None:
    assert Settings(churn_dev_mode=True).jwt_max_lifetime_seconds == 3600
    assert "less than or equal to 86400" in _refused(
        churn_dev_mode=True, jwt_max_lifetime_seconds=86_401
    )


def test_bad_public_keys_are_named(tmp_path: Path) -> None:
    rsa_pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert "JWT_ADMIN_PUBLIC_KEYS: token keys must be EC P-256" in _refused(
        jwt_admin_public_keys=rsa_pem
    )
    assert "JWT_PREDICT_PUBLIC_KEYS: no 'BEGIN PUBLIC KEY' block" in _refused(
        jwt_predict_public_keys="not a key"
    )
    missing = tmp_path / "absent.pem"
    assert "JWT_ADMIN_PUBLIC_KEYS_FILE: cannot read" in _refused(jwt_admin_public_keys_file=missing)


def test_the_old_shared_secret_is_refused_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", GOOD_SECRET)
    message = _refused(jwt_admin_public_keys=ADMIN_PEM)
    assert "JWT_SECRET and JWT_ALGORITHM are no longer read" in message
    assert "JWT_PREDICT_SECRET" in message and "JWT_ADMIN_PUBLIC_KEYS" in message
    monkeypatch.setenv("JWT_SECRET", "")
    monkeypatch.setenv("JWT_ALGORITHM", "HS256")
    assert "no longer read" in _refused(jwt_admin_public_keys=ADMIN_PEM)


def test_serve_exits_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    from churn_api.settings import get_settings

    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        run([])
    get_settings.cache_clear()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "refusing to start" in err and "authentication is required" in err


def test_refusal_never_echoes_the_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from churn_api.settings import get_settings

    monkeypatch.setenv("JWT_PREDICT_SECRET", "short-but-secret")
    get_settings.cache_clear()
    with pytest.raises(SystemExit):
        run([])
    get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "JWT_PREDICT_SECRET is shorter than 32 bytes" in err
    assert "short-but-secret" not in err


def test_cli_mints_admin_only_with_a_private_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = write_key_pair(tmp_path, "operator")
    assert private.stat().st_mode & 0o777 == 0o600
    run(["token", "--scope", "admin", "--key", str(private), "--ttl", "900"])
    admin = capsys.readouterr().out.strip()
    auth = authenticator(Settings(jwt_admin_public_keys_file=public))
    assert auth.authorize(f"Bearer {admin}", "admin").sub == "churn-api-cli"

    monkeypatch.setenv("JWT_PREDICT_SECRET", GOOD_SECRET)
    with pytest.raises(SystemExit):
        run(["token", "--scope", "admin"])
    assert "'admin' needs --key" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(["token", "--scope", "admin", "--key", str(private), "--ttl", "90000"])
    assert "--ttl must be" in capsys.readouterr().err
    run(["token", "--scope", "predict", "--issuer", "churn-ui"])
    predict = capsys.readouterr().out.strip()
    both = authenticator(
        Settings(jwt_admin_public_keys_file=public, jwt_predict_secret=GOOD_SECRET)
    )
    assert both.authorize(f"Bearer {predict}", "predict").scopes == {"predict"}
