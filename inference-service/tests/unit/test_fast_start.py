"""The fast start: what the API imports before /health/ready answers 200, and what it defers
until the model is served (warmup.py). Each case starts the app in a fresh interpreter where
pandas, scikit-learn, mlflow and alembic cannot be imported, as in the API image."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from churn_api.registry import AliasTarget, Registry
from churn_api.settings import Settings
from churn_api.store.urls import database_backend

SECRET = "fast-start-secret-fast-start-secret-0123"
# Not installed in the API image; a ready path that needed one would fail there.
ABSENT = ("pandas", "sklearn", "mlflow", "alembic")
# Installed, but only requests need them: imported after ready, never before.
DEFERRED = ("jwt", "sqlalchemy")
NEVER = ("scipy.stats", "scipy.optimize", "scipy.linalg")

# Runs in the child: start the app (lifespan), poll /health/ready until 200; list the modules
# when the warm-up begins (the model is served, nothing deferred is imported yet), then once
# the warm-up is done.
CHILD = r"""
import faulthandler, importlib.abc, json, sys, time

faulthandler.dump_traceback_later(100, exit=True)  # a hang shows where, in the test's stderr

ABSENT = set(sys.argv[1].split(","))
tried = []

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
import churn_api.cli  # the console entry's imports
from churn_api.main import create_app
from churn_api.settings import get_settings

import churn_api.warmup as warmup

at_ready = []
import_all = warmup.import_all

def snapshot_then_import(names):
    at_ready.append(sorted(sys.modules))
    import_all(names)

warmup.import_all = snapshot_then_import
app = create_app(get_settings())
from starlette.testclient import TestClient  # after the app: its imports are not the API's

with TestClient(app) as client:
    deadline = time.monotonic() + 60
    while True:
        r = client.get("/health/ready")
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    body = r.json()
    expected = [m for m in sys.argv[2].split(",") if m]
    while time.monotonic() < deadline and not all(m in sys.modules for m in expected):
        time.sleep(0.02)
    warm = sorted(set(sys.modules))
ready = at_ready[0] if at_ready else []
report = {"status": r.status_code, "body": body, "ready": ready, "warm": warm, "tried": tried}
print(json.dumps(report))
"""


def _start(env: dict[str, str], expect_warm: tuple[str, ...]) -> dict[str, Any]:
    """The child's report; env holds the API's settings."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(ABSENT), ",".join(expect_warm)],
        env={**base, "JWT_PREDICT_SECRET": SECRET, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in modules]


def _cached_registry(tmp_path: Path, model_dir: Path) -> dict[str, str]:
    """A model cache holding version 1 as the last verified champion, MLflow unreachable."""
    env = {
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # discard: nothing answers
        "MLFLOW_HTTP_MAX_RETRIES": "0",
        "MLFLOW_HTTP_TIMEOUT": "1",
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
    }
    settings = Settings(
        mlflow_tracking_uri=env["MLFLOW_TRACKING_URI"],
        model_cache_dir=Path(env["MODEL_CACHE_DIR"]),
        jwt_predict_secret=SECRET,
    )
    registry = Registry(settings)
    version = registry.cache_root / "1"
    shutil.copytree(model_dir, version)
    (version / ".complete").write_text("{}")
    registry.write_pointer(settings.model_alias, AliasTarget("1", None))
    return env


@pytest.mark.parametrize("source", ["model_uri", "registry_cache"])
def test_ready_without_the_deferred_modules(
    source: str, tiny_model_dir: Path, trusted_pem: str, tmp_path: Path
) -> None:
    env = {"MODEL_PUBLIC_KEYS": trusted_pem}
    if source == "model_uri":
        env["MODEL_URI"] = str(tiny_model_dir)
    else:
        env |= _cached_registry(tmp_path, tiny_model_dir)
    report = _start(env, expect_warm=("jwt",))
    assert report["status"] == 200, report["body"]
    assert report["body"]["ready"] is True
    if source == "registry_cache":
        assert report["body"]["model_version"] == "1"  # the cached champion, verified
    assert "churn_api.scorer" in report["ready"]  # taken once the model was served
    assert _loaded(report["ready"], DEFERRED + NEVER) == []
    # Nothing on the way to ready even tried them (xgboost alone probes pandas and sklearn).
    assert [m for m in report["tried"] if m.split(".")[0] in ("mlflow", "alembic")] == []
    # Once ready, the token checks' library is imported ahead of the first request; no store
    # is configured, so SQLAlchemy stays out.
    assert _loaded(report["warm"], DEFERRED) == ["jwt"]


def test_store_modules_come_after_ready(
    tiny_model_dir: Path, trusted_pem: str, tmp_path: Path
) -> None:
    report = _start(
        {
            "MODEL_URI": str(tiny_model_dir),
            "MODEL_PUBLIC_KEYS": trusted_pem,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        },
        expect_warm=("jwt", "sqlalchemy", "churn_api.store.reads"),
    )
    assert report["status"] == 200, report["body"]
    # The probe itself reads the store's state, so it may have started loading SQLAlchemy;
    # the model never waited for it, and the rest of the store code comes with the warm-up.
    assert _loaded(report["warm"], ("churn_api.store.reads", "churn_api.store.monitoring_reads"))
    assert _loaded(report["warm"], DEFERRED) == list(DEFERRED)
    assert [m for m in report["tried"] if m.split(".")[0] in ("mlflow", "alembic")] == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@h:5432/db",
        "postgresql+psycopg://churn_reader:p%40ss@postgres:5432/churn_store",
        "postgresql://u:p@[::1]:5432/db?sslmode=require",
        "postgresql://u:p@h:x/db",
        "postgresql://u:p@h:/db",
        "postgresql://h: 5/d",
        "postgresql://h:1_2/d",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:////tmp/a.db",
        "mysql://x",
        "x+y+z://",
        "garbage",
        "://x",
        "post gres://x",
        " postgresql://h/d",
    ],
)
def test_database_backend_reads_urls_like_sqlalchemy(url: str) -> None:
    try:
        expected: str | None = make_url(url).get_backend_name()
    except Exception:  # whatever make_url refuses, settings refuse
        expected = None
    assert database_backend(url) == expected


def test_store_package_names_load_on_first_use() -> None:
    import churn_api.store as store
    from churn_api.store import engine, errors

    assert store.StoreError is errors.StoreError is engine.StoreError
    assert store.make_engine is engine.make_engine
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = store.nothing
