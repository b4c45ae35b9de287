"""Model monitoring on AWS (terraform/monitoring_alarms.tf): CloudWatch alarms with the Prometheus
rules' meanings on churn-score's custom metrics, and the EventBridge rule that starts the trainer
(through its promotion gate) when a drift or performance alarm fires."""

from __future__ import annotations

import json
from typing import Any

import yaml
from infra_hcl import ROOT, Module, ref

NAMESPACE = "TelcoChurn/Monitoring"


def _alarm(root: Module, name: str) -> dict[str, Any]:
    return root.resource("aws_cloudwatch_metric_alarm", name)


def _prometheus_thresholds() -> dict[str, str]:
    """alert name -> expressions, from docker/monitoring/alerts.yml."""
    rules = yaml.safe_load((ROOT / "docker" / "monitoring" / "alerts.yml").read_text())
    out: dict[str, str] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            out[rule["alert"]] = out.get(rule["alert"], "") + " " + rule["expr"]
    return out


def test_drift_alarms_watch_the_scorers_metrics_at_the_prometheus_thresholds(root: Module) -> None:
    assert root.default("monitoring_namespace") == NAMESPACE
    prometheus = _prometheus_thresholds()
    for name, metric, variable, threshold, alert in (
        ("feature_drift", "MaxFeaturePSI", "drift_psi_threshold", 0.2, "FeatureDrift"),
        ("score_drift", "ScorePSI", "score_psi_threshold", 0.1, "ScoreDrift"),
        ("model_stale", "ModelAgeDays", "model_max_age_days", 30, "ModelStale"),
    ):
        alarm = _alarm(root, name)
        assert alarm["namespace"] == "${var.monitoring_namespace}"
        assert alarm["metric_name"] == metric
        assert alarm["statistic"] == "Maximum"
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
        assert alarm["threshold"] == f"${{var.{variable}}}"
        assert root.default(variable) == threshold
        assert f"> {threshold}" in prometheus[alert]  # the same meaning in both places
        # One run a week: the state holds between runs (one retraining per drift, not a day).
        assert alarm["treat_missing_data"] == "ignore"
        assert alarm["alarm_actions"] == "${var.alarm_actions}"


def test_realized_performance_alarm_compares_realized_with_holdout_in_one_period(
    root: Module,
) -> None:
    alarm = _alarm(root, "realized_performance_drop")
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert queries["holdout"]["metric"][0]["metric_name"] == "HoldoutROCAUC"
    assert queries["realized"]["metric"][0]["metric_name"] == "RealizedROCAUC"
    for key in ("holdout", "realized"):
        assert queries[key]["metric"][0]["namespace"] == "${var.monitoring_namespace}"
    assert queries["drop"]["expression"] == "holdout - realized"
    assert queries["drop"]["return_data"] is True
    assert [q["id"] for q in alarm["metric_query"] if q.get("return_data")] == ["drop"]
    assert alarm["comparison_operator"] == "GreaterThanThreshold"
    assert alarm["threshold"] == "${var.realized_auc_drop}"
    assert root.default("realized_auc_drop") == 0.05
    assert "churn_holdout_roc_auc) - 0.05" in _prometheus_thresholds()["RealizedPerformanceDrop"]


def test_model_not_ready_counts_the_apis_503_predictions_from_its_log(root: Module) -> None:
    metric_filter = root.resource("aws_cloudwatch_log_metric_filter", "api_model_unavailable")
    assert metric_filter["log_group_name"] == "${module.api.log_group_name}"
    pattern = metric_filter["pattern"]
    for part in ('$.event = \\"request\\"', "$.status = 503", '$.route = \\"/predict\\"'):
        assert part in pattern, pattern
    (transformation,) = metric_filter["metric_transformation"]
    assert transformation["namespace"] == "${var.monitoring_namespace}"
    alarm = _alarm(root, "model_not_ready")
    assert ref(alarm["metric_name"]) == (
        "aws_cloudwatch_log_metric_filter.api_model_unavailable.metric_transformation[0].name"
    )
    assert (alarm["statistic"], alarm["threshold"], alarm["evaluation_periods"]) == ("Sum", 0, 5)


def test_a_drift_or_performance_alarm_starts_the_trainer_task(root: Module) -> None:
    assert root.default("retrain_on_alarm") is True
    rule = root.resource("aws_cloudwatch_event_rule", "retrain_on_alarm")
    assert rule["count"] == "${var.retrain_on_alarm ? 1 : 0}"
    pattern = rule["event_pattern"]
    for part in (
        'source = ["aws.cloudwatch"]',
        '"detail-type" = ["CloudWatch Alarm State Change"]',
        "resources = local.retrain_alarm_arns",
        'detail = {state = {value = ["ALARM"]}}',
    ):
        assert part in pattern, pattern
    assert root.locals["retrain_alarm_arns"] == [
        "${aws_cloudwatch_metric_alarm.feature_drift.arn}",
        "${aws_cloudwatch_metric_alarm.score_drift.arn}",
        "${aws_cloudwatch_metric_alarm.realized_performance_drop.arn}",
    ]  # not ModelStale / ModelNotReady: retraining does not cure those

    target = root.resource("aws_cloudwatch_event_target", "retrain_on_alarm")
    assert ref(target["rule"]) == "aws_cloudwatch_event_rule.retrain_on_alarm[0].name"
    assert ref(target["arn"]) == "aws_ecs_cluster.this.arn"
    assert ref(target["role_arn"]) == "aws_iam_role.trainer_retrain[0].arn"
    (ecs,) = target["ecs_target"]
    assert ecs["task_definition_arn"] == "${module.trainer.task_definition_arn_without_revision}"
    assert (ecs["launch_type"], ecs["task_count"]) == ("FARGATE", 1)
    (network,) = ecs["network_configuration"]
    assert network["security_groups"] == ["${aws_security_group.trainer.id}"]
    assert network["assign_public_ip"] is False
    (transformer,) = target["input_transformer"]
    assert transformer["input_paths"] == {"alarm": "$.detail.alarmName"}
    template = transformer["input_template"]
    assert '"trainer"' in template and "RETRAIN_ALARM" in template and "<alarm>" in template
    # The retraining's arguments: the decision goes on the newest monitoring run (the alarm
    # carries no run id), --data of the latest labelled snapshot when one is set.
    command = root.locals["retrain_command"]
    assert '["--monitoring-run-id", "latest"]' in command
    assert '["--data", var.retrain_data_source]' in command
    assert root.modules["trainer"]["name"] == "trainer"  # the container the override names


def test_the_retrain_role_may_only_run_the_trainer(root: Module) -> None:
    role = root.resource("aws_iam_role", "trainer_retrain")
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.assume_events.json}"
    policy = root.resource("aws_iam_role_policy", "trainer_retrain")
    assert policy["policy"] == "${data.aws_iam_policy_document.trainer_schedule.json}"
    statements = {
        s["sid"]: s for s in root.data["aws_iam_policy_document"]["trainer_schedule"]["statement"]
    }
    assert statements["RunTrainer"]["actions"] == ["ecs:RunTask"]
    assert statements["RunTrainer"]["resources"] == [
        "${module.trainer.task_definition_arn_without_revision}:*"
    ]
    assert statements["PassTrainerRoles"]["actions"] == ["iam:PassRole"]


def test_the_scorer_publishes_into_the_namespace_and_nowhere_else(root: Module) -> None:
    environment = root.modules["scorer"]["environment"]
    assert environment["CLOUDWATCH_NAMESPACE"] == "${var.monitoring_namespace}"
    statements = {
        s["sid"]: s for s in root.data["aws_iam_policy_document"]["scorer_task"]["statement"]
    }
    publish = statements["PublishMonitoringMetrics"]
    assert publish["actions"] == ["cloudwatch:PutMetricData"]
    (condition,) = publish["condition"]
    assert condition == {
        "test": "StringEquals",
        "variable": "cloudwatch:namespace",
        "values": ["${var.monitoring_namespace}"],
    }
    # The API itself publishes nothing to CloudWatch (its gauges are Prometheus).
    assert "CLOUDWATCH_NAMESPACE" not in json.dumps(root.modules["api"])
