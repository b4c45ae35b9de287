"""Service configuration from the environment (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from churn_api.security import (
    SUPPORTED_ALGORITHMS,
    Authenticator,
    TrustedKey,
    load_public_keys,
    secret_problem,
    trusted_keys,
)
from churn_api.store.urls import database_backend

DEFAULT_MAX_BATCH_ROWS = 10_000


class Settings(BaseSettings):
    """Every knob of the inference service; each maps to an upper-case environment variable."""

    # hide_input_in_errors: a refused secret must never be printed in the error.
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", protected_namespaces=(), hide_input_in_errors=True
    )

    host: str = "0.0.0.0"
    port: int = Field(8000, ge=0, le=65535)
    # Above the AWS ALB idle timeout (60 s) so the balancer never reuses a socket we closed.
    timeout_keep_alive: int = Field(65, ge=1)
    timeout_graceful_shutdown: int = Field(20, ge=1)
    log_level: str = "INFO"

    mlflow_tracking_uri: str | None = None
    model_name: str = "telco-churn"
    model_alias: str = "champion"
    model_uri: str | None = Field(
        None,
        description="A local MLflow model directory (or bundle folder) instead of the registry",
    )
    model_cache_dir: Path = Path.home() / ".cache" / "churn-api" / "models"
    model_refresh_seconds: float = Field(
        60.0, ge=0, description="0 disables the background refresh"
    )
    model_retry_seconds: float = Field(
        5.0, gt=0, description="retry interval while no model is loaded"
    )
    mlflow_http_timeout: int = Field(10, ge=1)
    mlflow_http_max_retries: int = Field(1, ge=0)
    mlflow_max_download_bytes: int = Field(
        512 * 1024 * 1024, ge=1, description="most bytes one model version may download"
    )

    # Authentication (docs/api.md "Authentication"): required unless CHURN_DEV_MODE is on.
    churn_dev_mode: bool = Field(
        False, description="development only: no token keys = auth off; weak secrets accepted"
    )
    jwt_admin_public_keys: str | None = Field(
        None, description="operators' PEM public keys (ES256): trusted for every scope"
    )
    jwt_admin_public_keys_file: Path | None = None
    jwt_predict_public_keys: str | None = Field(
        None, description="PEM public keys (ES256) trusted for 'predict' only"
    )
    jwt_predict_public_keys_file: Path | None = None
    jwt_predict_secret: SecretStr | None = Field(
        None, description="HS256 secret shared with the UI: 'predict' and 'customers'"
    )
    jwt_algorithms: str = Field("ES256,HS256", description="accepted token algorithms")
    jwt_issuers: str = Field("churn-ui,churn-operator", description="accepted 'iss' values")
    jwt_audience: str = Field("churn-api", min_length=1, description="the required 'aud'")
    jwt_max_lifetime_seconds: int = Field(
        3600, ge=60, le=86_400, description="longest accepted exp - iat"
    )
    # Removed settings, read only to refuse them: an old configuration fails loudly.
    jwt_secret: SecretStr | None = Field(None, exclude=True)
    jwt_algorithm: str | None = Field(None, exclude=True)

    @field_validator(
        "jwt_secret",
        "jwt_algorithm",
        "jwt_predict_secret",
        "jwt_admin_public_keys",
        "jwt_admin_public_keys_file",
        "jwt_predict_public_keys",
        "jwt_predict_public_keys_file",
        "mlflow_tracking_uri",
        "model_uri",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (JWT_PREDICT_SECRET=) means unset, never an empty signing key."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _auth_is_trustworthy(self) -> Settings:
        check_auth(self)
        return self

    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_batch_rows: int = Field(DEFAULT_MAX_BATCH_ROWS, ge=1)
    batch_threads: int = Field(0, ge=0, description="xgboost threads for batches; 0 = all cores")

    # Bounded cost of any body (docs/api.md "Limits"): a customer has 21 keys at most.
    max_problems: int = Field(20, ge=1, description="problems listed per customer; rest counted")
    max_keys_per_object: int = Field(64, ge=24, description="keys in one JSON object")
    max_json_depth: int = Field(32, ge=4, description="nesting levels of a body")
    inline_body_bytes: int = Field(
        8 * 1024, ge=1024, description="larger /predict bodies are validated off the event loop"
    )
    max_concurrent_batches: int = Field(
        0, ge=0, description="batches (and large bodies) in flight; 0 = from cores and memory"
    )
    batch_memory_mb: int = Field(
        64, ge=1, description="per heavy request, for the default (10k explained rows: ~40 MB)"
    )

    # Provenance (docs/model-bundle.md "Signature").
    model_public_keys: str | None = Field(None, description="PEM public key(s), concatenated")
    model_public_keys_file: Path | None = None
    allow_unsigned_models: bool = Field(
        False, description="development only: load bundles whose signature cannot be checked"
    )
    model_fallback_alias: str = Field(
        "previous-champion", description="served (degraded) when the champion cannot be"
    )

    # The customer store (docs/api.md "Customers"): None = no store, the routes answer 503.
    database_url: SecretStr | None = Field(
        None, description="postgresql+psycopg://... or sqlite:///...; unset = no customer store"
    )
    database_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="bound on connecting to the store and on each statement"
    )
    database_migrate: bool = Field(
        False, description="create/upgrade the store's schema on first use (else 503 without it)"
    )
    max_page_size: int = Field(500, ge=1, le=10_000, description="largest call list page")

    # Live drift (docs/monitoring.md): the recent scored rows against the training reference.
    drift_window_rows: int = Field(
        5000, ge=0, le=1_000_000, description="scored rows kept for live drift; 0 = off"
    )
    drift_interval_seconds: float = Field(
        60.0, gt=0, description="how often the live drift gauges are computed"
    )

    @field_validator("model_public_keys", "model_public_keys_file", "database_url", mode="before")
    @classmethod
    def _empty_key_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr | None) -> SecretStr | None:
        """postgresql or sqlite only; the message never shows the URL (it holds a password)."""
        if value is not None:
            backend = database_backend(value.get_secret_value())
            if backend is None:
                raise ValueError("DATABASE_URL is not a database URL")
            if backend not in ("postgresql", "sqlite"):
                raise ValueError(
                    f"DATABASE_URL: unsupported database {backend!r} "
                    "(postgresql+psycopg://... or sqlite:///...)"
                )
        return value


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _pem(text: str | None, file: Path | None, name: str) -> bytes:
    """The PEM text of a KEYS / KEYS_FILE pair (both may be set: the keys are joined)."""
    pem = (text or "").encode()
    if file is not None:
        try:
            pem += b"\n" + file.read_bytes()
        except OSError as exc:
            raise ValueError(f"{name}_FILE: cannot read {file}: {exc.strerror}") from None
    return pem


def check_auth(settings: Settings) -> None:
    """Refuse, when settings load, any authentication setup the API must not trust."""
    if settings.jwt_secret is not None or settings.jwt_algorithm is not None:
        raise ValueError(
            "JWT_SECRET and JWT_ALGORITHM are no longer read: set JWT_PREDICT_SECRET (the "
            "UI's predict-only secret, 32+ bytes) and JWT_ADMIN_PUBLIC_KEYS[_FILE] (operators' "
            "ES256 public keys; mint with `churn-api token --key`), see docs/api.md"
        )
    algorithms = _csv(settings.jwt_algorithms)
    bad = sorted(set(algorithms) - set(SUPPORTED_ALGORITHMS))
    if bad or not algorithms:
        raise ValueError(
            f"JWT_ALGORITHMS: {bad or 'empty'} not allowed; "
            f"choose from {list(SUPPORTED_ALGORITHMS)} ('none' and other algorithms never)"
        )
    if not _csv(settings.jwt_issuers):
        raise ValueError("JWT_ISSUERS: at least one issuer is required")
    for name, text, file in (
        (
            "JWT_ADMIN_PUBLIC_KEYS",
            settings.jwt_admin_public_keys,
            settings.jwt_admin_public_keys_file,
        ),
        (
            "JWT_PREDICT_PUBLIC_KEYS",
            settings.jwt_predict_public_keys,
            settings.jwt_predict_public_keys_file,
        ),
    ):
        keys = load_public_keys(_pem(text, file, name), name)
        if keys and "ES256" not in algorithms:
            raise ValueError(f"{name} holds ES256 keys but JWT_ALGORITHMS excludes ES256")
    secret = settings.jwt_predict_secret
    if secret is not None:
        if "HS256" not in algorithms:
            raise ValueError("JWT_PREDICT_SECRET is set but JWT_ALGORITHMS excludes HS256")
        problem = secret_problem(secret.get_secret_value())
        if problem and not settings.churn_dev_mode:
            raise ValueError(
                f"JWT_PREDICT_SECRET {problem}: generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'` "
                "(or CHURN_DEV_MODE=true for local development)"
            )
    if not token_keys(settings) and not settings.churn_dev_mode:
        raise ValueError(
            "authentication is required: set JWT_ADMIN_PUBLIC_KEYS[_FILE] and/or "
            "JWT_PREDICT_SECRET (or JWT_PREDICT_PUBLIC_KEYS[_FILE]); CHURN_DEV_MODE=true runs "
            "the API open, for local development only"
        )


def token_keys(settings: Settings) -> list[TrustedKey]:
    """The token verification keys the settings name."""
    return trusted_keys(
        load_public_keys(
            _pem(
                settings.jwt_admin_public_keys,
                settings.jwt_admin_public_keys_file,
                "JWT_ADMIN_PUBLIC_KEYS",
            ),
            "JWT_ADMIN_PUBLIC_KEYS",
        ),
        load_public_keys(
            _pem(
                settings.jwt_predict_public_keys,
                settings.jwt_predict_public_keys_file,
                "JWT_PREDICT_PUBLIC_KEYS",
            ),
            "JWT_PREDICT_PUBLIC_KEYS",
        ),
        settings.jwt_predict_secret.get_secret_value() if settings.jwt_predict_secret else None,
    )


def authenticator(settings: Settings) -> Authenticator:
    """The request authenticator the settings describe."""
    return Authenticator(
        token_keys(settings),
        audience=settings.jwt_audience,
        issuers=_csv(settings.jwt_issuers),
        max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
        algorithms=_csv(settings.jwt_algorithms),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
