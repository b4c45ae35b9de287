"""churn_api.scoring.cloudwatch: the data points the CloudWatch alarms read, and publishing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from churn_api.drift import DriftReport, FieldDrift
from churn_api.scoring import cloudwatch

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def report(contract_psi: float | None = 0.31, score_psi: float | None = 0.12) -> DriftReport:
    rows = [
        FieldDrift("Contract", "categorical", 900, contract_psi, 40.0, 1e-6, 0.0, 0.0),
        FieldDrift("tenure", "numeric", 900, 0.02, 0.03, 0.5, 0.01, 0.0),
        FieldDrift("gender", "categorical", 0, None, None, None, None, 0.0),
    ]
    return DriftReport(rows, score_psi, None, 900)


def by_name(data: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    return {
        (d["MetricName"], ",".join(x["Value"] for x in d.get("Dimensions", []))): d["Value"]
        for d in data
    }


def test_a_run_publishes_what_the_alarms_read() -> None:
    data = cloudwatch.run_metrics(
        report(),
        "7",
        "2026-01-30T00:00:00+00:00",
        0.84,
        {"roc_auc": 0.77, "month": "all"},
        now=NOW,
    )
    got = by_name(data)
    assert got[("MaxFeaturePSI", "")] == 0.31
    assert got[("ScorePSI", "")] == 0.12
    assert got[("FeaturePSI", "Contract")] == 0.31 and got[("FeaturePSI", "tenure")] == 0.02
    assert ("FeaturePSI", "gender") not in got  # no PSI, no data point (never a 0)
    assert got[("ModelAgeDays", "")] == 30.0
    assert got[("HoldoutROCAUC", "")] == 0.84 and got[("RealizedROCAUC", "")] == 0.77
    assert got[("HoldoutROCAUC", "7")] == 0.84
    assert {d["Timestamp"] for d in data} == {NOW}  # one period for the alarm's math


def test_a_model_without_reference_or_outcomes_publishes_only_its_age_and_holdout() -> None:
    data = cloudwatch.run_metrics(None, "7", "not a date", 0.84, None, now=NOW)
    assert set(by_name(data)) == {("HoldoutROCAUC", ""), ("HoldoutROCAUC", "7")}
    nan_report = report(contract_psi=None, score_psi=float("nan"))
    names = {d["MetricName"] for d in cloudwatch.run_metrics(nan_report, "7", None, None)}
    assert "ScorePSI" not in names and "RealizedROCAUC" not in names


def test_outcomes_publish_each_versions_overall_metrics() -> None:
    rows = [
        {"model_version": "6", "month": "all", "roc_auc": 0.8, "pr_auc": 0.6, "brier": 0.14},
        {"model_version": "6", "month": "2026-01", "roc_auc": 0.7},
        {"model_version": "7", "month": "all", "roc_auc": None, "top_decile_precision": 0.5},
    ]
    got = by_name(cloudwatch.outcome_metrics(rows, now=NOW))
    assert got == {
        ("RealizedROCAUC", "6"): 0.8,
        ("RealizedPRAUC", "6"): 0.6,
        ("RealizedBrier", "6"): 0.14,
        ("RealizedTopDecilePrecision", "7"): 0.5,
    }


class FakeCloudWatch:
    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_after = fail_after

    def put_metric_data(self, **kwargs: Any) -> None:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("AccessDenied")
        self.calls.append(kwargs)


def test_publish_batches_into_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cloudwatch.NAMESPACE_ENV, "TelcoChurn/Monitoring")
    data = [{"MetricName": "FeaturePSI", "Value": 0.1}] * 2500
    client = FakeCloudWatch()
    result = cloudwatch.publish(data, client=client)
    assert result.as_dict() == {
        "namespace": "TelcoChurn/Monitoring",
        "published": 2500,
        "error": None,
    }
    assert [len(c["MetricData"]) for c in client.calls] == [1000, 1000, 500]
    assert {c["Namespace"] for c in client.calls} == {"TelcoChurn/Monitoring"}


def test_publish_is_off_without_a_namespace_and_never_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(cloudwatch.NAMESPACE_ENV, raising=False)
    client = FakeCloudWatch()
    assert cloudwatch.publish([{"MetricName": "x", "Value": 1}], client=client).count == 0
    assert client.calls == []
    failing = cloudwatch.publish([{"MetricName": "x", "Value": 1}] * 1500, "NS", FakeCloudWatch(1))
    assert failing.count == 1000 and failing.error == "RuntimeError: AccessDenied"


def test_without_boto3_nothing_is_published(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_boto3(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "boto3":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_boto3)
    result = cloudwatch.publish([{"MetricName": "x", "Value": 1}], "NS")
    assert result.count == 0 and "boto3 is not installed" in (result.error or "")


def test_a_run_publishes_the_served_versions_latest_realized_month(
    tmp_path: Any, tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from churn_api.store.engine import make_engine, migrate
    from churn_api.store.monitoring_writes import write_performance

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    base = {"model_name": "telco-churn", "n": 100, "positives": 20, "computed_at": at}
    write_performance(
        engine,
        [
            base | {"model_version": "tiny", "month": "2026-01", "roc_auc": 0.81},
            base | {"model_version": "tiny", "month": "2026-02", "roc_auc": 0.74},
            base | {"model_version": "tiny", "month": "all", "roc_auc": 0.79},
            base | {"model_version": "other", "month": "2026-02", "roc_auc": 0.5},
        ],
    )
    sent: list[list[dict[str, Any]]] = []

    def fake_publish(data: Any, namespace: str | None = None, client: Any = None) -> Any:
        sent.append(list(data))
        return cloudwatch.Published("NS", len(data))

    monkeypatch.setattr(cloudwatch, "publish", fake_publish)
    monkeypatch.delenv(cloudwatch.NAMESPACE_ENV, raising=False)
    assert cloudwatch.publish_run(engine, tiny_model, report()) is None  # off: nothing read
    assert cloudwatch.publish_outcomes([]) is None
    monkeypatch.setenv(cloudwatch.NAMESPACE_ENV, "NS")
    result = cloudwatch.publish_run(engine, tiny_model, report())
    got = by_name(sent[0])
    assert result == {"namespace": "NS", "published": len(sent[0]), "error": None}
    # The latest month with a ROC-AUC of the served version (what the Prometheus gauge shows).
    assert got[("RealizedROCAUC", "")] == 0.74
    assert got[("HoldoutROCAUC", "")] == tiny_model.contract.metrics["roc_auc"]
    assert got[("MaxFeaturePSI", "")] == 0.31
    engine.dispose()
