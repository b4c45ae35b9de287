"""churn_api.metrics: the score histogram."""

from __future__ import annotations

import numpy as np
import pytest

from churn_api.metrics import ScoreHistogram


def test_score_histogram_buckets_are_prometheus_cumulative() -> None:
    batch, single = ScoreHistogram(), ScoreHistogram()
    values = np.array([0.0, 0.1, 0.15, 0.5, 0.99, 1.0, 0.3])
    batch.observe(values)
    for v in values:
        single.observe_one(float(v))
    samples = {(s.name, s.labels.get("le")): s.value for s in next(iter(batch.collect())).samples}
    assert samples[("churn_api_churn_probability_bucket", "0.1")] == 2  # le is inclusive
    assert samples[("churn_api_churn_probability_bucket", "0.3")] == 4
    assert samples[("churn_api_churn_probability_bucket", "1")] == 7
    assert samples[("churn_api_churn_probability_bucket", "+Inf")] == 7
    assert samples[("churn_api_churn_probability_count", None)] == 7
    assert samples[("churn_api_churn_probability_sum", None)] == pytest.approx(values.sum())
    assert next(iter(single.collect())).samples == next(iter(batch.collect())).samples
