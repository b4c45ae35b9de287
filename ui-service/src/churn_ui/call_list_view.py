"""The call list's logic without Streamlit: the query it sends, the table it shows, its CSV."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from churn_ui.api.models import Budget, CallListPage, CallListRow, Reason
from churn_ui.csv_safety import safe_csv
from churn_ui.wording import band_text, money, reason_text

Sort = Literal["expected_value", "churn_probability"]
BudgetMode = Literal["none", "calls", "amount"]

SORTS: dict[str, str] = {
    "expected_value": "Expected value of a call",
    "churn_probability": "Churn probability",
}
BUDGET_MODES: dict[str, str] = {
    "none": "No budget",
    "calls": "A number of calls",
    "amount": "An amount of money",
}
PAGE_SIZES = (25, 50, 100, 200)
NO_REASON = "not computed for this customer"
# The CSV's columns: everything a spreadsheet user needs, with plain names.
EXPORT_COLUMNS = [
    "rank",
    "customer_id",
    "churn_probability",
    "risk_band",
    "expected_value",
    "customer_value",
    "value_source",
    "contract",
    "tenure",
    "top_reason",
    "within_budget",
    "model_version",
    "scored_at",
]

# The table's columns, in order (the page formats them with column_config).
RANK, CUSTOMER, PROBABILITY, BAND, VALUE, REASON, IN_BUDGET = (
    "Rank",
    "Customer ID",
    "Churn probability",
    "Risk band",
    "Expected value",
    "Top reason",
    "In budget",
)


@dataclass(frozen=True)
class CallListQuery:
    """What the user asked the call list for: filters, sort, page and budget."""

    sort: Sort = "expected_value"
    band: str | None = None
    contract: str | None = None
    min_tenure: float | None = None
    max_tenure: float | None = None
    page_size: int = 50
    page: int = 1
    budget_mode: BudgetMode = "none"
    budget: float | None = None

    @property
    def offset(self) -> int:
        """The rank (0-based) of the first customer of the page."""
        return (max(self.page, 1) - 1) * self.page_size

    def params(self) -> dict[str, str]:
        """The query string of `GET /customers` (unset filters are left out; the API validates)."""
        params = {"limit": str(self.page_size), "offset": str(self.offset), "sort": self.sort}
        if self.band:
            params["band"] = self.band
        if self.contract:
            params["contract"] = self.contract
        if self.min_tenure is not None:
            params["min_tenure"] = _number(self.min_tenure)
        if self.max_tenure is not None:
            params["max_tenure"] = _number(self.max_tenure)
        if self.budget_mode == "calls" and self.budget is not None:
            params["budget_calls"] = _number(self.budget)
        elif self.budget_mode == "amount" and self.budget is not None:
            params["budget_amount"] = _number(self.budget)
        return params


def _number(value: float) -> str:
    """3.0 -> '3', 2.5 -> '2.5' (a whole number stays whole for the API's integer parameters)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def page_count(total: int, page_size: int) -> int:
    """How many pages `total` customers fill (at least one, so an empty list has page 1)."""
    return max(1, math.ceil(total / page_size))


def top_reason(reasons: list[Reason] | None) -> str:
    """The strongest reason that raises the risk (else the strongest one), in plain words."""
    if not reasons:
        return NO_REASON
    raising = [r for r in reasons if r.effect == "raises"]
    strongest = max(raising or reasons, key=lambda r: abs(r.contribution))
    return reason_text(strongest)


def shown_range(page: CallListPage) -> str:
    """E.g. 'Customers 51–100 of 7,032' (or 'No customers match these filters')."""
    if not page.customers:
        return "No customers match these filters."
    first = page.offset + 1
    last = page.offset + len(page.customers)
    return f"Customers {first:,}–{last:,} of {page.total:,}"


def table(page: CallListPage) -> pd.DataFrame:
    """The page's customers as the call list shows them (raw numbers; the page formats them)."""
    frame = pd.DataFrame(
        {
            RANK: [r.rank for r in page.customers],
            CUSTOMER: [r.customer_id for r in page.customers],
            PROBABILITY: [r.churn_probability for r in page.customers],
            BAND: [band_text(r.risk_band) for r in page.customers],
            VALUE: [r.expected_value for r in page.customers],
            REASON: [top_reason(r.reasons) for r in page.customers],
        }
    )
    if page.budget is not None:
        frame[IN_BUDGET] = [bool(r.within_budget) for r in page.customers]
    return frame


def export_frame(page: CallListPage) -> pd.DataFrame:
    """The shown customers with every column a spreadsheet user needs (plain column names)."""
    return pd.DataFrame([_export_row(r) for r in page.customers], columns=EXPORT_COLUMNS)


def _export_row(row: CallListRow) -> dict[str, object]:
    return {
        "rank": row.rank,
        "customer_id": row.customer_id,
        "churn_probability": row.churn_probability,
        "risk_band": row.risk_band,
        "expected_value": row.expected_value,
        "customer_value": row.customer_value,
        "value_source": row.value_source,
        "contract": row.contract,
        "tenure": row.tenure,
        "top_reason": top_reason(row.reasons),
        "within_budget": row.within_budget,
        "model_version": row.model_version,
        "scored_at": row.scored_at,
    }


def export_csv(page: CallListPage) -> bytes:
    """The shown customers as CSV for a spreadsheet (formula-like cells neutralised)."""
    return safe_csv(export_frame(page))


def export_name(query: CallListQuery) -> str:
    """A file name that says which list it is, e.g. 'call-list-expected_value-high-p2.csv'."""
    parts = ["call-list", query.sort]
    parts += [p.replace(" ", "-").lower() for p in (query.band, query.contract) if p]
    return "-".join(parts) + f"-p{query.page}.csv"


def budget_text(budget: Budget | None) -> str | None:
    """What the budget buys, in plain words (None without a budget)."""
    if budget is None or budget.calls is None:
        return None
    text = f"The budget pays for the top **{budget.calls:,}** calls"
    if budget.amount is not None:
        text += f" ({money(budget.amount)})"
    if budget.expected_value is not None:
        text += f", worth {money(budget.expected_value)} in expected value"
    return text + "."


def best_k_text(page: CallListPage) -> str | None:
    """Where calling pays most on the ranking shown (None without a profit curve)."""
    curves = page.profit_curve
    if curves is None:
        return None
    curve = curves.by_expected_value
    if page.sort == "churn_probability" and curves.by_churn_probability is not None:
        curve = curves.by_churn_probability
    return (
        f"Calling the top **{curve.best_k:,}** customers of this ranking is worth most: "
        f"{money(curve.best_expected_value)} in expected value."
    )
