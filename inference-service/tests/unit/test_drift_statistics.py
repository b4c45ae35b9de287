"""churn_api.drift: every statistic against values computed by hand on small frames."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from churn_api import drift
from churn_api.reference import CategoricalReference, Reference

UNIFORM = [float(q) for q in range(101)]  # percentiles of a uniform 0..100


def _kolmogorov_sf(y: float) -> float:
    """The asymptotic Kolmogorov tail, by its series (independent of scipy)."""
    return 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * y * y) for k in range(1, 50))


def _pearson(table: list[list[int]]) -> float:
    """Pearson's chi-square of a contingency table, by the textbook formula."""
    rows = [sum(r) for r in table]
    cols = [sum(c) for c in zip(*table, strict=True)]
    total = sum(rows)
    return sum(
        (table[i][j] - rows[i] * cols[j] / total) ** 2 / (rows[i] * cols[j] / total)
        for i in range(len(rows))
        for j in range(len(cols))
    )


def reference(**overrides: Any) -> Reference:
    data: dict[str, Any] = {
        "format": 1,
        "rows": 100,
        "computed_on": "training split",
        "fields": {
            "level": {
                "kind": "numeric",
                "count": 100,
                "missing_rate": 0.0,
                "edges": [25.0, 50.0, 75.0],
                "frequencies": [0.25, 0.25, 0.25, 0.25],
                "quantiles": UNIFORM,
            },
            "plan": {
                "kind": "categorical",
                "count": 100,
                "missing_rate": 0.1,
                "categories": ["A", "B", "C"],
                "frequencies": [0.5, 0.3, 0.2],
            },
            "senior": {
                "kind": "categorical",
                "count": 100,
                "missing_rate": 0.0,
                "categories": [0, 1],
                "frequencies": [0.8, 0.2],
            },
        },
        "score": {
            "edges": [0.5],
            "frequencies": [0.5, 0.5],
            "quantiles": [i / 100 for i in range(101)],
        },
    }
    data.update(overrides)
    return Reference.model_validate(data)


def test_psi_by_hand() -> None:
    # (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5)
    assert drift.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.274653, abs=1e-6)
    assert drift.psi([0.2, 0.8], [0.2, 0.8]) == 0.0
    # A share of 0 is clipped to 1e-4: (0.1 - 1e-4) ln(0.1 / 1e-4) is the new bin's part.
    got = drift.psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1])
    assert got == pytest.approx(-0.1 * math.log(0.8) + 0.0999 * math.log(1000), abs=1e-9)
    with pytest.raises(ValueError, match="2 expected shares, 3 actual"):
        drift.psi([0.5, 0.5], [0.2, 0.3, 0.5])


def test_bins_take_the_value_on_an_edge_to_the_right() -> None:
    shares = drift.bin_shares([1.0, 2.0], np.array([0.0, 1.0, 1.5, 2.0, 3.0]))
    assert shares.tolist() == [0.2, 0.4, 0.4]


def test_reference_cdf_interpolates_and_jumps_where_percentiles_repeat() -> None:
    x = np.array([-1.0, 0.0, 12.5, 100.0, 101.0])
    assert drift.reference_cdf(UNIFORM, x).tolist() == pytest.approx([0, 0, 0.125, 1, 1])
    # A 0/1 field, half zeros: percentiles 0..50 are 0, 51..100 are 1.
    binary = [0.0] * 51 + [1.0] * 50
    got = drift.reference_cdf(binary, np.array([-0.5, 0.0, 0.5, 1.0]))
    assert got.tolist() == pytest.approx([0.0, 0.5, 0.505, 1.0])


def test_numeric_field_psi_ks_and_missing_by_hand() -> None:
    ref = reference()
    row = drift.compare(ref, {"level": [10, 20, 30, 40, None, float("nan")]}).rows[0]
    assert (row.field, row.kind, row.n) == ("level", "numeric", 4)
    assert row.missing_rate == pytest.approx(2 / 6)
    assert row.missing_rate_reference == 0.0
    # Bins [<25, 25-50, 50-75, >=75] hold 2, 2, 0, 0 of the 4 present values.
    expected_psi = 2 * (0.5 - 0.25) * math.log(2) + 2 * (1e-4 - 0.25) * math.log(1e-4 / 0.25)
    assert row.psi == pytest.approx(expected_psi, abs=1e-9)
    # F_cur reaches 1 at 40 where the uniform reference is at 0.4: D = 0.6.
    assert row.statistic == pytest.approx(0.6)
    n_eff = 100 * 4 / 104
    assert row.p_value == pytest.approx(_kolmogorov_sf(math.sqrt(n_eff) * 0.6), rel=1e-9)
    assert row.p_value == pytest.approx(0.12537, abs=1e-4)
    assert row.unseen == {}


def test_ks_with_repeated_values_steps_once_per_value() -> None:
    level = reference().fields["level"]
    d, _ = drift.ks(level, np.array([50.0] * 4))  # type: ignore[arg-type]
    assert d == pytest.approx(0.5)  # at 50: 1 - 0.5 (just below it: 0 against 0.49)
    d, _ = drift.ks(level, np.array([10.0, 10.0, 20.0, 40.0]))  # type: ignore[arg-type]
    assert d == pytest.approx(0.6)


def test_ks_agrees_with_the_two_sample_test_on_continuous_data() -> None:
    rng = np.random.default_rng(4)
    training = rng.normal(size=20_000)
    ref = Reference.model_validate(
        {
            "format": 1,
            "rows": 20_000,
            "computed_on": "training split",
            "fields": {
                "x": {
                    "kind": "numeric",
                    "count": 20_000,
                    "missing_rate": 0.0,
                    "edges": np.quantile(training, np.arange(1, 10) / 10).tolist(),
                    "frequencies": [0.1] * 10,
                    "quantiles": np.quantile(training, np.linspace(0, 1, 101)).tolist(),
                }
            },
        }
    )
    current = rng.normal(0.3, 1.0, size=1_000)
    d, p = drift.ks(ref.fields["x"], current)  # type: ignore[arg-type]
    exact = stats.ks_2samp(training, current)
    assert d == pytest.approx(exact.statistic, abs=0.01)
    assert p < 1e-10 and exact.pvalue < 1e-10


def test_ks_of_a_sample_like_the_reference_is_small() -> None:
    values = np.linspace(0.5, 99.5, 100)
    d, p = drift.ks(reference().fields["level"], values)  # type: ignore[arg-type]
    assert d == pytest.approx(0.005, abs=1e-9)
    assert p > 0.99


def test_categorical_field_psi_and_chi_square_by_hand() -> None:
    values = ["A"] * 40 + ["B"] * 40 + ["C"] * 20
    row = drift.compare(reference(), {"plan": values}).rows[0]
    assert (row.kind, row.n, row.missing_rate, row.missing_rate_reference) == (
        "categorical",
        100,
        0.0,
        0.1,
    )
    assert row.psi == pytest.approx(-0.1 * math.log(0.8) + 0.1 * math.log(4 / 3), abs=1e-9)
    # Training 50/30/20 (of 100 rows) against 40/40/20: pooled 45/35/20 expected in each row,
    # chi2 = 2 * (25/45 + 25/35 + 0); with 2 degrees of freedom p = exp(-chi2/2).
    chi2 = 2 * (25 / 45 + 25 / 35)
    assert row.statistic == pytest.approx(chi2)
    assert row.p_value == pytest.approx(math.exp(-chi2 / 2))


@pytest.mark.parametrize("seed", range(5))
def test_chi_square_agrees_with_scipys_contingency_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    frequencies = rng.dirichlet(np.ones(k))
    ref = CategoricalReference(
        count=5000,
        missing_rate=0.0,
        categories=[f"c{i}" for i in range(k)],
        frequencies=[float(f) for f in frequencies],
    )
    counts = rng.multinomial(3000, rng.dirichlet(np.ones(k))).astype(np.float64)
    statistic, p_value = drift.chi_square(ref, counts)
    table = np.vstack([np.round(frequencies * 5000), counts])
    expected = stats.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_unseen_categories_are_counted_not_crashed_on() -> None:
    values = ["A", "A", None, "Z", np.str_("Z"), "B", float("nan")]
    row = drift.compare(reference(), {"plan": values}).rows[0]
    assert row.unseen == {"Z": 2}
    assert (row.n, row.missing_rate) == (5, pytest.approx(2 / 7))
    # Shares A, B, C, unseen: reference 0.5, 0.3, 0.2, 0; current 0.4, 0.2, 0, 0.4 (clipped).
    e, a = [0.5, 0.3, 0.2, 1e-4], [0.4, 0.2, 1e-4, 0.4]
    assert row.psi == pytest.approx(
        sum((y - x) * math.log(y / x) for x, y in zip(e, a, strict=True))
    )
    # Chi-square over the categories only (unseen and missing left out): 50/30/20 against 2/1/0.
    chi2 = _pearson([[50, 30, 20], [2, 1, 0]])
    assert chi2 == pytest.approx(0.771009, abs=1e-6)  # by hand, N = 103
    assert row.statistic == pytest.approx(chi2)
    assert row.p_value == pytest.approx(math.exp(-chi2 / 2))
    assert row.status == "drift"


def test_a_category_the_training_split_never_held_is_unseen() -> None:
    fields = reference().model_dump()["fields"]
    fields["plan"]["frequencies"] = [0.5, 0.5, 0.0]
    row = drift.compare(reference(fields=fields), {"plan": ["A", "B", "C", "C"]}).rows[0]
    assert row.unseen == {"C": 2}
    # Chi-square over A and B only: 50/50 against 1/1 is no difference at all.
    assert (row.statistic, row.p_value) == (pytest.approx(0.0), pytest.approx(1.0))
    assert row.psi == pytest.approx((0.5 - 1e-4) * math.log(0.5 / 1e-4) + 2 * 0.25 * math.log(2))


def test_integer_categories_match_ints_and_integral_floats_only() -> None:
    values = [0, 0.0, np.int64(1), np.float32(1.0), "1", 2]
    row = drift.compare(reference(), {"senior": values}).rows[0]
    assert row.unseen == {"1": 1, "2": 1}
    assert row.n == 6


def test_coded_categories_give_the_same_answer_as_values() -> None:
    by_value = drift.compare(reference(), {"plan": ["A", "A", None, "Z", "B"]}).rows[0]
    by_code = drift.compare(reference(), {"plan": np.array([0, 0, -1, -2, 1])}, coded=True).rows[0]
    assert by_code.psi == pytest.approx(by_value.psi)
    assert by_code.p_value == pytest.approx(by_value.p_value)
    assert by_code.missing_rate == by_value.missing_rate
    assert by_code.unseen == {drift.OTHER_KEY: 1}


def test_score_psi_and_the_report() -> None:
    scores = np.array([0.1, 0.2, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
    report = drift.compare(
        reference(), {"level": [10.0] * 8, "plan": ["A"] * 8, "ignored": [1] * 8}, scores
    )
    assert report.n == 8
    assert [r.field for r in report.rows] == ["level", "plan"]  # in the reference's order
    assert report.score_frequencies == [0.25, 0.75]
    assert report.score_psi == pytest.approx(drift.psi([0.5, 0.5], [0.25, 0.75]))
    assert report.score_status == "drift"
    assert report.drifted() == ["level", "plan"]  # most drifted first: PSI 6.9 and 4.3
    payload = report.as_dict()
    assert payload["fields"][0]["status"] == "drift" and payload["n"] == 8


def test_nothing_to_compare_gives_no_statistics() -> None:
    report = drift.compare(reference(), {"level": [None, None], "plan": [None, None]})
    assert [(r.psi, r.statistic, r.p_value, r.missing_rate) for r in report.rows] == [
        (None, None, None, 1.0),
        (None, None, None, 1.0),
    ]
    empty = drift.compare(reference(), {"level": []}, np.array([]))
    assert (empty.n, empty.rows[0].missing_rate, empty.score_psi) == (0, None, None)


def test_bad_columns_are_named() -> None:
    with pytest.raises(ValueError, match="field level holds values that are not numbers"):
        drift.compare(reference(), {"level": ["ten"]})
    with pytest.raises(ValueError, match="different lengths"):
        drift.compare(reference(), {"level": [1.0], "plan": ["A", "B"]})


def test_status_thresholds() -> None:
    assert [drift.field_status(p) for p in (None, 0.05, 0.1, 0.15, 0.2, 0.25)] == [
        "ok",
        "ok",
        "ok",
        "watch",
        "watch",
        "drift",
    ]
