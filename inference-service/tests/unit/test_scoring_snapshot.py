"""churn-score's snapshot reading: where a snapshot lives, its formats, partitions and columns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from churn_api.scoring.snapshot import (
    Snapshot,
    SnapshotError,
    filesystem_for,
    parse_location,
    rebatch,
)

TABLE = pa.table(
    {
        "customerID": [f"C{k:03d}" for k in range(25)],
        "tenure": list(range(25)),
        "Contract": ["Month-to-month"] * 25,
    }
)


def test_local_paths_and_file_uris_are_local(tmp_path: Path) -> None:
    assert parse_location(str(tmp_path)).kind == "local"
    location = parse_location(f"file://{tmp_path}/x.parquet")
    assert (location.kind, location.path) == ("local", f"{tmp_path}/x.parquet")
    assert location.display == location.path  # recorded absolute, whatever the cwd was


def test_s3_uris_choose_the_s3_filesystem_without_a_network_call() -> None:
    location = parse_location("s3://bucket/snapshots/2026-11-30/customers.parquet")
    assert location.kind == "s3"
    assert location.path == "bucket/snapshots/2026-11-30/customers.parquet"
    assert isinstance(filesystem_for(location), pafs.S3FileSystem)
    with pytest.raises(SnapshotError, match="s3://BUCKET/KEY"):
        parse_location("s3://bucket-only")


def test_shown_uris_carry_no_credentials() -> None:
    location = parse_location("https://user:s3cret@example.com:8443/base.csv?X-Amz-Signature=abc")
    assert location.kind == "http"
    assert location.display == "https://example.com:8443/base.csv"
    assert "s3cret" not in location.display and "abc" not in location.display
    assert "s3cret" not in parse_location("s3://AKIA:s3cret@bucket/key").display


@pytest.mark.parametrize("uri", ["ftp://host/file.csv", "gs://bucket/key", "http:///nohost"])
def test_unsupported_locations_are_refused(uri: str) -> None:
    with pytest.raises(SnapshotError):
        parse_location(uri)


def test_a_parquet_file_streams_in_partitions_of_the_asked_size(tmp_path: Path) -> None:
    path = tmp_path / "base.parquet"
    pq.write_table(TABLE, path, row_group_size=7)
    with Snapshot(str(path)) as snapshot:
        assert snapshot.format == "parquet"
        assert snapshot.rows == 25
        assert snapshot.columns == ["customerID", "tenure", "Contract"]
        assert snapshot.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        sizes = [b.num_rows for b in snapshot.batches(10, ["customerID", "tenure"])]
        batches = list(snapshot.batches(10, ["customerID"]))
    assert sizes == [10, 10, 5]
    assert pa.Table.from_batches(batches).column("customerID").to_pylist() == [
        f"C{k:03d}" for k in range(25)
    ]


def test_a_parquet_folder_reads_its_files_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "base"
    folder.mkdir()
    pq.write_table(TABLE.slice(10), folder / "part-1.parquet")
    pq.write_table(TABLE.slice(0, 10), folder / "part-0.parquet")
    (folder / "_SUCCESS").write_text("")
    with Snapshot(str(folder)) as snapshot:
        assert (snapshot.format, snapshot.rows, snapshot.sha256) == ("parquet", 25, None)
        ids = [v for b in snapshot.batches(8, ["customerID"]) for v in b.column(0).to_pylist()]
    assert ids == [f"C{k:03d}" for k in range(25)]


def test_a_csv_is_read_as_text_with_blank_cells_null(tmp_path: Path) -> None:
    path = tmp_path / "base.csv"
    path.write_text("customerID,tenure,TotalCharges\nA,1, \nB,2,\nC,x,3.5\n")
    with Snapshot(str(path)) as snapshot:
        assert snapshot.format == "csv"
        assert snapshot.rows is None
        [batch] = list(snapshot.batches(100, ["customerID", "tenure", "TotalCharges"]))
    assert batch.schema.types == [pa.string()] * 3
    assert batch.column("tenure").to_pylist() == ["1", "2", "x"]
    assert batch.column("TotalCharges").to_pylist() == [" ", None, "3.5"]


def test_a_file_without_a_known_suffix_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "base.bin"
    pq.write_table(TABLE, path)
    with Snapshot(str(path)) as snapshot:
        assert snapshot.format == "parquet"


def test_a_column_missing_from_one_file_reads_as_nulls(tmp_path: Path) -> None:
    folder = tmp_path / "base"
    folder.mkdir()
    pq.write_table(TABLE.slice(0, 5), folder / "a.parquet")
    pq.write_table(TABLE.slice(5, 5).drop_columns(["Contract"]), folder / "b.parquet")
    with Snapshot(str(folder)) as snapshot:
        [batch] = list(snapshot.batches(100, ["customerID", "Contract"]))
    assert batch.column("Contract").to_pylist() == ["Month-to-month"] * 5 + [None] * 5


def test_unknown_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "base.csv"
    pacsv.write_csv(TABLE.append_column("Churn", pa.array(["No"] * 25)), path)
    with Snapshot(str(path)) as snapshot:
        known = ["customerID", "tenure", "Contract"]
        assert snapshot.unknown_columns(known, []) == ["Churn"]
        assert snapshot.unknown_columns(known, ["Churn"]) == []


def test_missing_and_unreadable_snapshots_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no such file"):
        Snapshot(str(tmp_path / "nope.parquet"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SnapshotError, match="none"):
        Snapshot(str(tmp_path / "empty"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(SnapshotError, match="not a readable parquet"):
        Snapshot(str(bad))


def test_rebatch_cuts_and_joins_batches() -> None:
    parts = [pa.record_batch({"a": list(range(k, k + n))}) for k, n in ((0, 3), (3, 9), (12, 1))]
    out = list(rebatch(iter(parts), 5))
    assert [b.num_rows for b in out] == [5, 5, 3]
    assert [v for b in out for v in b.column(0).to_pylist()] == list(range(13))


def test_a_malformed_csv_fails_without_quoting_the_row(tmp_path: Path) -> None:
    path = tmp_path / "base.csv"
    path.write_text("customerID,tenure,Contract\nA,1,One year\nSECRET-ID,2\n")
    with pytest.raises(SnapshotError) as exc, Snapshot(str(path)) as snapshot:
        list(snapshot.batches(10, ["customerID", "tenure", "Contract"]))
    assert "Expected 3 columns, got 2" in str(exc.value)
    assert "SECRET" not in str(exc.value)
