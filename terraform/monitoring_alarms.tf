# The model's alarms on AWS: the meanings of the Prometheus rules (docker/monitoring/alerts.yml,
# docs/monitoring.md "Alerts") on the custom metrics churn-score publishes into
# var.monitoring_namespace (CLOUDWATCH_NAMESPACE, scoring.tf) and on the API's request log.
# A drift or performance alarm going into ALARM starts the trainer task: it retrains and goes
# through the same promotion gate as every training (never a promotion that skips it).
#
# The scorer publishes once per run (weekly): the alarms look at one day and keep their state
# between runs (treat_missing_data = "ignore"), so a drift that persists starts one retraining,
# not one a day, and a run without drift puts the alarm back to OK.

locals {
  monitoring_alarm = {
    period             = 86400
    evaluation_periods = 1
  }
  # The alarms whose ALARM state starts a retraining.
  retrain_alarm_arns = [
    aws_cloudwatch_metric_alarm.feature_drift.arn,
    aws_cloudwatch_metric_alarm.score_drift.arn,
    aws_cloudwatch_metric_alarm.realized_performance_drop.arn,
  ]
  # churn-train's arguments for a retraining (the trainer image's entrypoint is churn-train). An
  # alarm carries no MLflow run id: `latest` tags the gate's decision on the newest monitoring
  # run, the report the alarm saw.
  retrain_command = concat(
    ["--monitoring-run-id", "latest"],
    var.retrain_data_source == "" ? [] : ["--data", var.retrain_data_source],
  )
}

resource "aws_cloudwatch_metric_alarm" "feature_drift" {
  alarm_name          = "${var.project}-feature-drift"
  alarm_description   = "A field's PSI against the training reference above ${var.drift_psi_threshold} in the last churn-score run (FeatureDrift; starts a retraining)"
  namespace           = var.monitoring_namespace
  metric_name         = "MaxFeaturePSI"
  statistic           = "Maximum"
  period              = local.monitoring_alarm.period
  evaluation_periods  = local.monitoring_alarm.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.drift_psi_threshold
  treat_missing_data  = "ignore"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "score_drift" {
  alarm_name          = "${var.project}-score-drift"
  alarm_description   = "The churn score's PSI against its training distribution above ${var.score_psi_threshold} in the last churn-score run (ScoreDrift; starts a retraining)"
  namespace           = var.monitoring_namespace
  metric_name         = "ScorePSI"
  statistic           = "Maximum"
  period              = local.monitoring_alarm.period
  evaluation_periods  = local.monitoring_alarm.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.score_psi_threshold
  treat_missing_data  = "ignore"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# Holdout and realized ROC-AUC are published together by each run: their difference in a period.
resource "aws_cloudwatch_metric_alarm" "realized_performance_drop" {
  alarm_name          = "${var.project}-realized-performance-drop"
  alarm_description   = "Realized ROC-AUC (scores against later outcomes) more than ${var.realized_auc_drop} below the training holdout (RealizedPerformanceDrop; starts a retraining)"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.realized_auc_drop
  evaluation_periods  = local.monitoring_alarm.evaluation_periods
  treat_missing_data  = "ignore"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id = "holdout"
    metric {
      namespace   = var.monitoring_namespace
      metric_name = "HoldoutROCAUC"
      period      = local.monitoring_alarm.period
      stat        = "Maximum"
    }
  }

  metric_query {
    id = "realized"
    metric {
      namespace   = var.monitoring_namespace
      metric_name = "RealizedROCAUC"
      period      = local.monitoring_alarm.period
      stat        = "Minimum"
    }
  }

  metric_query {
    id          = "drop"
    label       = "Holdout minus realized ROC-AUC"
    expression  = "holdout - realized"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "model_stale" {
  alarm_name          = "${var.project}-model-stale"
  alarm_description   = "The champion churn-score used was trained more than ${var.model_max_age_days} days ago (ModelStale)"
  namespace           = var.monitoring_namespace
  metric_name         = "ModelAgeDays"
  statistic           = "Maximum"
  period              = local.monitoring_alarm.period
  evaluation_periods  = local.monitoring_alarm.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.model_max_age_days
  treat_missing_data  = "ignore"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# ModelNotReady: the API answers /predict with 503 because it holds no verified model. Counted
# from its one JSON line per request (middleware.py) in its log group.
resource "aws_cloudwatch_log_metric_filter" "api_model_unavailable" {
  name           = "${var.project}-api-model-unavailable"
  log_group_name = module.api.log_group_name
  pattern        = "{ ($.event = \"request\") && ($.status = 503) && (($.route = \"/predict\") || ($.route = \"/predict/batch\")) }"

  metric_transformation {
    name          = "ModelUnavailableResponses"
    namespace     = var.monitoring_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "model_not_ready" {
  alarm_name          = "${var.project}-model-not-ready"
  alarm_description   = "The API answered predictions with 503 (no verified model loaded) for 5 minutes (ModelNotReady)"
  namespace           = var.monitoring_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.api_model_unavailable.metric_transformation[0].name
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching" # no traffic: the running-tasks alarm watches the API
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# --- Retraining on a drift or performance alarm --------------------------------------------------
resource "aws_cloudwatch_event_rule" "retrain_on_alarm" {
  count       = var.retrain_on_alarm ? 1 : 0
  name        = "${var.project}-retrain-on-alarm"
  description = "A drift or realized-performance alarm went into ALARM: retrain (through the promotion gate)"
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    resources     = local.retrain_alarm_arns
    detail = {
      state = { value = ["ALARM"] }
    }
  })
}

resource "aws_iam_role" "trainer_retrain" {
  count              = var.retrain_on_alarm ? 1 : 0
  name_prefix        = "${var.project}-trainer-retrain-"
  assume_role_policy = data.aws_iam_policy_document.assume_events.json
}

# The schedule's policy (trainer.tf): run the trainer family on this cluster, pass its roles.
resource "aws_iam_role_policy" "trainer_retrain" {
  count  = var.retrain_on_alarm ? 1 : 0
  role   = aws_iam_role.trainer_retrain[0].id
  policy = data.aws_iam_policy_document.trainer_schedule.json
}

resource "aws_cloudwatch_event_target" "retrain_on_alarm" {
  count     = var.retrain_on_alarm ? 1 : 0
  rule      = aws_cloudwatch_event_rule.retrain_on_alarm[0].name
  target_id = "trainer"
  arn       = aws_ecs_cluster.this.arn
  role_arn  = aws_iam_role.trainer_retrain[0].arn

  ecs_target {
    task_definition_arn = module.trainer.task_definition_arn_without_revision
    task_count          = 1
    launch_type         = "FARGATE"
    platform_version    = "LATEST"
    propagate_tags      = "TASK_DEFINITION"

    network_configuration {
      subnets          = local.private_subnet_ids
      security_groups  = [aws_security_group.trainer.id]
      assign_public_ip = false
    }
  }

  # The task says which alarm asked for it (RETRAIN_ALARM) and trains on var.retrain_data_source.
  input_transformer {
    input_paths = {
      alarm = "$.detail.alarmName"
    }
    # The alarm's name is inserted as a JSON string where the placeholder stands (unquoted).
    input_template = replace(jsonencode({
      containerOverrides = [merge(
        {
          name        = "trainer"
          environment = [{ name = "RETRAIN_ALARM", value = "ALARM_NAME" }]
        },
        length(local.retrain_command) > 0 ? { command = local.retrain_command } : {},
      )]
    }), "\"ALARM_NAME\"", "<alarm>")
  }

  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 3600
  }
}
