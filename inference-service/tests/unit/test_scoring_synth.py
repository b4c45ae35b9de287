"""`churn-score synth`: N rows with fresh unique ids, drawn from the IBM rows, consistent charges,
in each output format, in bounded chunks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from churn_api.scoring.cli import main
from churn_api.scoring.synth import load_source, synthesize


def test_synth_writes_n_rows_with_unique_fresh_ids(dataset_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "base.parquet"
    assert synthesize(2500, str(out), str(dataset_csv), seed=3, chunk_rows=1000) == 2500
    table = pq.read_table(out)
    source = load_source(dataset_csv)
    assert table.num_rows == 2500
    assert table.column_names == source.column_names  # no Churn label
    ids = table.column("customerID").to_pylist()
    assert len(set(ids)) == 2500 and ids[0] == "SYN-000000000" and ids[-1] == "SYN-000002499"
    assert not set(ids) & set(source.column("customerID").to_pylist())
    tenure = table.column("tenure").to_numpy()
    monthly = table.column("MonthlyCharges").to_numpy()
    total = table.column("TotalCharges")
    assert tenure.min() >= 0 and tenure.max() <= 72
    assert monthly.min() >= 18.25 and monthly.max() <= 118.75
    # A customer of tenure 0 has no total yet (as in the IBM data); others have one.
    assert (np.asarray(total.is_null()) == (tenure == 0)).all()
    # Whole rows are drawn: every combination of services exists in the source.
    services = ["InternetService", "OnlineSecurity", "StreamingTV", "Contract", "PaymentMethod"]
    seen = {tuple(r.values()) for r in source.select(services).to_pylist()}
    assert all(tuple(r.values()) in seen for r in table.select(services).to_pylist())


def test_synth_is_reproducible_by_seed(dataset_csv: Path, tmp_path: Path) -> None:
    a, b, c = (tmp_path / f"{n}.parquet" for n in "abc")
    synthesize(300, str(a), str(dataset_csv), seed=1)
    synthesize(300, str(b), str(dataset_csv), seed=1)
    synthesize(300, str(c), str(dataset_csv), seed=2)
    assert pq.read_table(a).equals(pq.read_table(b))
    assert not pq.read_table(a).equals(pq.read_table(c))


def test_synth_writes_csv_and_partitioned_folders(dataset_csv: Path, tmp_path: Path) -> None:
    csv = tmp_path / "base.csv"
    synthesize(1200, str(csv), str(dataset_csv), chunk_rows=500)
    table = pacsv.read_csv(
        csv, convert_options=pacsv.ConvertOptions(column_types={"TotalCharges": pa.string()})
    )
    assert table.num_rows == 1200
    assert pc.count(pc.unique(table.column("customerID"))).as_py() == 1200
    folder = tmp_path / "parts"
    synthesize(1200, str(folder), str(dataset_csv), chunk_rows=500)
    assert sorted(p.name for p in folder.iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert pq.read_table(folder).num_rows == 1200


def test_synth_names_make_data_when_the_source_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "synth",
            "--rows",
            "10",
            "--out",
            str(tmp_path / "x.parquet"),
            "--source",
            str(tmp_path / "missing.csv"),
        ]
    )
    assert code == 2
    assert "make data" in capsys.readouterr().err


def test_synth_cli_prints_what_it_wrote(
    dataset_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.parquet"
    assert main(["synth", "--rows", "50", "--out", str(out), "--source", str(dataset_csv)]) == 0
    assert json.loads(capsys.readouterr().out) == {"rows": 50, "out": str(out)}
