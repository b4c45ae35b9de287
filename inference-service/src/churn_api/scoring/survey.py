"""One pass over a snapshot's id (and snapshot_date) column before scoring: the rows whose
customer id was already seen (rejected wherever their partition is scored, in process or on a
cluster) and the snapshot's one date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from churn_api.scoring.columns import plain
from churn_api.scoring.snapshot import Snapshot, SnapshotError

SURVEY_ROWS = 1_000_000


@dataclass(frozen=True)
class Survey:
    """duplicates: 1-based row -> the row where its id was first seen; date: the
    snapshot_date column's single value (None when the snapshot has no such column)."""

    duplicates: dict[int, int]
    date: dt.date | None


def survey(snapshot: Snapshot, id_field: str) -> Survey:
    """Duplicate ids and the snapshot date, reading only those columns (Parquet) or every
    partition's id cells (CSV)."""
    columns = [c for c in (id_field, "snapshot_date") if c in snapshot.columns]
    if id_field not in columns:
        return Survey({}, _date(snapshot, []))
    chunks: list[pa.Array] = []
    dates: set[object] = set()
    for batch in snapshot.batches(SURVEY_ROWS, columns):
        ids = plain(batch.column(id_field))
        chunks.append(ids if pa.types.is_string(ids.type) else ids.cast(pa.string()))
        if "snapshot_date" in columns:
            dates.update(pc.unique(plain(batch.column("snapshot_date"))).to_pylist())
    all_ids = pa.chunked_array(chunks, type=pa.string())
    counts = pc.value_counts(all_ids)
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    repeated = pc.drop_null(repeated)
    duplicates: dict[int, int] = {}
    if len(repeated):
        hits = np.flatnonzero(
            pc.fill_null(pc.is_in(all_ids, value_set=repeated), False).to_numpy(
                zero_copy_only=False
            )
        )
        first: dict[str, int] = {}
        values = all_ids.take(pa.array(hits)).to_pylist()
        for k, value in zip(hits.tolist(), values, strict=True):
            row = k + 1
            if value in first:
                duplicates[row] = first[value]
            else:
                first[value] = row
    return Survey(duplicates, _date(snapshot, dates))


def _date(snapshot: Snapshot, values: object) -> dt.date | None:
    """The one date of the snapshot_date column (dates or ISO text); SnapshotError otherwise."""
    if "snapshot_date" not in snapshot.columns:
        return None
    found: set[dt.date] = set()
    for value in values:  # type: ignore[attr-defined]
        if value is None:
            continue
        if isinstance(value, dt.datetime):
            found.add(value.date())
        elif isinstance(value, dt.date):
            found.add(value)
        else:
            try:
                found.add(dt.date.fromisoformat(str(value).strip()))
            except ValueError:
                raise SnapshotError(
                    f"snapshot_date: {str(value)[:40]!r} is not a date (YYYY-MM-DD)"
                ) from None
    if len(found) > 1:
        shown = ", ".join(sorted(map(str, found))[:5])
        raise SnapshotError(
            f"snapshot_date holds {len(found)} different dates ({shown}): a snapshot has one "
            "date; split it, or drop the column and pass --snapshot-date"
        )
    return found.pop() if found else None
