"""churn_api.mlflow_rest without a socket: which tracking URIs it accepts, the credentials it
would send (MLflow's own precedence), and that none of them shows in its text."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from churn_api.mlflow_rest import MlflowRest, ModelVersion, RegistryUnavailableError
from churn_api.registry import Registry
from churn_api.settings import Settings


@pytest.mark.parametrize(
    "uri", ["sqlite:///mlflow.db", "file:///srv/mlruns", "./mlruns", "databricks", "http://"]
)
def test_only_an_http_server_is_a_registry(uri: str) -> None:
    with pytest.raises(RegistryUnavailableError, match="http\\(s\\) address of an MLflow server"):
        MlflowRest(uri, environ={})


def test_the_base_keeps_host_port_and_prefix_but_no_credentials() -> None:
    rest = MlflowRest("https://api:hunter2@mlflow.example:8443/mlflow/", environ={})
    assert rest.base == "https://mlflow.example:8443/mlflow"
    assert "hunter2" not in repr(rest) and "auth=yes" in repr(rest)


def _header(uri: str, **env: str) -> str:
    return MlflowRest(uri, environ=env)._auth


def test_credentials_follow_mlflows_precedence() -> None:
    basic = "Basic " + base64.b64encode(b"api:pw").decode()
    both = {"MLFLOW_TRACKING_USERNAME": "api", "MLFLOW_TRACKING_PASSWORD": "pw"}
    assert _header("http://h:5000", **both, MLFLOW_TRACKING_TOKEN="t") == basic
    assert _header("http://h:5000", MLFLOW_TRACKING_TOKEN="t") == "Bearer t"
    assert _header("http://x:y@h:5000", **both) == basic  # the variables win over the URI
    assert _header("http://api:pw@h:5000") == basic
    assert _header("http://h:5000", MLFLOW_TRACKING_USERNAME="api") == ""  # no password: none
    assert _header("http://h:5000") == ""


def test_a_version_from_json_tolerates_strings_and_missing_fields() -> None:
    got = ModelVersion.from_json(
        {"version": 3, "run_id": "", "creation_timestamp": "1790000000000", "tags": [{"key": "a"}]}
    )
    assert got == ModelVersion("3", None, {"a": ""}, 1790000000000)


def test_no_tracking_uri_is_a_clear_registry_error(tmp_path: Path) -> None:
    settings = Settings(mlflow_tracking_uri=None, model_cache_dir=tmp_path, churn_dev_mode=True)
    registry = Registry(settings)
    with pytest.raises(RegistryUnavailableError, match="MLFLOW_TRACKING_URI is not set"):
        registry.resolve("champion")
