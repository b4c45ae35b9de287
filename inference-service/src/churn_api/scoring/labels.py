"""Read an outcomes file (CSV or Parquet; a path, s3:// or http(s)://): one row per customer
outcome with a customer id, churned yes/no and the outcome date. Every row is kept or rejected
with its 1-based row number and reasons, never guessed.

Accepted: the id column `customerID` or `customer_id`; `churned` or `Churn` holding yes/no in
any case (a Parquet boolean column too: an unambiguous true/false); `outcome_date` or `date`
holding YYYY-MM-DD (or a Parquet date/timestamp). 1/0, true/false text, y/n are rejected: a
label that is not yes/no is reported, not interpreted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from churn_api.customer import ID_MAX_LENGTH
from churn_api.scoring.columns import plain
from churn_api.scoring.snapshot import DEFAULT_MAX_DOWNLOAD_BYTES, Snapshot, SnapshotError

ID_COLUMNS = ("customerID", "customer_id")
LABEL_COLUMNS = ("churned", "Churn")
DATE_COLUMNS = ("outcome_date", "date")
READ_ROWS = 100_000
REASONS = ("missing_id", "bad_label", "bad_date", "future_date", "duplicate", "unknown_customer")


class LabelsError(Exception):
    """The file cannot be read as outcomes (unreadable, a column missing): exit 2."""


@dataclass
class Outcome:
    row: int
    customer_id: str
    churned: bool
    outcome_date: dt.date


@dataclass
class Labels:
    """A read outcomes file: valid outcomes and rejected rows ({row, customer_id, reasons})."""

    uri: str
    sha256: str | None
    rows_read: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    by_reason: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))

    def reject(self, row: int, customer_id: str | None, reasons: list[tuple[str, str]]) -> None:
        for code, _ in reasons:
            self.by_reason[code] += 1
        self.rejected.append(
            {"row": row, "customer_id": customer_id, "reasons": [text for _, text in reasons]}
        )


def _column(names: list[str], choices: tuple[str, ...], what: str) -> str:
    found = [c for c in choices if c in names]
    if not found:
        raise LabelsError(f"the labels have no {what} column ({' or '.join(choices)})")
    if len(found) > 1:
        raise LabelsError(f"the labels have both {' and '.join(found)}: keep one {what} column")
    return found[0]


def _label(value: Any) -> tuple[bool | None, str | None]:
    if type(value) is bool:
        return value, None
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return value.strip().lower() == "yes", None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "no churned label"
    return None, f"churned {str(value)[:20]!r} is not yes or no"


def _date(value: Any, today: dt.date) -> tuple[dt.date | None, tuple[str, str] | None]:
    if isinstance(value, dt.datetime):
        value = (value.astimezone(dt.UTC) if value.tzinfo else value).date()
    elif isinstance(value, str) and value.strip():
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            return None, ("bad_date", f"outcome date {value[:20]!r} is not a date (YYYY-MM-DD)")
    if not isinstance(value, dt.date):
        return None, ("bad_date", "no outcome date")
    if value > today:
        return None, ("future_date", f"outcome date {value} is in the future (today {today} UTC)")
    return value, None


def _customer_id(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, int) and type(value) is not bool:
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None, "no customer id"
    if len(value) > ID_MAX_LENGTH or not value.isprintable():
        return None, f"customer id longer than {ID_MAX_LENGTH} or with control characters"
    return value, None


def read_labels(
    uri: str, today: dt.date | None = None, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
) -> Labels:
    """Every row of the file checked (known customers are checked later, against the store)."""
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        with Snapshot(uri, max_bytes) as snapshot:
            names = snapshot.columns
            columns = [
                _column(names, ID_COLUMNS, "customer id"),
                _column(names, LABEL_COLUMNS, "churned"),
                _column(names, DATE_COLUMNS, "outcome date"),
            ]
            labels = Labels(snapshot.uri, snapshot.sha256)
            first: dict[tuple[str, dt.date], int] = {}
            for batch in snapshot.batches(READ_ROWS, columns):
                ids, churned, dates = (plain(batch.column(c)).to_pylist() for c in columns)
                for raw_id, raw_label, raw_date in zip(ids, churned, dates, strict=True):
                    labels.rows_read += 1
                    _check_row(labels, labels.rows_read, raw_id, raw_label, raw_date, today, first)
    except SnapshotError as exc:
        raise LabelsError(str(exc).replace("--customers", "--labels")) from None
    return labels


def _check_row(
    labels: Labels,
    row: int,
    raw_id: Any,
    raw_label: Any,
    raw_date: Any,
    today: dt.date,
    first: dict[tuple[str, dt.date], int],
) -> None:
    reasons: list[tuple[str, str]] = []
    cid, id_problem = _customer_id(raw_id)
    if id_problem:
        reasons.append(("missing_id", id_problem))
    churned, label_problem = _label(raw_label)
    if label_problem:
        reasons.append(("bad_label", label_problem))
    when, date_problem = _date(raw_date, today)
    if date_problem:
        reasons.append(date_problem)
    if not reasons and cid is not None and when is not None:  # only valid rows are "first"
        seen = first.setdefault((cid, when), row)
        if seen != row:
            reasons.append(("duplicate", f"the same customer and date as row {seen}"))
    if reasons:
        labels.reject(row, cid, reasons)
        return
    assert cid is not None and churned is not None and when is not None
    labels.outcomes.append(Outcome(row, cid, churned, when))
