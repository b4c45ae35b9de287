# Optional: the role release.yml and train.yml assume through GitHub OIDC (no long-lived
# keys). Set github_repository = "owner/repo" to create it.

variable "github_repository" {
  description = "owner/repo allowed to deploy through GitHub OIDC; null creates no role."
  type        = string
  default     = null
}

variable "github_oidc_provider_arn" {
  description = "Existing token.actions.githubusercontent.com OIDC provider ARN (one per account); null creates it."
  type        = string
  default     = null
}

locals {
  github_deploy = var.github_repository != null
  ecs_services  = concat(["api", "ui", "dask-scheduler", "dask-worker"], local.create_mlflow ? ["mlflow"] : [])
  families = concat(
    [module.api.family, module.ui.family, module.trainer.family, module.scorer.family],
    [module.dask_scheduler.family, module.dask_workers.family],
    local.create_mlflow ? [module.mlflow[0].family] : [],
    local.create_store ? [module.store_bootstrap[0].family] : [],
  )
  passable_roles = concat(
    [
      module.api.execution_role_arn, module.ui.execution_role_arn, module.trainer.execution_role_arn,
      aws_iam_role.api_task.arn, aws_iam_role.ui_task.arn, aws_iam_role.trainer_task.arn,
      module.scorer.execution_role_arn, aws_iam_role.scorer_task.arn,
      module.dask_scheduler.execution_role_arn, module.dask_workers.execution_role_arn,
      aws_iam_role.dask_task.arn,
    ],
    local.create_mlflow ? [module.mlflow[0].execution_role_arn, aws_iam_role.mlflow_task[0].arn] : [],
    local.create_store ? [module.store_bootstrap[0].execution_role_arn, aws_iam_role.store_bootstrap_task[0].arn] : [],
  )
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = local.github_deploy && var.github_oidc_provider_arn == null ? 1 : 0
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "github_assume" {
  count = local.github_deploy ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [coalesce(var.github_oidc_provider_arn, try(aws_iam_openid_connect_provider.github[0].arn, null))]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    # Only the main branch, version tags and the "production" environment may deploy.
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:ref:refs/heads/main",
        "repo:${var.github_repository}:ref:refs/tags/v*",
        "repo:${var.github_repository}:environment:production",
      ]
    }
  }
}

resource "aws_iam_role" "github_deploy" {
  count              = local.github_deploy ? 1 : 0
  name_prefix        = "${var.project}-github-deploy-"
  assume_role_policy = data.aws_iam_policy_document.github_assume[0].json
}

data "aws_iam_policy_document" "github_deploy" {
  count = local.github_deploy ? 1 : 0

  # ecs:DescribeTaskDefinition and ecs:RegisterTaskDefinition do not support resource-level
  # permissions: the only "*" in this stack (tests/infra asserts that).
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "UpdateServices"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [for s in local.ecs_services : "arn:${data.aws_partition.current.partition}:ecs:${var.aws_region}:${data.aws_caller_identity.current.account_id}:service/${aws_ecs_cluster.this.name}/${s}"]
  }

  statement {
    sid       = "RunTrainer"
    actions   = ["ecs:RunTask"]
    resources = ["${module.trainer.task_definition_arn_without_revision}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }

  statement {
    sid       = "WatchTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = ["arn:${data.aws_partition.current.partition}:ecs:${var.aws_region}:${data.aws_caller_identity.current.account_id}:task/${aws_ecs_cluster.this.name}/*"]
  }

  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = local.passable_roles
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "github_deploy" {
  count  = local.github_deploy ? 1 : 0
  role   = aws_iam_role.github_deploy[0].id
  policy = data.aws_iam_policy_document.github_deploy[0].json
}
