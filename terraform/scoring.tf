# The scorer: `churn-score run` as a one-shot Fargate task, started by EventBridge Scheduler
# after the weekly training (and on demand: output run_scorer_command). It reads the customer
# snapshot the data platform writes under s3://<snapshot bucket>/<customer_snapshot_prefix>,
# scores it with the champion (verified like the API does: signature and golden examples) and
# writes the scores to the customer store as churn_writer (store.tf). With var.dask_workers > 0
# it sends the partitions to the Dask cluster (dask.tf) and only reads and writes itself.

# --- Snapshot bucket ---------------------------------------------------------------------------
# Private, versioned, KMS-encrypted (aws/s3), TLS-only. The data platform writes the snapshot;
# the scorer's role may read the snapshot prefix only.
resource "aws_s3_bucket" "snapshots" {
  bucket_prefix = "${var.project}-customer-snapshots-"
}

resource "aws_s3_bucket_public_access_block" "snapshots" {
  bucket                  = aws_s3_bucket.snapshots.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id
  rule {
    apply_server_side_encryption_by_default {
      # The AWS-managed aws/s3 key, as for the artifacts: any role with S3 read on the object
      # can decrypt it through S3, so the prefix-scoped IAM below stays the only gate.
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id
  versioning_configuration {
    status = "Enabled"
  }
}

# Snapshots are personal data: replaced ones expire, they are not kept forever.
resource "aws_s3_bucket_lifecycle_configuration" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id

  rule {
    id     = "expire-replaced-snapshots"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.snapshots]
}

data "aws_iam_policy_document" "snapshots_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.snapshots.arn, "${aws_s3_bucket.snapshots.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id
  policy = data.aws_iam_policy_document.snapshots_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.snapshots]
}

locals {
  snapshot_uri = "s3://${aws_s3_bucket.snapshots.bucket}/${var.customer_snapshot_prefix}"

  # With a cluster the scorer hands partitions to its scheduler (Cloud Map name, dask.tf).
  scorer_scheduler_args = var.dask_workers > 0 ? " --scheduler ${local.dask_scheduler_address}" : ""

  # Migrate first (a no-op at head; the API never migrates), then score the snapshot.
  scorer_command = join(" ", [
    "set -eu; churn-score migrate;",
    "exec churn-score run --customers \"$CUSTOMER_SNAPSHOT_URI\" --no-progress${local.scorer_scheduler_args}",
  ])
}

# --- Task ----------------------------------------------------------------------------------------
module "scorer" {
  source = "./modules/ecs-service"

  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  name               = "scorer"
  family             = "${var.project}-scorer"
  create_service     = false
  cluster_arn        = aws_ecs_cluster.this.arn
  cluster_name       = aws_ecs_cluster.this.name
  aws_region         = var.aws_region
  image              = local.images.scorer
  cpu                = var.scorer_cpu
  memory             = var.scorer_memory
  task_role_arn      = aws_iam_role.scorer_task.arn
  user               = local.image_user
  writable_paths     = local.writable_paths.scorer

  entry_point = ["/bin/sh", "-c"]
  command     = [local.scorer_command]
  environment = {
    CUSTOMER_SNAPSHOT_URI = local.snapshot_uri
    AWS_DEFAULT_REGION    = var.aws_region # pyarrow's S3 client
    MLFLOW_TRACKING_URI   = local.mlflow_tracking_uri
    MODEL_NAME            = var.model_name
    MODEL_ALIAS           = var.model_alias
    MODEL_CACHE_DIR       = "${local.api_model_cache_root}/models"
    # The same trust as the API: only bundles the trainer's KMS key signed (signing.tf).
    MODEL_PUBLIC_KEYS = data.aws_kms_public_key.model_signing.public_key_pem
    # Drift, model age and realized performance for the alarms (monitoring_alarms.tf).
    CLOUDWATCH_NAMESPACE = var.monitoring_namespace
  }
  # DATABASE_URL as churn_writer (store.tf); MLflow's read-only identity, the API's: the scorer
  # loads the champion and never writes the registry.
  secrets = merge(
    local.store_writer_url_secret_arn == null ? {} : { DATABASE_URL = local.store_writer_url_secret_arn },
    local.mlflow_api_credentials,
  )
  stop_timeout       = 120 # Lets an interrupted run mark itself failed in the store.
  log_retention_days = var.log_retention_days
}

# The scorer's permissions: read the snapshot prefix, publish its monitoring metrics.
resource "aws_iam_role" "scorer_task" {
  name_prefix        = "${var.project}-scorer-task-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

data "aws_iam_policy_document" "scorer_task" {
  statement {
    sid       = "ReadSnapshot"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.snapshots.arn}/${var.customer_snapshot_prefix}*"]
  }

  # Listing shows key names only, in a bucket that holds nothing but snapshots. It is not
  # narrowed with an s3:prefix condition because pyarrow asks HeadObject for the folder's own
  # key first, and S3 answers a missing key with 404 (instead of 403) only to a caller who
  # may list the bucket, which an s3:prefix condition (absent from HeadObject) would refuse.
  statement {
    sid       = "ListSnapshotBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.snapshots.arn]
  }

  # PutMetricData has no resource ARN: the namespace condition is what narrows it.
  statement {
    sid       = "PublishMonitoringMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.monitoring_namespace]
    }
  }
}

resource "aws_iam_role_policy" "scorer_task" {
  role   = aws_iam_role.scorer_task.id
  policy = data.aws_iam_policy_document.scorer_task.json
}

# --- Schedule --------------------------------------------------------------------------------
# EventBridge Scheduler (not a CloudWatch Events rule): time zone aware, with its own retry
# policy. Default Monday 06:00 UTC, three hours after the weekly training (Monday 03:00).
locals {
  scorer_scheduled = var.scorer_schedule_expression != null && local.store_writer_url_secret_arn != null
}

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scorer_schedule" {
  count              = local.scorer_scheduled ? 1 : 0
  name_prefix        = "${var.project}-scorer-sched-"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
}

data "aws_iam_policy_document" "scorer_schedule" {
  statement {
    sid     = "RunScorer"
    actions = ["ecs:RunTask"]
    # Any revision of the scorer family (release.yml registers new ones), on this cluster only.
    resources = ["${module.scorer.task_definition_arn_without_revision}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }

  statement {
    sid       = "PassScorerRoles"
    actions   = ["iam:PassRole"]
    resources = [module.scorer.execution_role_arn, aws_iam_role.scorer_task.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "scorer_schedule" {
  count  = local.scorer_scheduled ? 1 : 0
  role   = aws_iam_role.scorer_schedule[0].id
  policy = data.aws_iam_policy_document.scorer_schedule.json
}

resource "aws_scheduler_schedule" "scorer" {
  #checkov:skip=CKV_AWS_297:the schedule holds no secret (a cluster ARN, a task family, subnet and group ids); AWS-owned key encryption is enough
  count       = local.scorer_scheduled ? 1 : 0
  name_prefix = "${var.project}-scorer-"
  description = "Score the customer base into the store after the weekly training"

  schedule_expression          = var.scorer_schedule_expression
  schedule_expression_timezone = "UTC"
  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.this.arn
    role_arn = aws_iam_role.scorer_schedule[0].arn

    ecs_parameters {
      # Without a revision: always the latest one release.yml registered.
      task_definition_arn = module.scorer.task_definition_arn_without_revision
      task_count          = 1
      launch_type         = "FARGATE"
      platform_version    = "LATEST"

      network_configuration {
        subnets          = local.private_subnet_ids
        security_groups  = [aws_security_group.scorer.id]
        assign_public_ip = false
      }
    }

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }
  }
}
