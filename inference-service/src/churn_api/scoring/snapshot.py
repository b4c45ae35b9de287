"""Open a customer snapshot (Parquet file or folder, or CSV; local, s3:// or http(s)://) and
stream it as partitions of rows, never the whole file in memory."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

# Columns a snapshot may carry besides the contract's fields and its id field.
KNOWN_EXTRAS = ("customer_value", "snapshot_date")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")
DEFAULT_MAX_DOWNLOAD_BYTES = 16 * 1024**3
_CHUNK = 1024 * 1024


class SnapshotError(Exception):
    """The snapshot cannot be read as asked (a bad path, URL, format or column set): exit 2."""


@dataclass(frozen=True)
class Location:
    """Where a snapshot lives: `kind` local | s3 | http, the path for its filesystem, and the
    URI as it may be shown and stored (no credentials, no query string)."""

    kind: str
    path: str
    display: str


def parse_location(uri: str) -> Location:
    """A local path, file://, s3://bucket/key or http(s)://...; SnapshotError for others."""
    parsed = urllib.parse.urlsplit(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:3] in (":\\", ":/")):
        path = parsed.path if scheme == "file" else uri
        resolved = str(Path(path).expanduser().resolve())  # what the run records: no cwd guess
        return Location("local", resolved, resolved)
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    display = f"{scheme}://{host}{port}{parsed.path}"  # user:password@ and ?query dropped
    if scheme == "s3":
        if not host or not parsed.path.strip("/"):
            raise SnapshotError(f"--customers {display}: an S3 URI is s3://BUCKET/KEY")
        return Location("s3", f"{host}{parsed.path}", display)
    if scheme in ("http", "https"):
        if not host:
            raise SnapshotError(f"--customers {display}: the URL has no host")
        return Location("http", uri, display)
    raise SnapshotError(
        f"--customers: unsupported scheme {scheme!r} (a local path, s3:// or http(s)://)"
    )


def filesystem_for(location: Location) -> pafs.FileSystem:
    """The pyarrow filesystem of a local or S3 location (S3: the AWS SDK's default credential
    chain and region, e.g. the ECS task role and AWS_DEFAULT_REGION)."""
    if location.kind == "s3":
        return pafs.S3FileSystem()
    if location.kind == "local":
        return pafs.LocalFileSystem()
    raise SnapshotError(f"{location.display}: download it first")


def download(url: str, folder: Path, max_bytes: int, timeout_s: float = 60.0) -> tuple[Path, str]:
    """Stream an http(s) snapshot into `folder` (at most max_bytes); returns (file, sha256)."""
    display = parse_location(url).display
    name = Path(urllib.parse.urlsplit(url).path).name or "snapshot"
    target = folder / name
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SnapshotError(f"{display}: {declared} bytes is over the {max_bytes} cap")
            size = 0
            with target.open("wb") as out:
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise SnapshotError(f"{display}: larger than the {max_bytes} byte cap")
                    digest.update(chunk)
                    out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise SnapshotError(f"{display}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SnapshotError(f"{display}: download failed: {reason}") from None
    return target, digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a local file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _format_of(path: str, filesystem: pafs.FileSystem) -> str:
    lower = path.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    with filesystem.open_input_file(path) as handle:
        magic = handle.read(4)
    return "parquet" if magic == b"PAR1" else "csv"


class Snapshot:
    """One opened snapshot: its files, format, column names and (Parquet) row count."""

    def __init__(self, uri: str, max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES) -> None:
        self.location = parse_location(uri)
        self.uri = self.location.display
        self.sha256: str | None = None
        self._temp: Path | None = None
        path = self.location.path
        if self.location.kind == "http":
            self._temp = Path(tempfile.mkdtemp(prefix="churn-score-"))
            local, self.sha256 = download(uri, self._temp, max_download_bytes)
            path, self.filesystem = str(local), pafs.LocalFileSystem()
        else:
            self.filesystem = filesystem_for(self.location)
        try:
            info = self.filesystem.get_file_info(path)
        except OSError as exc:
            raise SnapshotError(f"{self.uri}: {exc}") from None
        if info.type == pafs.FileType.Directory:
            selector = pafs.FileSelector(path, recursive=True)
            found = self.filesystem.get_file_info(selector)
            self.files = sorted(
                f.path for f in found if f.is_file and f.path.lower().endswith(PARQUET_SUFFIXES)
            )
            if not self.files:
                raise SnapshotError(f"{self.uri}: a folder snapshot holds *.parquet files; none")
            self.format = "parquet"
        elif info.type == pafs.FileType.File:
            self.files = [path]
            self.format = _format_of(path, self.filesystem)
            if self.location.kind == "local":
                self.sha256 = file_sha256(Path(path))
        else:
            raise SnapshotError(f"{self.uri}: no such file or folder")
        self.columns, self.rows = self._survey()

    def _survey(self) -> tuple[list[str], int | None]:
        """Column names (in first-seen order) of every file, and the row count when known."""
        names: dict[str, None] = {}
        rows: int | None = 0
        try:
            for path in self.files:
                if self.format == "parquet":
                    meta = pq.read_metadata(path, filesystem=self.filesystem)
                    names.update(dict.fromkeys(meta.schema.to_arrow_schema().names))
                    rows = None if rows is None else rows + meta.num_rows
                else:
                    with self._csv_reader(path, None) as reader:
                        names.update(dict.fromkeys(reader.schema.names))
                    rows = None
        except (pa.ArrowInvalid, OSError) as exc:
            raise SnapshotError(
                f"{self.uri}: not a readable {self.format} file: {safe_error(exc)}"
            ) from None
        return list(names), rows

    def _csv_reader(self, path: str, columns: list[str] | None) -> pacsv.CSVStreamingReader:
        stream = self.filesystem.open_input_stream(path, compression="detect")
        # Every column as text: the validators decide what a cell means (a blank TotalCharges).
        types = None if columns is None else dict.fromkeys(columns, pa.string())
        return pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=4 * 1024 * 1024),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=columns,
                strings_can_be_null=True,
                null_values=[""],
            ),
        )

    def unknown_columns(self, known: Iterable[str], drop: Iterable[str]) -> list[str]:
        """Columns that are neither known nor dropped."""
        allowed = set(known) | set(drop)
        return [c for c in self.columns if c not in allowed]

    def batches(self, rows: int, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """The snapshot in order as batches of `rows` rows (the last may be shorter), holding
        only `columns` (those of the snapshot; a file that lacks one gets nulls)."""
        return rebatch(self._raw_batches(columns), rows)

    def _raw_batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        try:
            for path in self.files:
                if self.format == "parquet":
                    handle = pq.ParquetFile(path, filesystem=self.filesystem)
                    present = [c for c in columns if c in handle.schema_arrow.names]
                    for batch in handle.iter_batches(batch_size=65536, columns=present):
                        yield _with_columns(batch, columns)
                else:
                    with self._csv_reader(path, columns) as reader:
                        yield from reader
        except (pa.ArrowInvalid, OSError) as exc:
            raise SnapshotError(f"{self.uri}: reading failed: {safe_error(exc)}") from None

    def close(self) -> None:
        """Remove a downloaded copy."""
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def safe_error(exc: Exception) -> str:
    """An Arrow error without the row text it quotes ("Expected 21 columns, got 3: <row>"):
    a customer's attributes never reach a message or a log."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    quoted = re.match(r"^(.*?got \d+)", text)
    return (quoted.group(1) if quoted else text)[:200]


def _with_columns(batch: pa.RecordBatch, columns: list[str]) -> pa.RecordBatch:
    """The batch with exactly `columns`, in order (missing ones as nulls)."""
    if batch.schema.names == columns:
        return batch
    arrays = [
        batch.column(c) if c in batch.schema.names else pa.nulls(batch.num_rows) for c in columns
    ]
    return pa.RecordBatch.from_arrays(arrays, names=columns)


def rebatch(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly `rows` rows (the last may be shorter) from batches of any size."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == rows:
                yield _concat(pending)
                pending, count = [], 0
    if count:
        yield _concat(pending)


def _concat(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    # Unify types across files and blocks (an all-null block reads as the null type).
    tables = [pa.Table.from_batches([p]) for p in parts]
    table = pa.concat_tables(tables, promote_options="permissive").combine_chunks()
    return table.to_batches()[0]
