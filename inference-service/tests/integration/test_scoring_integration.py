"""churn-score with the trained champion: the same probability as /predict for every IBM
customer, Dask equal to in-process, the registry's champion, PostgreSQL end to end, HTTP input,
a synthetic base that validates."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import testkit
from sqlalchemy import create_engine, func, select

from churn_api.scoring.cli import main
from churn_api.scoring.synth import synthesize
from churn_api.store.schema import customers, scores, scoring_runs

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session's signing key (root conftest) verifies the champion; nothing else leaks in."""
    for name in ("MODEL_URI", "DATABASE_URL", "MLFLOW_TRACKING_URI", "MODEL_PUBLIC_KEYS"):
        monkeypatch.delenv(name, raising=False)


def run_json(*args: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["run", "--no-progress", "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def on_local_dask(dataset_csv: Path, model_dir: Path, url: str) -> list[str]:
    """`churn-score run` arguments: the IBM base, reasons for all, on a 2-worker LocalCluster."""
    return [
        "--customers",
        str(dataset_csv),
        "--model-uri",
        str(model_dir),
        "--database-url",
        url,
        "--drop-columns",
        "Churn",
        "--reasons",
        "all",
        "--partition-rows",
        "1000",
        "--scheduler",
        "local:2",
    ]


def stored(url: str) -> dict[str, dict[str, Any]]:
    """customer id -> its latest score and attributes."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(customers)).mappings().all()
    engine.dispose()
    return {r["customer_id"]: dict(r) for r in rows}


@pytest.fixture(scope="module")
def ibm_scored(
    tmp_path_factory: pytest.TempPathFactory, dataset_csv: Path, trained_model_dir: Path
) -> tuple[str, dict[str, Any]]:
    """The IBM base scored in process into SQLite, reasons for everyone."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ibm') / 'store.db'}"
    args = [
        "run",
        "--no-progress",
        "--json",
        "--customers",
        str(dataset_csv),
        "--model-uri",
        str(trained_model_dir),
        "--database-url",
        url,
        "--drop-columns",
        "Churn",
        "--reasons",
        "all",
        "--partition-rows",
        "1500",
    ]
    result = subprocess.run(
        [str(testkit.BIN / "churn-score"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return url, json.loads(result.stdout)


def test_every_ibm_customer_gets_the_probability_predict_gives(
    ibm_scored: tuple[str, dict[str, Any]], dataset_csv: Path, api_server: str
) -> None:
    url, summary = ibm_scored
    records = testkit.dataset_records(dataset_csv)
    assert summary["rows_read"] == summary["rows_scored"] == len(records) == 7043
    assert summary["rows_rejected"] == 0
    rows = stored(url)
    assert len(rows) == len(records)
    worst = 0.0
    with requests.Session() as session:
        for k, record in enumerate(records):
            answer = session.post(f"{api_server}/predict?explain=true", json=record, timeout=10)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            row = rows[record["customerID"]]
            worst = max(worst, abs(row["churn_probability"] - body["churn_probability"]))
            assert row["risk_band"] == body["risk_band"]
            assert row["churn"] == body["churn"]
            if k % 50 == 0:
                assert row["reasons"] == body["reasons"]
                # The stored attributes score the same: what the what-if route starts from.
                again = session.post(f"{api_server}/predict", json=row["attributes"], timeout=10)
                assert again.json()["churn_probability"] == body["churn_probability"]
    assert worst <= 1e-6


def test_dask_with_two_workers_gives_the_in_process_scores(
    ibm_scored: tuple[str, dict[str, Any]],
    dataset_csv: Path,
    trained_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    local_url, _ = ibm_scored
    url = f"sqlite:///{tmp_path / 'dask.db'}"
    summary = run_json(
        *on_local_dask(dataset_csv, trained_model_dir, url),
        capsys=capsys,
    )
    assert summary["engine"] == "dask" and summary["rows_scored"] == 7043
    local, dask = stored(local_url), stored(url)
    assert local.keys() == dask.keys()
    for cid, row in local.items():
        assert abs(dask[cid]["churn_probability"] - row["churn_probability"]) <= 1e-9
        assert dask[cid]["reasons"] == row["reasons"]
        assert dask[cid]["attributes"] == row["attributes"]
        assert dask[cid]["expected_value"] == pytest.approx(row["expected_value"], abs=1e-6)


def test_the_champion_comes_from_the_registry_by_default(
    mlflow_server: str,
    dataset_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    summary = run_json(
        "--customers",
        str(dataset_csv),
        "--drop-columns",
        "Churn",
        "--database-url",
        f"sqlite:///{tmp_path / 's.db'}",
        capsys=capsys,
    )
    assert summary["model"]["name"] == "telco-churn"
    assert summary["model"]["version"].isdigit()  # a registry version, not local-...
    assert summary["rows_scored"] == 7043


def test_postgres_end_to_end_is_idempotent(
    postgres_url: str, dataset_csv: Path, trained_model_dir: Path
) -> None:
    url = testkit.fresh_database(postgres_url)
    command = [
        str(testkit.BIN / "churn-score"),
        "run",
        "--no-progress",
        "--json",
        "--customers",
        str(dataset_csv),
        "--model-uri",
        str(trained_model_dir),
        "--drop-columns",
        "Churn",
    ]
    env = {"DATABASE_URL": url}
    for _ in range(2):
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            env={**_environ(), **env},
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["rows_scored"] == 7043
    engine = create_engine(url)
    with engine.connect() as conn:
        found = [
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (customers, scores, scoring_runs)
        ]
        statuses = set(conn.execute(select(scoring_runs.c.status)).scalars())
    engine.dispose()
    assert found == [7043, 7043, 2] and statuses == {"succeeded"}


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("MODEL_URI", "MLFLOW_TRACKING_URI")}


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local http.server serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", testkit.free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_an_http_snapshot_is_downloaded_hashed_and_capped(
    http_folder: tuple[str, Path],
    dataset_csv: Path,
    trained_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, root = http_folder
    synthesize(3000, str(root / "base.parquet"), str(dataset_csv), seed=9)
    url = f"sqlite:///{tmp_path / 's.db'}"
    summary = run_json(
        "--customers",
        f"{base}/base.parquet",
        "--model-uri",
        str(trained_model_dir),
        "--database-url",
        url,
        capsys=capsys,
    )
    assert summary["rows_scored"] == 3000
    assert summary["snapshot"] == f"{base}/base.parquet"
    assert (
        summary["snapshot_sha256"]
        == hashlib.sha256((root / "base.parquet").read_bytes()).hexdigest()
    )
    assert main(["run", "--customers", f"{base}/missing.parquet", "--database-url", url]) == 2
    assert "HTTP 404" in capsys.readouterr().err
    monkeypatch.setenv("MAX_DOWNLOAD_BYTES", "1000")
    assert (
        main(
            [
                "run",
                "--customers",
                f"{base}/base.parquet",
                "--model-uri",
                str(trained_model_dir),
                "--database-url",
                url,
            ]
        )
        == 2
    )
    assert "cap" in capsys.readouterr().err


def test_a_synthetic_base_validates_with_the_champion(
    dataset_csv: Path,
    trained_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "synth"
    assert (
        main(
            [
                "synth",
                "--rows",
                "20000",
                "--out",
                str(folder),
                "--source",
                str(dataset_csv),
                "--seed",
                "4",
            ]
        )
        == 0
    )
    capsys.readouterr()
    url = f"sqlite:///{tmp_path / 's.db'}"
    summary = run_json(
        "--customers",
        str(folder),
        "--model-uri",
        str(trained_model_dir),
        "--database-url",
        url,
        "--reasons",
        "none",
        capsys=capsys,
    )
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_rejected"]) == (
        20000,
        20000,
        0,
    )
    assert len(stored(url)) == 20000


def test_dask_workers_can_write_to_postgres_themselves(
    ibm_scored: tuple[str, dict[str, Any]],
    postgres_url: str,
    dataset_csv: Path,
    trained_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = testkit.fresh_database(postgres_url)
    summary = run_json(
        *on_local_dask(dataset_csv, trained_model_dir, url),
        "--workers-write",
        capsys=capsys,
    )
    assert summary["workers_write"] is True and summary["rows_scored"] == 7043
    assert summary["stage_seconds"]["write"] > 0
    local, written = stored(ibm_scored[0]), stored(url)
    assert local.keys() == written.keys()
    for cid, row in local.items():
        assert abs(written[cid]["churn_probability"] - row["churn_probability"]) <= 1e-9
        assert written[cid]["reasons"] == row["reasons"]


def test_workers_write_needs_a_cluster_and_postgres(
    dataset_csv: Path,
    trained_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    code = main(
        [
            "run",
            "--customers",
            str(dataset_csv),
            "--model-uri",
            str(trained_model_dir),
            "--database-url",
            url,
            "--drop-columns",
            "Churn",
            "--scheduler",
            "local:2",
            "--workers-write",
        ]
    )
    assert code == 2 and "PostgreSQL" in capsys.readouterr().err
