"""churn_api.drift: every statistic against values computed by hand on small frames."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from churn_api import drift
from churn_api.reference import Reference

UNIFORM = [float(q) for q in range(101)]  # percentiles of a uniform 0..100


def _kolmogorov_sf(y: float) -> float:
    """The asymptotic Kolmogorov tail, by its series (independent of scipy)."""
    return 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * y * y) for k in range(1, 50))


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
    # Expected 50/30/20: chi2 = 100/50 + 100/30 + 0; with 2 degrees of freedom p = exp(-chi2/2).
    assert row.statistic == pytest.approx(2 + 10 / 3)
    assert row.p_value == pytest.approx(math.exp(-(2 + 10 / 3) / 2))


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
    # Chi-square over the seen categories only: observed 2, 1, 0 against 1.5, 0.9, 0.6.
    chi2 = 0.25 / 1.5 + 0.01 / 0.9 + 0.36 / 0.6
    assert row.statistic == pytest.approx(chi2)
    assert row.p_value == pytest.approx(math.exp(-chi2 / 2))
    assert row.status == "drift"


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
