"""Bulk upserts of one scored partition, as fast as each database takes them.

PostgreSQL: the partition is formatted column-wise as COPY text, copied into a temporary
staging table (no WAL, dropped at commit), then one `INSERT ... SELECT ... ON CONFLICT` per
table. SQLite: one prepared `INSERT ... ON CONFLICT` per table, executemany of plain tuples
(the driver loop runs in C and lets go of the GIL, so the next partition scores meanwhile).
Both keep the rules of writes.py: an older snapshot never replaces a newer one, scores are
keyed by (customer, snapshot date, model name, model version), NaN is NULL, JSON stays JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from sqlalchemy import Connection, column, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from churn_api.store.schema import customers, scores

if TYPE_CHECKING:
    from churn_api.store.records import RunRecord, ScoredRows

CUSTOMER_COLUMNS = tuple(c.name for c in customers.columns)
SCORE_COLUMNS = tuple(c.name for c in scores.columns if c.name != "id")
SCORE_KEY = ("customer_id", "snapshot_date", "model_name", "model_version")
_NUMBERS = ("customer_value", "tenure", "churn_probability", "expected_value")
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_STAGE = "churn_stage_partition"
# SQLite page cache while a partition is written (KiB): the call list's random-order indexes
# outgrow the 2 MB default (1M customers: 24k -> 28-34k rows/s measured). Restored afterwards.
_SQLITE_CACHE_KIB = 256 * 1024
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _upsert(stmt: Any, target: Any, key: Sequence[str], updates: Sequence[str]) -> Any:
    """An insert into `target` ... ON CONFLICT (key) DO UPDATE SET updates = excluded."""
    return stmt.on_conflict_do_update(
        index_elements=[target.c[name] for name in key],
        set_={name: stmt.excluded[name] for name in updates},
        # An older snapshot scored later never replaces the newer one a customer already has.
        where=(
            target.c.snapshot_date <= stmt.excluded.snapshot_date if target is customers else None
        ),
    )


def _statements(dialect: Any, insert: Any, stage: Any) -> tuple[str, str]:
    """(customers upsert, scores upsert) as the dialect's SQL text, compiled once.

    With a stage table: INSERT ... SELECT from it; without: positional VALUES in our order.
    """
    out = []
    for target, names, key in (
        (customers, CUSTOMER_COLUMNS, ("customer_id",)),
        (scores, SCORE_COLUMNS, SCORE_KEY),
    ):
        updates = [name for name in names if name not in key]
        if stage is None:
            stmt = insert(target).values({name: None for name in names})
        else:
            stmt = insert(target).from_select(names, select(*(stage.c[n] for n in names)))
        compiled = _upsert(stmt, target, key, updates).compile(dialect=dialect)
        if stage is None and tuple(compiled.positiontup or ()) != names:
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        out.append(compiled.string)
    return out[0], out[1]


_STAGE_TABLE = table(_STAGE, *(column(name) for name in CUSTOMER_COLUMNS))
_PG_SQL = _statements(postgresql.dialect(), postgresql.insert, _STAGE_TABLE)
_SQLITE_SQL = _statements(sqlite.dialect(paramstyle="qmark"), sqlite.insert, None)


def _json(values: Sequence[Any]) -> list[str | None]:
    return [None if v is None else orjson.dumps(v, option=_JSON_OPTIONS).decode() for v in values]


def _numbers(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Float64 values and the positions of NaN/None (stored as NULL)."""
    array = np.asarray(values, dtype=np.float64)
    return array, np.flatnonzero(np.isnan(array)).tolist()


def _columns(rows: ScoredRows) -> dict[str, Any]:
    """The per-row columns: lists of str/None, a bool array, (float64 array, NULL positions)."""
    return {
        "customer_id": [str(c) for c in rows.customer_id],
        "attributes": _json(rows.attributes),
        "value_source": [str(v) for v in rows.value_source],
        "contract": list(rows.contract),
        "churn": np.asarray(rows.churn).astype(bool),
        "risk_band": [str(v) for v in rows.risk_band],
        "reasons": _json(rows.reasons),
        **{name: _numbers(getattr(rows, name)) for name in _NUMBERS},
    }


# -- PostgreSQL -------------------------------------------------------------------------------


def _copy_text(values: Sequence[str | None]) -> list[str]:
    """COPY text fields: NULL as \\N, backslash, tab and line breaks escaped."""
    joined = "".join(v for v in values if v is not None)
    if any(ch in joined for ch in "\\\t\n\r"):
        return ["\\N" if v is None else v.translate(_COPY_ESCAPES) for v in values]
    return ["\\N" if v is None else v for v in values]


def _copy_numbers(pair: tuple[np.ndarray, list[int]]) -> list[str]:
    array, nulls = pair
    text = list(map(float.__repr__, array.tolist()))  # shortest round-trip form
    for k in nulls:
        text[k] = "\\N"
    return text


def _copy_payload(run: RunRecord, rows: ScoredRows) -> str:
    """The partition as COPY text, in CUSTOMER_COLUMNS order."""
    cols = _columns(rows)
    n = len(rows)
    constants = {
        "snapshot_date": run.snapshot_date.isoformat(),
        "model_name": run.model_name,
        "model_version": run.model_version,
        "run_id": run.run_id,
        "scored_at": rows.scored_at.astimezone(UTC).isoformat(),
    }
    fields: list[list[str]] = []
    for name in CUSTOMER_COLUMNS:
        if name in constants:
            fields.append([_copy_text([constants[name]])[0]] * n)
        elif name in _NUMBERS:
            fields.append(_copy_numbers(cols[name]))
        elif name == "churn":
            fields.append(np.where(cols[name], "t", "f").tolist())
        else:
            fields.append(_copy_text(cols[name]))
    return "".join(f"{line}\n" for line in map("\t".join, zip(*fields, strict=True)))


def write_postgresql(conn: Connection, run: RunRecord, rows: ScoredRows) -> None:
    """COPY into a temporary stage, then one upsert per table (in the caller's transaction)."""
    payload = _copy_payload(run, rows)
    # An asynchronous commit: a crash may lose the newest partitions, never half of one, and
    # finish_run's synchronous commit flushes them all before a run is called succeeded.
    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {_STAGE} (LIKE customers INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    driver = conn.connection.driver_connection
    copy_sql = f"COPY {_STAGE} ({', '.join(CUSTOMER_COLUMNS)}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            copy.write(payload)
    except conn.dialect.loaded_dbapi.Error as exc:  # raw driver call: wrap like SQLAlchemy does
        raise DBAPIError(copy_sql, None, exc) from exc
    customers_sql, scores_sql = _PG_SQL
    conn.exec_driver_sql(customers_sql)  # customers first: scores' foreign key
    conn.exec_driver_sql(scores_sql)


# -- SQLite -----------------------------------------------------------------------------------


def _sqlite_numbers(pair: tuple[np.ndarray, list[int]]) -> list[float | None]:
    array, nulls = pair
    values: list[float | None] = array.tolist()
    for k in nulls:
        values[k] = None
    return values


def _bind(table_column: Any, value: Any) -> Any:
    """A constant as SQLAlchemy's SQLite type would store it (dates and times are text)."""
    dialect = sqlite.dialect()
    process = table_column.type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


def write_sqlite(conn: Connection, run: RunRecord, rows: ScoredRows) -> None:
    """Two prepared upserts, executemany of tuples (in the caller's transaction)."""
    cols = _columns(rows)
    n = len(rows)
    constants = {
        "snapshot_date": _bind(customers.c.snapshot_date, run.snapshot_date),
        "model_name": run.model_name,
        "model_version": run.model_version,
        "run_id": run.run_id,
        "scored_at": _bind(customers.c.scored_at, rows.scored_at.astimezone(UTC)),
    }
    values: dict[str, Any] = {}
    for name in CUSTOMER_COLUMNS:
        if name in constants:
            values[name] = [constants[name]] * n
        elif name in _NUMBERS:
            values[name] = _sqlite_numbers(cols[name])
        elif name == "churn":
            values[name] = cols[name].tolist()
        else:
            values[name] = cols[name]
    customers_sql, scores_sql = _SQLITE_SQL
    cursor = conn.connection.driver_connection.cursor()
    (previous,) = cursor.execute("PRAGMA cache_size").fetchone()
    cursor.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
    try:
        conn.exec_driver_sql(
            customers_sql, list(zip(*(values[c] for c in CUSTOMER_COLUMNS), strict=True))
        )
        conn.exec_driver_sql(
            scores_sql, list(zip(*(values[c] for c in SCORE_COLUMNS), strict=True))
        )
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(previous)}")
        cursor.close()
