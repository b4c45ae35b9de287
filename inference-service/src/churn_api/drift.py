"""Drift statistics against the training reference: PSI, KS, chi-square, missing and unseen.

numpy and scipy.special only (docs/monitoring.md says why no drift library; the API image keeps
only the parts of scipy that xgboost imports, and `special` is one of them). Used by the API's live
window and by churn-score's batch drift; thresholds are docs/monitoring.md's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import special

from churn_api.reference import CategoricalReference, NumericReference, Reference

EPS = 1e-4
FIELD_PSI_WATCH = 0.1
FIELD_PSI_DRIFT = 0.2
SCORE_PSI_DRIFT = 0.1
THRESHOLDS = {
    "field_psi_watch": FIELD_PSI_WATCH,
    "field_psi_drift": FIELD_PSI_DRIFT,
    "score_psi_drift": SCORE_PSI_DRIFT,
}
SCORE_FIELD = "__score__"  # the score's row where drift rows are stored by field
# Category codes when a caller passes codes (coded=True), as columns.py makes them.
NULL_CODE, OTHER_CODE = -1, -2
OTHER_KEY = "<other>"  # the unseen key of a coded value that is not a category

Column = Sequence[Any] | np.ndarray


@dataclass(frozen=True)
class FieldDrift:
    """One field's comparison; a statistic is None when there is nothing to compute it on."""

    field: str
    kind: str  # numeric | categorical
    n: int  # non-missing current values
    psi: float | None
    statistic: float | None  # KS D (numeric) or chi-square (categorical)
    p_value: float | None
    missing_rate: float | None
    missing_rate_reference: float
    unseen: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return field_status(self.psi)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status": self.status}


@dataclass(frozen=True)
class DriftReport:
    """Every field's drift, the score's PSI (and its current bin shares), over n rows."""

    rows: list[FieldDrift]
    score_psi: float | None
    score_frequencies: list[float] | None
    n: int

    @property
    def score_status(self) -> str:
        return "drift" if self.score_psi is not None and self.score_psi > SCORE_PSI_DRIFT else "ok"

    def drifted(self) -> list[str]:
        """Fields over the drift threshold, most drifted first."""
        over = [r for r in self.rows if r.status == "drift"]
        return [r.field for r in sorted(over, key=lambda r: -(r.psi or 0.0))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "fields": [r.as_dict() for r in self.rows],
            "score_psi": self.score_psi,
            "score_status": self.score_status,
            "score_frequencies": self.score_frequencies,
        }


def field_status(psi: float | None) -> str:
    """'drift' over 0.2, 'watch' over 0.1, else 'ok' (also when there is no PSI)."""
    if psi is None:
        return "ok"
    return "drift" if psi > FIELD_PSI_DRIFT else "watch" if psi > FIELD_PSI_WATCH else "ok"


def psi(
    expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray, eps: float = EPS
) -> float:
    """Population stability index: sum((a - e) * ln(a / e)), both shares clipped to eps."""
    e = np.clip(np.asarray(expected, dtype=np.float64), eps, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), eps, None)
    if e.shape != a.shape:
        raise ValueError(f"psi: {e.shape[0]} expected shares, {a.shape[0]} actual")
    return float(np.sum((a - e) * np.log(a / e)))


def bin_shares(edges: Sequence[float], values: np.ndarray) -> np.ndarray:
    """Share of values per bin: v falls in bin searchsorted(edges, v, side='right')."""
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def reference_cdf(quantiles: Sequence[float], x: np.ndarray) -> np.ndarray:
    """The reference ECDF at x, interpolated linearly between its 101 percentiles.

    Right-continuous: where percentiles repeat (a discrete field) F jumps to the last of them.
    """
    q = np.asarray(quantiles, dtype=np.float64)
    step = 1.0 / (len(q) - 1)
    k = np.searchsorted(q, x, side="right")  # q[k-1] <= x < q[k]
    inner = (k > 0) & (k < len(q))
    lo = q[np.clip(k - 1, 0, len(q) - 1)]
    hi = q[np.clip(k, 0, len(q) - 1)]
    width = np.where(inner, hi - lo, 1.0)
    frac = np.where(inner, (x - lo) / width, 0.0)
    return np.where(k == 0, 0.0, np.where(k >= len(q), 1.0, (k - 1 + frac) * step))


def ks(ref: NumericReference, values: np.ndarray) -> tuple[float, float]:
    """KS statistic max |F_cur - F_ref| at the percentiles and the current values; p-value.

    p from the asymptotic Kolmogorov distribution with n_eff = n_ref * n / (n_ref + n).
    """
    current = np.sort(values)
    # F_cur only steps at distinct values: evaluating at each once gives the same maximum.
    distinct = current[np.append(current[1:] != current[:-1], True)]
    points = np.concatenate([np.asarray(ref.quantiles, dtype=np.float64), distinct])
    f_cur = np.searchsorted(current, points, side="right") / len(current)
    d = float(np.max(np.abs(f_cur - reference_cdf(ref.quantiles, points))))
    n_eff = ref.count * len(current) / (ref.count + len(current))
    return d, float(special.kolmogorov(math.sqrt(n_eff) * d))


def _numeric(name: str, column: Column) -> np.ndarray:
    try:
        values = np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"drift: field {name} holds values that are not numbers") from None
    if values.ndim != 1:
        raise ValueError(f"drift: field {name} is not one column")
    return values


def compare_numeric(name: str, ref: NumericReference, column: Column) -> FieldDrift:
    values = _numeric(name, column)
    present = values[~np.isnan(values)]
    total = len(values)
    psi_, d, p = None, None, None
    if len(present):
        psi_ = psi(ref.frequencies, bin_shares(ref.edges, present))
        d, p = ks(ref, present)
    missing_rate = (total - len(present)) / total if total else None
    return FieldDrift(name, "numeric", len(present), psi_, d, p, missing_rate, ref.missing_rate)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _key(value: Any) -> Any:
    """Integral numbers as int (0.0 and numpy 0 match the category 0); others as they are."""
    if isinstance(value, bool | np.bool_):
        return value
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.str_):
        return str(value)
    return value


def _category_counts(
    ref: CategoricalReference, column: Column, coded: bool
) -> tuple[np.ndarray, int, dict[str, int]]:
    """Counts per reference category, missing count, and counts of values not in it."""
    k = len(ref.categories)
    if coded:
        codes = np.asarray(column, dtype=np.int64)
        known = codes[(codes >= 0) & (codes < k)]
        other = int(np.count_nonzero((codes == OTHER_CODE) | (codes >= k) | (codes < NULL_CODE)))
        missing = int(np.count_nonzero(codes == NULL_CODE))
        return np.bincount(known, minlength=k), missing, ({OTHER_KEY: other} if other else {})
    index = {c: i for i, c in enumerate(ref.categories)}
    counts = np.zeros(k, dtype=np.int64)
    missing = 0
    unseen: dict[str, int] = {}
    for value, count in Counter(column).items():
        if _is_missing(value):
            missing += count
            continue
        key = _key(value)
        i = index.get(key)
        if i is None:
            unseen[str(key)] = unseen.get(str(key), 0) + count
        else:
            counts[i] += count
    return counts, missing, unseen


def chi_square(ref: CategoricalReference, counts: np.ndarray) -> tuple[float | None, float | None]:
    """Pearson's chi-square of the training split's counts against the current ones, per
    category the training split held (2 x k table); None with fewer than 2 such categories.

    Two samples, not the current counts against fixed shares: the reference is itself a sample
    of `count` rows, and against fixed shares a batch of a million rows would call the
    reference's own sampling noise significant (the KS test's n_eff does the same).
    """
    training = np.round(np.asarray(ref.frequencies, dtype=np.float64) * ref.count)
    seen = training > 0
    observed = counts[seen]
    if seen.sum() < 2 or observed.sum() == 0:
        return None, None
    table = np.vstack([training[seen], observed])
    # scipy.stats.chi2_contingency(table, correction=False), without importing scipy.stats.
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(special.chdtrc(table.shape[1] - 1, statistic))


def compare_categorical(
    name: str, ref: CategoricalReference, column: Column, coded: bool = False
) -> FieldDrift:
    """PSI over the categories plus one bucket of unseen values; chi-square over the seen."""
    counts, missing, unseen = _category_counts(ref, column, coded)
    n_unseen = sum(unseen.values())
    n = int(counts.sum()) + n_unseen
    total = n + missing
    # Categories the training split never held have 0 expected: unseen, outside the test.
    expected = np.asarray(ref.frequencies, dtype=np.float64)
    for i in np.flatnonzero(expected == 0):
        if counts[i]:
            unseen[str(ref.categories[i])] = int(counts[i])
    psi_, chi2, p = None, None, None
    if n:
        psi_ = psi([*expected, 0.0], [*(counts / n), n_unseen / n])
        chi2, p = chi_square(ref, counts)
    missing_rate = missing / total if total else None
    return FieldDrift(name, "categorical", n, psi_, chi2, p, missing_rate, ref.missing_rate, unseen)


def compare(
    reference: Reference,
    columns: Mapping[str, Column],
    scores: Column | None = None,
    coded: bool = False,
) -> DriftReport:
    """Compare the current rows (one column per field) and their scores with the reference.

    Fields the caller did not give are left out of the report; `coded`: categorical columns
    are category indexes in the contract's order (NULL_CODE missing, OTHER_CODE unseen).
    """
    lengths = {name: len(col) for name, col in columns.items() if name in reference.fields}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"drift: columns of different lengths {lengths}")
    n = next(iter(lengths.values()), len(scores) if scores is not None else 0)
    rows: list[FieldDrift] = []
    for name, ref in reference.fields.items():
        if name not in columns:
            continue
        if isinstance(ref, NumericReference):
            rows.append(compare_numeric(name, ref, columns[name]))
        else:
            rows.append(compare_categorical(name, ref, columns[name], coded))
    score_psi, score_freq = None, None
    if scores is not None and reference.score is not None:
        values = _numeric(SCORE_FIELD, scores)
        values = values[~np.isnan(values)]
        if len(values):
            shares = bin_shares(reference.score.edges, values)
            score_psi, score_freq = psi(reference.score.frequencies, shares), shares.tolist()
    return DriftReport(rows, score_psi, score_freq, n)
