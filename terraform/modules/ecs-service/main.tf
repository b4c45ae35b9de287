# One Fargate task definition with its log group and execution role, and optionally the
# ECS service running it (circuit breaker with rollback always on), its Service Connect /
# Cloud Map registration and its target-tracking auto scaling.

locals {
  port_mappings = var.port == null ? [] : [{
    name          = "http" # Service Connect refers to the port by this name.
    containerPort = var.port
    protocol      = "tcp"
    appProtocol   = "http"
  }]

  # Writable paths of a read-only container: one task volume (Fargate ephemeral storage, no
  # host path) per path, named after it. ECS starts such a volume as a copy of the image's
  # directory (content, owner, mode) only when the image declares the path as a VOLUME;
  # otherwise it is an empty root-owned directory the non-root user cannot write to. Each
  # Dockerfile therefore declares its writable paths (tests/infra/test_infra_ecs_hardening.py).
  writable_volumes = { for path in var.writable_paths : trim(replace(path, "/[^A-Za-z0-9]+/", "-"), "-") => path }

  # Service Connect adds an Envoy sidecar to the task; the app's hard limit leaves it room, so
  # an app over its limit is killed alone instead of starving the proxy.
  sidecar_memory     = var.service_connect == null ? 0 : 128
  memory_limit       = var.memory - local.sidecar_memory
  memory_reservation = floor(local.memory_limit / 2)

  container_base = {
    name         = var.name
    image        = var.image
    essential    = true
    portMappings = local.port_mappings
    environment  = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
    secrets      = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]
    stopTimeout  = var.stop_timeout

    memory                 = local.memory_limit       # hard limit: the container is killed above it
    memoryReservation      = local.memory_reservation # soft limit
    readonlyRootFilesystem = true
    mountPoints            = [for name, path in local.writable_volumes : { sourceVolume = name, containerPath = path, readOnly = false }]
    linuxParameters = {
      capabilities = {
        drop = ["ALL"]
      }
      # tini as PID 1: forwards SIGTERM to the app and reaps its children (gunicorn workers).
      initProcessEnabled = true
    }
    # No "no-new-privileges" here: dockerSecurityOptions is not supported on Fargate. The images
    # run as a non-root user (var.user) and every capability is dropped, so setuid binaries
    # gain nothing.

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.aws_region
        awslogs-stream-prefix = var.name
        mode                  = "non-blocking" # A slow CloudWatch never blocks stdout writes.
        max-buffer-size       = "8m"
      }
    }
  }

  container = merge(
    local.container_base,
    var.user == null ? {} : { user = var.user },
    var.entry_point == null ? {} : { entryPoint = var.entry_point },
    var.command == null ? {} : { command = var.command },
    var.container_health_check == null ? {} : {
      healthCheck = {
        command     = var.container_health_check.command
        interval    = var.container_health_check.interval
        timeout     = var.container_health_check.timeout
        retries     = var.container_health_check.retries
        startPeriod = var.container_health_check.start_period
      }
    },
  )

  uses_alternate_target_group = var.load_balancer == null ? false : var.load_balancer.alternate_target_group_arn != null
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.family}"
  retention_in_days = var.log_retention_days
}

# --- Execution role: what ECS itself needs to start the task (logs, secrets). ---------------
resource "aws_iam_role" "execution" {
  name_prefix        = "${substr(var.family, 0, 20)}-exec-"
  assume_role_policy = var.assume_role_policy
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = length(var.secrets) > 0 ? [1] : []
    content {
      sid     = "ReadOwnSecrets"
      actions = ["secretsmanager:GetSecretValue"]
      # valueFrom may select a JSON key ("<secret arn>:password::"); IAM wants the secret ARN.
      resources = distinct([for v in values(var.secrets) : join(":", slice(split(":", v), 0, min(7, length(split(":", v)))))])
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = var.task_role_arn
  container_definitions    = jsonencode([local.container])

  dynamic "volume" {
    for_each = local.writable_volumes
    content {
      name = volume.key # no host_path: Fargate task ephemeral storage, gone with the task
    }
  }

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

# --- Service ----------------------------------------------------------------------------------
resource "aws_ecs_service" "this" {
  count = var.create_service ? 1 : 0

  name                   = var.name
  cluster                = var.cluster_arn
  task_definition        = aws_ecs_task_definition.this.arn
  desired_count          = var.desired_count
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  # Only meaningful behind a load balancer; ECS rejects it otherwise.
  health_check_grace_period_seconds = var.load_balancer == null ? null : var.health_check_grace_period_seconds

  # Rolling: start new tasks before stopping old ones, never drop below the desired count.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_controller {
    type = "ECS"
  }

  # A deployment whose tasks keep failing to start or to pass health checks is stopped and
  # the service returns to the last completed deployment.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  deployment_configuration {
    strategy             = var.deployment_strategy
    bake_time_in_minutes = var.deployment_strategy == "ROLLING" ? null : tostring(var.bake_time_minutes)

    dynamic "canary_configuration" {
      for_each = var.deployment_strategy == "CANARY" ? [1] : []
      content {
        canary_percent              = var.canary_percent
        canary_bake_time_in_minutes = tostring(var.canary_bake_minutes)
      }
    }
  }

  dynamic "alarms" {
    for_each = length(var.rollback_alarm_names) > 0 ? [1] : []
    content {
      alarm_names = var.rollback_alarm_names
      enable      = true
      rollback    = true
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = var.load_balancer == null ? [] : [var.load_balancer]
    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = var.name
      container_port   = var.port

      dynamic "advanced_configuration" {
        for_each = local.uses_alternate_target_group ? [1] : []
        content {
          alternate_target_group_arn = load_balancer.value.alternate_target_group_arn
          production_listener_rule   = load_balancer.value.production_listener_rule_arn
          role_arn                   = load_balancer.value.infrastructure_role_arn
        }
      }
    }
  }

  dynamic "service_connect_configuration" {
    for_each = var.service_connect == null ? [] : [var.service_connect]
    content {
      enabled   = true
      namespace = service_connect_configuration.value.namespace_arn

      log_configuration {
        log_driver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = "service-connect"
        }
      }

      dynamic "service" {
        for_each = service_connect_configuration.value.discovery_name == null ? [] : [1]
        content {
          port_name      = "http"
          discovery_name = service_connect_configuration.value.discovery_name
          client_alias {
            port     = var.port
            dns_name = service_connect_configuration.value.discovery_name
          }
        }
      }
    }
  }

  dynamic "service_registries" {
    for_each = var.service_registry_arn == null ? [] : [var.service_registry_arn]
    content {
      registry_arn = service_registries.value
    }
  }

  lifecycle {
    # desired_count belongs to auto scaling; task_definition to release.yml, which registers
    # a revision per image and waits for the deployment (see terraform/README.md).
    ignore_changes = [desired_count, task_definition]
  }

  depends_on = [aws_iam_role_policy.execution]
}

# --- Auto scaling -----------------------------------------------------------------------------
resource "aws_appautoscaling_target" "this" {
  count = var.create_service && var.autoscaling != null ? 1 : 0

  service_namespace  = "ecs"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.this[0].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity
}

resource "aws_appautoscaling_policy" "cpu" {
  count = length(aws_appautoscaling_target.this)

  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = var.autoscaling.cpu_target_percent
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
    # Out fast, in slowly: a new task needs its start before it helps.
    scale_out_cooldown = var.autoscaling.scale_out_cooldown
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
  }
}

resource "aws_appautoscaling_policy" "requests" {
  count = length(aws_appautoscaling_target.this) > 0 && try(var.autoscaling.alb_resource_label, null) != null ? 1 : 0

  name               = "${var.name}-alb-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = var.autoscaling.requests_per_target
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = var.autoscaling.alb_resource_label
    }
    scale_out_cooldown = var.autoscaling.scale_out_cooldown
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
  }
}
