"""`churn-score synth`: a synthetic customer base drawn from the IBM data's joint distribution
(whole rows resampled, tenure and charges jittered together, fresh unique ids), written in
chunks as Parquet (a file or a folder of parts) or CSV, so any size fits in bounded memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DEFAULT_SOURCE = Path(".cache") / "data" / "telco_customer_churn.csv"
CHUNK_ROWS = 100_000
ID_FIELD = "customerID"
LABEL = "Churn"


class SynthError(Exception):
    """The source or the output cannot be used: exit 2."""


def load_source(path: Path) -> pa.Table:
    """The IBM CSV without its label, typed (a blank TotalCharges is null)."""
    if not path.is_file():
        raise SynthError(
            f"no source data at {path}: run `make data` (or `churn-train --fetch-only`) first, "
            "or pass --source"
        )
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={"TotalCharges": pa.string(), ID_FIELD: pa.string()}
            ),
        )
    except pa.ArrowInvalid as exc:
        raise SynthError(f"{path}: not a readable CSV: {exc}") from None
    needed = {ID_FIELD, "tenure", "MonthlyCharges", "TotalCharges"}
    if not needed <= set(table.column_names):
        raise SynthError(f"{path}: needs the Telco columns {sorted(needed)}")
    if LABEL in table.column_names:
        table = table.drop_columns([LABEL])
    total = pc.utf8_trim_whitespace(table.column("TotalCharges"))
    total = pc.if_else(pc.equal(total, ""), pa.scalar(None, pa.string()), total)
    table = table.set_column(
        table.column_names.index("TotalCharges"), "TotalCharges", total.cast(pa.float64())
    )
    return table


def _jitter(source: pa.Table, picks: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Tenure +-3 months, monthly charges +-5 %, total charges moved with both (a customer of
    tenure 0 has none, as in the IBM data), all within the source's ranges."""
    tenure = source.column("tenure").to_numpy()[picks].astype(np.int64)
    monthly = source.column("MonthlyCharges").to_numpy()[picks].astype(float)
    total = source.column("TotalCharges").to_numpy(zero_copy_only=False)[picks].astype(float)
    max_tenure = int(pc.max(source.column("tenure")).as_py())
    lo, hi = (
        float(pc.min(source.column("MonthlyCharges")).as_py()),
        float(pc.max(source.column("MonthlyCharges")).as_py()),
    )
    # How the customer's total relates to tenure x monthly (discounts, price changes) is kept.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((tenure > 0) & np.isfinite(total), total / (tenure * monthly), 1.0)
    ratio = np.clip(np.nan_to_num(ratio, nan=1.0), 0.5, 1.5)
    new_tenure = np.clip(tenure + rng.integers(-3, 4, size=len(picks)), 0, max_tenure)
    new_monthly = np.round(np.clip(monthly * rng.normal(1.0, 0.05, len(picks)), lo, hi), 2)
    new_total = np.round(new_tenure * new_monthly * ratio, 2)
    return {
        "tenure": new_tenure,
        "MonthlyCharges": new_monthly,
        "TotalCharges": np.where(new_tenure > 0, new_total, np.nan),
    }


def make_chunk(
    source: pa.Table, start: int, rows: int, rng: np.random.Generator, prefix: str
) -> pa.Table:
    """Rows start .. start+rows-1 of the synthetic base."""
    picks = rng.integers(0, source.num_rows, size=rows)
    chunk = source.take(pa.array(picks))
    ids = pa.array([f"{prefix}{k:09d}" for k in range(start, start + rows)], pa.string())
    chunk = chunk.set_column(chunk.column_names.index(ID_FIELD), ID_FIELD, ids)
    for name, values in _jitter(source, picks, rng).items():
        kind = chunk.schema.field(name).type
        array = pa.array(values, mask=np.isnan(values) if values.dtype.kind == "f" else None)
        chunk = chunk.set_column(chunk.column_names.index(name), name, array.cast(kind))
    return chunk


def synthesize(
    rows: int,
    out: str,
    source: str | None = None,
    seed: int = 0,
    prefix: str = "SYN-",
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Write `rows` synthetic customers to `out` (*.parquet, *.csv, or a folder of parts)."""
    table = load_source(Path(source) if source else DEFAULT_SOURCE)
    rng = np.random.default_rng(seed)
    target = Path(out)
    kind = (
        "csv"
        if target.suffix.lower() == ".csv"
        else "parquet"
        if target.suffix.lower() in (".parquet", ".pq")
        else "folder"
    )
    try:
        if kind == "folder":
            target.mkdir(parents=True, exist_ok=True)
            if any(target.glob("*.parquet")):
                raise SynthError(f"{target} already holds Parquet files: choose an empty folder")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        written = 0
        try:
            for part, start in enumerate(range(0, rows, chunk_rows)):
                chunk = make_chunk(table, start, min(chunk_rows, rows - start), rng, prefix)
                if kind == "folder":
                    pq.write_table(chunk, target / f"part-{part:05d}.parquet")
                else:
                    if writer is None:
                        writer = (
                            pacsv.CSVWriter(target, chunk.schema)
                            if kind == "csv"
                            else pq.ParquetWriter(target, chunk.schema)
                        )
                    writer.write_table(chunk)
                written += chunk.num_rows
        finally:
            if writer is not None:
                writer.close()
    except OSError as exc:
        raise SynthError(f"{target}: {exc}") from None
    return written
