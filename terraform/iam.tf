# Task roles: what the application code may do. Execution roles (logs, own secrets) live in
# modules/ecs-service. Nothing here uses a wildcard action or a wildcard resource.

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "api_task" {
  name_prefix        = "${var.project}-api-task-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

resource "aws_iam_role" "ui_task" {
  name_prefix        = "${var.project}-ui-task-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

# The trainer talks to MLflow over HTTP only (artifacts are proxied by the server); its one
# permission is signing model bundles with its KMS key (signing.tf).
resource "aws_iam_role" "trainer_task" {
  name_prefix        = "${var.project}-trainer-task-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

resource "aws_iam_role" "mlflow_task" {
  count              = local.create_mlflow ? 1 : 0
  name_prefix        = "${var.project}-mlflow-task-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

# The API may only read the artifact bucket (it normally downloads through the MLflow proxy;
# this covers MLflow clients that resolve s3:// artifact URIs directly).
data "aws_iam_policy_document" "api_task" {
  count = local.create_mlflow ? 1 : 0

  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts[0].arn}/*"]
  }

  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts[0].arn]
  }
}

resource "aws_iam_role_policy" "api_task" {
  count  = local.create_mlflow ? 1 : 0
  role   = aws_iam_role.api_task.id
  policy = data.aws_iam_policy_document.api_task[0].json
}

data "aws_iam_policy_document" "mlflow_task" {
  count = local.create_mlflow ? 1 : 0

  statement {
    sid       = "ReadWriteArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.artifacts[0].arn}/*"]
  }

  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts[0].arn]
  }
}

resource "aws_iam_role_policy" "mlflow_task" {
  count  = local.create_mlflow ? 1 : 0
  role   = aws_iam_role.mlflow_task[0].id
  policy = data.aws_iam_policy_document.mlflow_task[0].json
}

# ECS infrastructure role: lets ECS re-weight the production listener rule and move targets
# between the API target groups during CANARY / BLUE_GREEN deployments.
data "aws_iam_policy_document" "assume_ecs" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ecs_load_balancers" {
  count              = local.api_traffic_shifting ? 1 : 0
  name_prefix        = "${var.project}-ecs-lb-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs.json
}

resource "aws_iam_role_policy_attachment" "ecs_load_balancers" {
  count      = local.api_traffic_shifting ? 1 : 0
  role       = aws_iam_role.ecs_load_balancers[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
}
