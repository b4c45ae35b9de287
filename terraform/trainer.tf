# The trainer is a one-shot task: run on demand (.github/workflows/train.yml, or the
# `run_trainer_command` output) and on an EventBridge schedule.

module "trainer" {
  source = "./modules/ecs-service"

  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  name               = "trainer"
  family             = "${var.project}-trainer"
  create_service     = false
  cluster_arn        = aws_ecs_cluster.this.arn
  cluster_name       = aws_ecs_cluster.this.name
  aws_region         = var.aws_region
  image              = local.images.trainer
  cpu                = var.trainer_cpu
  memory             = var.trainer_memory
  task_role_arn      = aws_iam_role.trainer_task.arn
  user               = local.image_user
  writable_paths     = local.writable_paths.trainer

  environment = merge(
    {
      MLFLOW_TRACKING_URI      = local.mlflow_tracking_uri
      MODEL_SIGNING_KMS_KEY_ID = aws_kms_key.model_signing.arn # signing.tf
      # The promotion lock's settle time must exceed a registry tag read-and-write; behind
      # MLflow's basic auth (a password hash per request, on 0.5 vCPU) that pair can take more
      # than the 2 s default: the lock would then settle longer in its next round, but starting
      # at 10 s spares that round.
      CHURN_PROMOTION_LOCK_SETTLE_SECONDS = "10"
    },
    var.trainer_data_source == "" ? {} : { DATA_SOURCE = var.trainer_data_source },
  )
  # MLFLOW_TRACKING_USERNAME/PASSWORD: the MLflow identity that may write (secrets.tf).
  secrets            = local.mlflow_trainer_credentials
  stop_timeout       = 120 # Lets an interrupted run be marked as failed in MLflow.
  log_retention_days = var.log_retention_days
}

resource "aws_cloudwatch_event_rule" "trainer" {
  count               = var.trainer_schedule_expression == null ? 0 : 1
  name                = "${var.project}-trainer"
  description         = "Retrain the churn model"
  schedule_expression = var.trainer_schedule_expression
}

data "aws_iam_policy_document" "assume_events" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "trainer_schedule" {
  count              = var.trainer_schedule_expression == null ? 0 : 1
  name_prefix        = "${var.project}-trainer-sched-"
  assume_role_policy = data.aws_iam_policy_document.assume_events.json
}

data "aws_iam_policy_document" "trainer_schedule" {
  statement {
    sid     = "RunTrainer"
    actions = ["ecs:RunTask"]
    # Any revision of the trainer family (release.yml registers new ones), on this cluster only.
    resources = ["${module.trainer.task_definition_arn_without_revision}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }

  statement {
    sid       = "PassTrainerRoles"
    actions   = ["iam:PassRole"]
    resources = [module.trainer.execution_role_arn, aws_iam_role.trainer_task.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "trainer_schedule" {
  count  = var.trainer_schedule_expression == null ? 0 : 1
  role   = aws_iam_role.trainer_schedule[0].id
  policy = data.aws_iam_policy_document.trainer_schedule.json
}

resource "aws_cloudwatch_event_target" "trainer" {
  count     = var.trainer_schedule_expression == null ? 0 : 1
  rule      = aws_cloudwatch_event_rule.trainer[0].name
  target_id = "trainer"
  arn       = aws_ecs_cluster.this.arn
  role_arn  = aws_iam_role.trainer_schedule[0].arn

  ecs_target {
    # Without a revision: always the latest one release.yml registered.
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

  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 3600
  }
}
