"""churn_api.mlflow_rest and mlflow_artifacts against a scripted HTTP server in a thread: the
error paths a real MLflow rarely shows (5xx, 429, hostile listings, huge files, redirects)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from churn_api.bundle import ModelRejectedError
from churn_api.mlflow_artifacts import UnsafeArtifactError, download_version
from churn_api.mlflow_rest import MlflowApiError, MlflowRest, RegistryUnavailableError
from churn_api.registry import AliasTarget, Registry
from churn_api.settings import Settings

pytestmark = pytest.mark.integration
API = "/api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts/artifacts"
PASSWORD = "s3cr3t-pa55word"
TOKEN = "tok-0123456789abcdef"
Answer = tuple[int, Any] | Callable[[], tuple[int, Any]]


class Scripted(ThreadingHTTPServer):
    """Answers GETs from `routes` (path -> (status, JSON or bytes)); records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Answer] = {}
        self.seen: list[tuple[str, dict[str, list[str]], str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, path: str) -> int:
        return sum(1 for seen, _, _ in self.seen if seen == path)


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.seen.append(
            (parts.path, parse_qs(parts.query), self.headers.get("Authorization"))
        )
        answer = self.server.routes.get(parts.path, (404, {"error_code": "ENDPOINT_NOT_FOUND"}))
        status, body = answer() if callable(answer) else answer
        if status in (301, 302):
            self.send_response(status)
            self.send_header("Location", body)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Scripted]:
    srv = Scripted()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _rest(url: str, retries: int = 1, timeout: float = 2, **env: str) -> MlflowRest:
    return MlflowRest(url, timeout=timeout, max_retries=retries, environ=env)


def _version(number: str = "3", **more: Any) -> dict[str, Any]:
    return {"model_version": {"name": "m", "version": number, "run_id": "r1", **more}}


def _tree(
    server: Scripted, files: dict[str, bytes], root: str = "1/models/m-abc/artifacts"
) -> None:
    """Serve `files` (relative paths) as a version stored at mlflow-artifacts:/<root>."""
    server.routes[f"{API}/model-versions/get-download-uri"] = (
        200,
        {"artifact_uri": f"mlflow-artifacts:/{root}"},
    )
    listings: dict[str, list[dict[str, Any]]] = {}
    for rel, data in files.items():
        parts = rel.split("/")
        for depth in range(len(parts)):
            folder = "/".join([root, *parts[:depth]])
            entry = {"path": parts[depth], "is_dir": depth < len(parts) - 1}
            if depth == len(parts) - 1:
                entry["file_size"] = len(data)
            if entry not in listings.setdefault(folder, []):
                listings[folder].append(entry)
        server.routes[f"{ART}/{root}/{rel}"] = (200, data)

    def listing() -> tuple[int, Any]:
        path = server.seen[-1][1]["path"][0]
        return 200, {"files": listings.get(path, [])}

    server.routes[ART] = listing


def test_alias_resolves_and_a_missing_alias_is_none(server: Scripted) -> None:
    tags = [{"key": "champion_since", "value": "2026-10-02"}]
    server.routes[f"{API}/registered-models/alias"] = (
        200,
        _version("7", tags=tags, creation_timestamp=1790000000000),
    )
    got = _rest(server.url).version_by_alias("telco-churn", "champion")
    assert got is not None
    assert (got.version, got.run_id, got.tags, got.creation_timestamp) == (
        "7",
        "r1",
        {"champion_since": "2026-10-02"},
        1790000000000,
    )
    assert server.seen[-1][1] == {"name": ["telco-churn"], "alias": ["champion"]}
    missing = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "alias not found"}
    server.routes[f"{API}/registered-models/alias"] = (404, missing)
    assert _rest(server.url).version_by_alias("telco-churn", "champion") is None


def test_4xx_is_not_retried_and_5xx_429_are(server: Scripted) -> None:
    path = f"{API}/registered-models/alias"
    server.routes[path] = (403, {"error_code": "PERMISSION_DENIED", "message": "no READ"})
    with pytest.raises(MlflowApiError, match=r"403 PERMISSION_DENIED.*no READ"):
        _rest(server.url, retries=3).version_by_alias("m", "champion")
    assert server.count(path) == 1

    answers = iter([(503, b"busy"), (429, b"slow down"), (200, _version("4"))])
    server.routes[path] = lambda: next(answers)
    started = time.monotonic()
    got = _rest(server.url, retries=2).version_by_alias("m", "champion")
    assert got is not None and got.version == "4"
    assert server.count(path) == 4 and time.monotonic() - started < 3  # short backoff

    server.routes[path] = (500, b"<html>boom</html>")
    with pytest.raises(RegistryUnavailableError, match="HTTP 500") as caught:
        _rest(server.url, retries=1).version_by_alias("m", "champion")
    assert not isinstance(caught.value, MlflowApiError)
    assert server.count(path) == 6

    # A call may ask for fewer tries than the client's default (a start with a cached copy).
    with pytest.raises(RegistryUnavailableError, match="HTTP 500"):
        _rest(server.url, retries=3).version_by_alias("m", "champion", retries=0)
    assert server.count(path) == 7


def test_an_unreachable_server_fails_fast_without_its_address(server: Scripted) -> None:
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(RegistryUnavailableError) as caught:
        _rest(f"http://127.0.0.1:{port}", retries=1).version_by_alias("m", "champion")
    assert "refused" in str(caught.value).lower() and "after 2 attempts" in str(caught.value)
    assert str(port) not in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_a_hanging_server_is_a_timeout(server: Scripted) -> None:
    def slow() -> tuple[int, Any]:
        time.sleep(2)
        return 200, _version()

    server.routes[f"{API}/registered-models/alias"] = slow
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError, match=r"no answer within 0\.5 s"):
        _rest(server.url, retries=0, timeout=0.5).version_by_alias("m", "champion")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("env", "in_uri", "expected"),
    [
        ({"MLFLOW_TRACKING_USERNAME": "api", "MLFLOW_TRACKING_PASSWORD": PASSWORD}, "", "basic"),
        ({"MLFLOW_TRACKING_TOKEN": TOKEN}, "", f"Bearer {TOKEN}"),
        ({}, f"api:{PASSWORD}@", "basic"),
        ({}, "", None),
    ],
)
def test_credentials_are_sent_and_never_shown(
    server: Scripted, env: dict[str, str], in_uri: str, expected: str | None
) -> None:
    echo = {"error_code": "PERMISSION_DENIED", "message": f"bad login api:{PASSWORD} {TOKEN}"}
    server.routes[f"{API}/registered-models/alias"] = (403, echo)
    rest = _rest(server.url.replace("//", f"//{in_uri}"), **env)
    with pytest.raises(MlflowApiError) as caught:
        rest.version_by_alias("m", "champion")
    if expected == "basic":
        expected = "Basic " + base64.b64encode(f"api:{PASSWORD}".encode()).decode()
    assert server.seen[-1][2] == expected
    # The server echoed the credentials back: whatever was configured is masked.
    configured = [s for s in (PASSWORD, TOKEN) if s in json.dumps(env) + in_uri]
    for shown in (str(caught.value), repr(rest), rest.base):
        assert not any(secret in shown for secret in configured)


def test_a_redirect_is_refused_and_gets_no_credentials(server: Scripted) -> None:
    server.routes[f"{API}/registered-models/alias"] = (302, f"{server.url}/elsewhere")
    rest = _rest(server.url, MLFLOW_TRACKING_TOKEN=TOKEN)
    with pytest.raises(RegistryUnavailableError, match="redirect"):
        rest.version_by_alias("m", "champion")
    assert server.count("/elsewhere") == 0


def test_a_version_tree_is_downloaded(server: Scripted, tmp_path: Path) -> None:
    files = {"MLmodel": b"flavors: {}", "bundle/model.ubj": bytes(range(256)) * 4000}
    files["bundle/sub/golden_examples.json"] = b"{}"
    _tree(server, files)
    dest = tmp_path / "dest"
    dest.mkdir()
    total = download_version(_rest(server.url), "m", "3", dest)
    assert total == sum(len(v) for v in files.values())
    got = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert got == files


@pytest.mark.parametrize("uri", ["runs:/r1/model", "models:/m-abc"])
def test_run_and_logged_model_locations_are_followed(
    server: Scripted, tmp_path: Path, uri: str
) -> None:
    _tree(server, {"MLmodel": b"x"}, root="1/r1/artifacts/model")
    server.routes[f"{API}/model-versions/get-download-uri"] = (200, {"artifact_uri": uri})
    server.routes[f"{API}/runs/get"] = (
        200,
        {"run": {"info": {"artifact_uri": "mlflow-artifacts:/1/r1/artifacts"}}},
    )
    server.routes[f"{API}/logged-models/m-abc"] = (
        200,
        {"model": {"info": {"artifact_uri": "mlflow-artifacts:/1/r1/artifacts/model"}}},
    )
    assert download_version(_rest(server.url), "m", "3", tmp_path) == 1
    assert (tmp_path / "MLmodel").read_bytes() == b"x"


@pytest.mark.parametrize(
    "uri", ["s3://bucket/models/3", "file:///srv/mlruns/1/x", "/srv/mlruns/1/x", "gs://b/x"]
)
def test_a_location_not_served_over_http_is_a_clear_error(
    server: Scripted, tmp_path: Path, uri: str
) -> None:
    server.routes[f"{API}/model-versions/get-download-uri"] = (200, {"artifact_uri": uri})
    with pytest.raises(RegistryUnavailableError, match="--serve-artifacts") as caught:
        download_version(_rest(server.url), "m", "3", tmp_path)
    assert "bucket" not in str(caught.value) and "srv" not in str(caught.value)


@pytest.mark.parametrize("name", ["../evil", "..", "/etc/evil", "a/../../evil", "a\\b", ""])
def test_a_listed_path_that_could_escape_is_refused(
    server: Scripted, tmp_path: Path, name: str
) -> None:
    _tree(server, {"MLmodel": b"x"})
    server.routes[ART] = (200, {"files": [{"path": name, "is_dir": False, "file_size": 1}]})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArtifactError, match="refused artifact name"):
        download_version(_rest(server.url), "m", "3", dest)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dest"]


def test_the_size_cap_holds_whatever_the_listing_says(server: Scripted, tmp_path: Path) -> None:
    _tree(server, {"a.bin": b"x" * 600, "b.bin": b"y" * 600})
    (tmp_path / "declared").mkdir()
    with pytest.raises(UnsafeArtifactError, match="exceed MLFLOW_MAX_DOWNLOAD_BYTES"):
        download_version(_rest(server.url), "m", "3", tmp_path / "declared", max_bytes=1000)
    assert server.count(f"{ART}/1/models/m-abc/artifacts/b.bin") == 0  # refused before fetching
    # A listing that understates the size: the bytes streamed are counted.
    server.routes[ART] = (200, {"files": [{"path": "a.bin", "is_dir": False, "file_size": 1}]})
    server.routes[f"{ART}/1/models/m-abc/artifacts/a.bin"] = (200, b"z" * 5000)
    (tmp_path / "lied").mkdir()
    with pytest.raises(UnsafeArtifactError, match="exceed"):
        download_version(_rest(server.url), "m", "3", tmp_path / "lied", max_bytes=1000)


def _registry(url: str, tmp_path: Path) -> Registry:
    return Registry(
        Settings(mlflow_tracking_uri=url, model_cache_dir=tmp_path, churn_dev_mode=True)
    )


def test_registry_download_refuses_unsafe_and_leaves_no_partial_copy(
    server: Scripted, tmp_path: Path
) -> None:
    _tree(server, {"MLmodel": b"x"})
    server.routes[ART] = (200, {"files": [{"path": "../x", "is_dir": False}]})
    registry = _registry(server.url, tmp_path)
    with pytest.raises(ModelRejectedError, match=r"version 3.*refused artifact name"):
        registry.download(AliasTarget("3", None))
    server.routes[f"{API}/model-versions/get-download-uri"] = (503, b"down")
    with pytest.raises(RegistryUnavailableError, match="download of version 3 failed"):
        registry.download(AliasTarget("3", None))
    assert list(registry.cache_root.iterdir()) == []
    assert registry.cached("3") is None


def test_registry_refuses_a_version_that_is_not_a_number(server: Scripted, tmp_path: Path) -> None:
    server.routes[f"{API}/registered-models/alias"] = (200, _version("../../etc"))
    with pytest.raises(RegistryUnavailableError, match="invalid version"):
        _registry(server.url, tmp_path).resolve("champion")
