"""What a store read is asked, without SQLAlchemy: the call list query and its cache, the
bounds of the history and monitoring reads. reads.py and monitoring_reads.py hold the SQL."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

SORTS = ("expected_value", "churn_probability")
HISTORY_MAX = 200
RUNS_MAX = 200


@dataclass(frozen=True)
class CallListQuery:
    """A validated call list request (customer_params checks every value)."""

    limit: int = 50
    offset: int = 0
    sort: str = "expected_value"
    band: str | None = None
    contract: str | None = None
    min_tenure: float | None = None
    max_tenure: float | None = None
    budget_calls: int | None = None  # calls the budget buys (value.budget_calls), None = none

    def filters(self) -> dict[str, Any]:
        return {
            "band": self.band,
            "contract": self.contract,
            "min_tenure": self.min_tenure,
            "max_tenure": self.max_tenure,
        }


@dataclass
class ListCache:
    """Totals and the profit curve, valid while the store's runs do not change.

    Counting a million rows costs more than the rest of a page; between scoring runs the
    answer cannot change. Never used while a run is writing (its partitions change totals).
    """

    version: tuple[Any, ...] | None = None
    totals: dict[tuple[Any, ...], int] = field(default_factory=dict)
    curve: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
