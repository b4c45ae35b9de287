# CloudWatch alarms. The API 5xx-rate and p99-latency alarms also roll back API deployments
# (the service's `alarms` block), for every strategy. During CANARY / BLUE_GREEN they cover
# both API target groups, so a bad canary trips them.

locals {
  api_target_groups = merge(
    { primary = aws_lb_target_group.api.arn_suffix },
    local.api_traffic_shifting ? { alternate = aws_lb_target_group.api_alternate[0].arn_suffix } : {},
  )

  running_task_minimum = merge(
    { api = var.api_min_count, ui = var.ui_desired_count },
    local.create_mlflow ? { mlflow = 1 } : {},
  )

  api_rollback_alarm_names = concat(
    [aws_cloudwatch_metric_alarm.api_5xx_rate.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.api_p99_latency : alarm.alarm_name],
  )
}

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${var.project}-api-5xx-rate"
  alarm_description   = "API 5xx responses above ${var.api_5xx_rate_threshold_percent}% of requests (rolls back API deployments)"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_threshold_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  dynamic "metric_query" {
    for_each = local.api_target_groups
    content {
      id = "errors_${metric_query.key}"
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = "HTTPCode_Target_5XX_Count"
        period      = 60
        stat        = "Sum"
        dimensions = {
          LoadBalancer = aws_lb.this.arn_suffix
          TargetGroup  = metric_query.value
        }
      }
    }
  }

  dynamic "metric_query" {
    for_each = local.api_target_groups
    content {
      id = "requests_${metric_query.key}"
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = "RequestCount"
        period      = 60
        stat        = "Sum"
        dimensions = {
          LoadBalancer = aws_lb.this.arn_suffix
          TargetGroup  = metric_query.value
        }
      }
    }
  }

  metric_query {
    id         = "errors"
    expression = join(" + ", [for k in keys(local.api_target_groups) : "FILL(errors_${k}, 0)"])
  }

  metric_query {
    id         = "requests"
    expression = join(" + ", [for k in keys(local.api_target_groups) : "FILL(requests_${k}, 0)"])
  }

  # Below 20 requests a minute a single error would be a 5 %+ "rate": not a signal.
  metric_query {
    id          = "rate"
    label       = "API 5xx rate (%)"
    expression  = "IF(requests >= 20, 100 * errors / requests, 0)"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "api_p99_latency" {
  for_each = local.api_target_groups

  alarm_name          = "${var.project}-api-p99-latency-${each.key}"
  alarm_description   = "API p99 response time above ${var.api_p99_latency_threshold_seconds}s (${each.key} target group; rolls back API deployments)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p99"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_p99_latency_threshold_seconds
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  dimensions = {
    LoadBalancer = aws_lb.this.arn_suffix
    TargetGroup  = each.value
  }
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  for_each = merge(
    { for k, v in local.api_target_groups : "api-${k}" => v },
    { ui = aws_lb_target_group.ui.arn_suffix },
  )

  alarm_name          = "${var.project}-${each.key}-unhealthy-hosts"
  alarm_description   = "Targets failing ALB health checks in ${each.key} for 3 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  dimensions = {
    LoadBalancer = aws_lb.this.arn_suffix
    TargetGroup  = each.value
  }
}

resource "aws_cloudwatch_metric_alarm" "running_tasks" {
  for_each = local.running_task_minimum

  alarm_name          = "${var.project}-${each.key}-running-tasks"
  alarm_description   = "Fewer than ${each.value} running ${each.key} tasks for 5 minutes"
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  statistic           = "Minimum"
  period              = 60
  comparison_operator = "LessThanThreshold"
  threshold           = each.value
  evaluation_periods  = 5
  treat_missing_data  = "breaching" # No data means the service is gone.
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  dimensions = {
    ClusterName = aws_ecs_cluster.this.name
    ServiceName = each.key
  }
}
