"""`churn-score run` into a SQLite store with the tiny model: exit codes, counts, idempotent
re-runs, history across model versions, the input formats."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, func, select

from churn_api.scoring.cli import main
from churn_api.store.schema import customers, scores, scoring_runs

TYPES = {
    "customerID": pa.string(),
    "gender": pa.string(),
    "SeniorCitizen": pa.int64(),
    "tenure": pa.int64(),
    "Contract": pa.string(),
    "MonthlyCharges": pa.float64(),
    "TotalCharges": pa.float64(),
}


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, trusted_pem: str) -> None:
    """The tiny bundle's key, and nothing else from the shell."""
    for name in ("MODEL_PUBLIC_KEYS_FILE", "MODEL_URI", "DATABASE_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_PUBLIC_KEYS", trusted_pem)
    monkeypatch.setenv("ALLOW_UNSIGNED_MODELS", "false")


def table_of(records: list[dict[str, Any]]) -> pa.Table:
    return pa.table({n: pa.array([r.get(n) for r in records], type=t) for n, t in TYPES.items()})


def score(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code = main(["run", "--no-progress", "--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err


def counts(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        result = tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (customers, scores, scoring_runs)
        )
    engine.dispose()
    return result  # type: ignore[return-value]


@pytest.fixture
def snapshot(tmp_path: Path, tiny_records: list[dict[str, Any]]) -> Path:
    path = tmp_path / "base.parquet"
    pq.write_table(table_of(tiny_records), path, row_group_size=97)
    return path


@pytest.mark.usefixtures("keys")
def test_a_run_scores_every_customer_and_a_rerun_changes_nothing(
    tmp_path: Path, snapshot: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    common = ["--customers", str(snapshot), "--model-uri", str(tiny_model_dir)]
    code, summary, _ = score(
        *common, "--database-url", url, "--partition-rows", "150", capsys=capsys
    )
    assert code == 0
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_rejected"]) == (400, 400, 0)
    assert summary["status"] == "succeeded" and summary["engine"] == "local"
    assert counts(url) == (400, 400, 1)
    engine = create_engine(url)
    with engine.connect() as conn:
        first = dict(conn.execute(select(scores.c.customer_id, scores.c.churn_probability)).all())
        run = conn.execute(select(scoring_runs)).mappings().one()
    assert run["status"] == "succeeded" and run["rows_scored"] == 400
    assert run["profit_curve"]["by_expected_value"]["best_k"] >= 0
    assert run["snapshot_sha256"] == summary["snapshot_sha256"]

    code, again, _ = score(*common, "--database-url", url, capsys=capsys)
    assert code == 0 and again["rows_scored"] == 400
    assert counts(url) == (400, 400, 2)  # same snapshot, same model: updated in place
    with engine.connect() as conn:
        second = dict(conn.execute(select(scores.c.customer_id, scores.c.churn_probability)).all())
    engine.dispose()
    assert second == first


@pytest.mark.usefixtures("keys")
def test_a_new_model_version_adds_history(
    tmp_path: Path,
    snapshot: Path,
    tiny_model_dir: Path,
    bundle_tools: dict[str, Callable[..., Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    newer = bundle_tools["write_bundle"](
        tmp_path / "model-2", bundle_tools["train_booster"](seed=5)
    )
    for model in (tiny_model_dir, newer):
        code, summary, _ = score(
            "--customers",
            str(snapshot),
            "--model-uri",
            str(model),
            "--database-url",
            url,
            capsys=capsys,
        )
        assert code == 0
    assert counts(url) == (400, 800, 2)
    engine = create_engine(url)
    with engine.connect() as conn:
        versions = set(conn.execute(select(customers.c.model_version)).scalars())
    engine.dispose()
    assert versions == {summary["model"]["version"]}


@pytest.mark.usefixtures("keys")
def test_unknown_columns_refuse_the_run_unless_dropped(
    tmp_path: Path,
    tiny_records: list[dict[str, Any]],
    tiny_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = table_of(tiny_records).append_column("Churn", pa.array(["No"] * 400))
    table = table.append_column("Secret", pa.array(["x"] * 400))
    path = tmp_path / "base.csv"
    pacsv.write_csv(table, path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    args = ["--customers", str(path), "--model-uri", str(tiny_model_dir), "--database-url", url]
    code, _, err = score(*args, capsys=capsys)
    assert code == 2
    assert "unknown columns ['Churn', 'Secret']" in err and "--drop-columns" in err
    assert not (tmp_path / "store.db").exists()  # refused before anything was written
    code, summary, _ = score(*args, "--drop-columns", "Churn,Secret", capsys=capsys)
    assert code == 0 and summary["rows_scored"] == 400


@pytest.mark.usefixtures("keys")
def test_bad_rows_are_counted_and_shown_and_the_run_succeeds(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "base.csv"
    path.write_text(
        "customerID,gender,tenure,Contract\n"
        "A,Female,3,One year\n"
        "B,Robot,3,One year\n"
        "A,Male,4,Two year\n"
        ",Male,4,Two year\n"
    )
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code = main(
        [
            "run",
            "--no-progress",
            "--customers",
            str(path),
            "--model-uri",
            str(tiny_model_dir),
            "--database-url",
            url,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "rows read 4, scored 1, rejected 3" in out
    assert "rejected row 2 (B): gender: Input should be 'Female' or 'Male'" in out
    assert "rejected row 3 (A): customerID: duplicate customerID 'A': first seen at row 1" in out
    assert "rejected row 4 (None): customerID: Field required" in out
    assert "Robot" not in out and "Two year" not in out  # never a customer's attributes
    engine = create_engine(url)
    with engine.connect() as conn:
        run = conn.execute(select(scoring_runs)).mappings().one()
    engine.dispose()
    assert run["rows_rejected"] == 3 and [r["row"] for r in run["rejected_sample"]] == [2, 3, 4]


@pytest.mark.usefixtures("keys")
def test_a_parquet_folder_and_a_csv_give_the_same_scores(
    tmp_path: Path,
    tiny_records: list[dict[str, Any]],
    tiny_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = table_of(tiny_records)
    folder = tmp_path / "folder"
    folder.mkdir()
    for k in range(4):
        pq.write_table(table.slice(k * 100, 100), folder / f"part-{k}.parquet")
    csv = tmp_path / "base.csv"
    pacsv.write_csv(table, csv)
    found = []
    for source in (folder, csv):
        url = f"sqlite:///{tmp_path / (source.name + '.db')}"
        code, summary, _ = score(
            "--customers",
            str(source),
            "--model-uri",
            str(tiny_model_dir),
            "--database-url",
            url,
            capsys=capsys,
        )
        assert code == 0 and summary["rows_scored"] == 400
        engine = create_engine(url)
        with engine.connect() as conn:
            found.append(
                dict(conn.execute(select(scores.c.customer_id, scores.c.churn_probability)).all())
            )
        engine.dispose()
    assert found[0].keys() == found[1].keys()
    assert all(abs(found[0][k] - found[1][k]) <= 1e-12 for k in found[0])


@pytest.mark.usefixtures("keys")
def test_a_snapshot_without_ids_or_with_two_dates_is_refused(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    no_ids = tmp_path / "no-ids.csv"
    no_ids.write_text("gender,tenure\nMale,3\n")
    code, _, err = score(
        "--customers",
        str(no_ids),
        "--model-uri",
        str(tiny_model_dir),
        "--database-url",
        url,
        capsys=capsys,
    )
    assert code == 2 and "no customerID column" in err
    dates = tmp_path / "dates.csv"
    dates.write_text("customerID,snapshot_date\nA,2026-11-01\nB,2026-11-08\n")
    code, _, err = score(
        "--customers",
        str(dates),
        "--model-uri",
        str(tiny_model_dir),
        "--database-url",
        url,
        capsys=capsys,
    )
    assert code == 2 and "2 different dates" in err
    one = tmp_path / "one.csv"
    one.write_text("customerID,snapshot_date\nA,2026-11-01\nB,2026-11-01\n")
    code, summary, _ = score(
        "--customers",
        str(one),
        "--model-uri",
        str(tiny_model_dir),
        "--database-url",
        url,
        capsys=capsys,
    )
    assert code == 0 and summary["snapshot_date"] == "2026-11-01"
    code, _, err = score(
        "--customers",
        str(one),
        "--model-uri",
        str(tiny_model_dir),
        "--database-url",
        url,
        "--snapshot-date",
        "2026-11-02",
        capsys=capsys,
    )
    assert code == 2 and "disagrees" in err


def test_a_model_that_fails_verification_fails_the_run(
    monkeypatch: pytest.MonkeyPatch,
    snapshot: Path,
    tmp_path: Path,
    tiny_model_dir: Path,
    bundle_tools: dict[str, Callable[..., Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    other = bundle_tools["public_pem"](ec.generate_private_key(ec.SECP256R1()))
    monkeypatch.delenv("MODEL_PUBLIC_KEYS_FILE", raising=False)
    monkeypatch.setenv("MODEL_PUBLIC_KEYS", other)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code, _, err = score(
        "--customers",
        str(snapshot),
        "--model-uri",
        str(tiny_model_dir),
        "--database-url",
        url,
        capsys=capsys,
    )
    assert code == 1 and "no model to score with" in err
    assert not (tmp_path / "store.db").exists()


@pytest.mark.usefixtures("keys")
def test_bad_arguments_exit_2(snapshot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--partition-rows", "0"], ["--snapshot-date", "yesterday"], ["--reasons", "x"]):
        with pytest.raises(SystemExit) as exc:
            main(["run", "--customers", str(snapshot), *args])
        assert exc.value.code == 2
    code, _, err = score("--customers", "ftp://host/x.csv", capsys=capsys)
    assert code == 2 and "unsupported scheme" in err


@pytest.mark.usefixtures("keys")
def test_an_unreachable_store_fails_the_run_without_its_password(
    snapshot: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://scorer:hunter2@127.0.0.1:1/churn"
    code, _, err = score(
        "--customers",
        str(snapshot),
        "--model-uri",
        str(tiny_model_dir),
        "--database-url",
        url,
        capsys=capsys,
    )
    assert code == 1 and "customer store unavailable" in err
    assert "hunter2" not in err


def test_migrate_creates_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["migrate", "--database-url", url]) == 0
    assert counts(url) == (0, 0, 0)


@pytest.mark.usefixtures("keys")
def test_a_store_failing_mid_run_fails_the_run_and_marks_it_failed(
    tmp_path: Path,
    snapshot: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from churn_api.scoring import runner
    from churn_api.store.engine import StoreUnavailableError

    real = runner.write_partition
    calls = []

    def flaky(engine: Any, run: Any, rows: Any) -> None:
        calls.append(len(rows))
        if len(calls) == 2:
            raise StoreUnavailableError("customer store unavailable: connection lost")
        real(engine, run, rows)

    monkeypatch.setattr(runner, "write_partition", flaky)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code = main(
        [
            "run",
            "--no-progress",
            "--json",
            "--customers",
            str(snapshot),
            "--model-uri",
            str(tiny_model_dir),
            "--database-url",
            url,
            "--partition-rows",
            "100",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert "run failed" in err and "connection lost" in err
    assert json.loads(out)["status"] == "failed"
    engine = create_engine(url)
    with engine.connect() as conn:
        run = conn.execute(select(scoring_runs)).mappings().one()
    engine.dispose()
    assert run["status"] == "failed" and "connection lost" in run["detail"]
    assert run["rows_scored"] == 100  # the partition written before the failure


def test_progress_is_plain_lines_when_not_on_a_terminal() -> None:
    import io

    from churn_api.scoring.report import Progress

    stream = io.StringIO()
    progress = Progress(stream)
    progress(50_000, 100_000)
    progress(60_000, 100_000)  # within 10 s of the last line: not repeated
    progress(100_000, 100_000)  # the end is always shown
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[###############---------------] 50,000 / 100,000 rows")
    assert lines[1].startswith("[" + "#" * 30 + "] 100,000 / 100,000 rows")
    assert "\r" not in stream.getvalue()
