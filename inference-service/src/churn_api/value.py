"""What calling a customer is worth: per-customer value, expected value, the profit curve of
a ranked base and the number of calls a budget buys.

A customer's value is the snapshot's `customer_value` when it has one for that customer, else
the documented proxy 12 x MonthlyCharges (a year of revenue), else 0 ("none"). The expected
value of calling is p(churn) x offer success rate x value - offer cost (the contract's
threshold section holds the rate and the cost).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from churn_api.contract import Threshold

SOURCE_OWN = "customer_value"
SOURCE_PROXY = "12 x MonthlyCharges"
SOURCE_NONE = "none"
PROXY_MONTHS = 12.0


def _floats(column: Sequence[Any] | np.ndarray | None, n: int) -> np.ndarray:
    """A float column with NaN for missing values (None, blank, absent column)."""
    if column is None:
        return np.full(n, np.nan)
    if isinstance(column, np.ndarray) and column.dtype.kind == "f":
        return column.astype(float, copy=False)
    return np.array([np.nan if v is None or v == "" else float(v) for v in column], dtype=float)


def customer_values(
    customer_value_col: Sequence[Any] | np.ndarray | None,
    monthly_charges_col: Sequence[Any] | np.ndarray | None,
) -> tuple[np.ndarray, list[str]]:
    """Each customer's value and where it came from (SOURCE_OWN, SOURCE_PROXY or SOURCE_NONE)."""
    column = monthly_charges_col if monthly_charges_col is not None else customer_value_col
    n = 0 if column is None else len(column)
    own = _floats(customer_value_col, n)
    proxy = PROXY_MONTHS * _floats(monthly_charges_col, n)
    has_own = np.isfinite(own)
    has_proxy = np.isfinite(proxy)
    values = np.where(has_own, own, np.where(has_proxy, proxy, 0.0))
    sources = np.where(has_own, SOURCE_OWN, np.where(has_proxy, SOURCE_PROXY, SOURCE_NONE))
    return values, sources.tolist()


def expected_values(p: np.ndarray, values: np.ndarray, threshold: Threshold) -> np.ndarray:
    """p x offer_success_rate x value - offer_cost, per customer."""
    return (
        np.asarray(p, dtype=float) * threshold.offer_success_rate * np.asarray(values, dtype=float)
        - threshold.offer_cost
    )


def profit_curve(ev_sorted_desc: Sequence[float] | np.ndarray, points: int = 200) -> dict[str, Any]:
    """The expected value of calling the top k of a ranked list, for k = 0..n.

    `points` evenly spaced k (always 0, n and the best k) keep the answer small for any n.
    """
    ev = np.asarray(ev_sorted_desc, dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(ev)])
    n = len(ev)
    best_k = int(np.argmax(cumulative))
    ks = np.unique(
        np.concatenate([np.linspace(0, n, num=min(points, n + 1)).round().astype(int), [best_k]])
    )
    return {
        "points": [{"k": int(k), "expected_value": float(cumulative[k])} for k in ks],
        "best_k": best_k,
        "best_expected_value": float(cumulative[best_k]),
    }


def base_profit_curves(
    p: np.ndarray, ev: np.ndarray, offer_cost: float, points: int = 200
) -> dict[str, Any]:
    """The call list's two curves of a whole base: ranked by expected value and by p(churn)."""
    p = np.asarray(p, dtype=float)
    ev = np.asarray(ev, dtype=float)
    return {
        "by_expected_value": profit_curve(np.sort(ev)[::-1], points),
        "by_churn_probability": profit_curve(ev[np.argsort(-p, kind="stable")], points),
        "offer_cost": float(offer_cost),
    }


def budget_calls(
    budget_calls: int | None, budget_amount: float | None, offer_cost: float
) -> int | None:
    """How many calls a budget allows: the smaller of a number of calls and what an amount of
    money pays for (amount / offer cost); None when no budget is given (or money is unlimited
    because an offer costs nothing)."""
    limits = []
    if budget_calls is not None:
        limits.append(int(budget_calls))
    if budget_amount is not None and offer_cost > 0:
        limits.append(math.floor(budget_amount / offer_cost + 1e-9))
    return min(limits) if limits else None
