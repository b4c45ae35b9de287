"""UI configuration from the environment (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_BYTES = 32


class UISettings(BaseSettings):
    """Every knob of the UI; each maps to an upper-case environment variable."""

    # hide_input_in_errors: a refused secret must never be printed in the error.
    model_config = SettingsConfigDict(env_file=None, extra="ignore", hide_input_in_errors=True)

    api_base_url: str = Field(
        "http://localhost:8000", description="Where the inference API listens"
    )
    api_token: SecretStr | None = Field(
        None,
        description="A ready-made bearer token with scopes 'predict customers' (takes precedence)",
    )
    api_predict_secret: SecretStr | None = Field(
        None,
        description="The API's JWT_PREDICT_SECRET: the UI mints short-lived 'predict customers' "
        "tokens (never 'admin': the API does not trust this secret for it)",
    )
    # At most the API's JWT_MAX_LIFETIME_SECONDS (3600 by default).
    api_token_ttl_seconds: int = Field(300, ge=30, le=3600)
    api_token_subject: str = "churn-ui"
    api_token_issuer: str = Field("churn-ui", min_length=1, description="one of JWT_ISSUERS")
    api_token_audience: str = Field("churn-api", min_length=1, description="the JWT_AUDIENCE")
    churn_dev_mode: bool = Field(False, description="development only: accept a weak secret")
    # Removed: read only to refuse it, so an old configuration fails loudly.
    api_jwt_secret: SecretStr | None = Field(None, exclude=True)

    request_timeout: float = Field(15.0, gt=0, description="Seconds to wait for an API answer")
    connect_timeout: float = Field(3.0, gt=0, description="Seconds to wait for a connection")
    status_timeout: float = Field(3.0, gt=0, description="Timeout of the status-line check")
    connect_retries: int = Field(2, ge=0, le=10, description="Retries on connection errors only")
    # At most the API's MAX_BATCH_ROWS (10,000); a smaller API limit is found by halving.
    batch_chunk_rows: int = Field(500, ge=1, le=10_000, description="Rows per /predict/batch call")
    # Sized for the 512 MiB UI task. Measured (AppTest, fake API, Telco-shaped rows): the app
    # starts at ~200 MB; reading, scoring and showing a 50,000-row file (7 MB) peaks at
    # 400-430 MB (25,000 rows: 330 MB). Before chunked records and compact results, scoring alone
    # took ~690 MB at 50,000 rows. 10 MB is ~70,000 Telco rows: for usual files the row cap binds.
    max_upload_mb: int = Field(
        10, ge=1, le=200, description="Largest batch CSV, in MB (Streamlit's server.maxUploadSize)"
    )
    max_upload_rows: int = Field(
        50_000, ge=1, le=1_000_000, description="Most customer rows in one batch CSV"
    )

    host: str = "0.0.0.0"
    port: int = Field(8501, ge=1, le=65535)

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("API_BASE_URL must start with http:// or https://")
        return value

    @field_validator("api_token", "api_predict_secret", "api_jwt_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # Compose files often pass `API_TOKEN=` for "unset".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _trustworthy_secret(self) -> UISettings:
        if self.api_jwt_secret is not None:
            raise ValueError(
                "API_JWT_SECRET is no longer read: set API_PREDICT_SECRET to the API's "
                "JWT_PREDICT_SECRET (predict-only), or API_TOKEN"
            )
        if self.api_predict_secret is not None and not self.churn_dev_mode:
            secret = self.api_predict_secret.get_secret_value()
            if len(secret.encode()) < MIN_SECRET_BYTES or len(set(secret)) < 8:
                raise ValueError(
                    f"API_PREDICT_SECRET must be {MIN_SECRET_BYTES}+ bytes of random text "
                    "(CHURN_DEV_MODE=true accepts it for local development)"
                )
        return self


def get_settings() -> UISettings:
    """Settings read from the environment now (cheap; tests change the environment)."""
    return UISettings()
