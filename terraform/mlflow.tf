# MLflow tracking server (created unless external_mlflow_tracking_uri is set): PostgreSQL on
# RDS as backend store, S3 as artifact store, the server proxying artifacts so clients only
# need the tracking URI. Reachable only inside the VPC, at http://mlflow.<project>.internal:5000.

# --- Artifact bucket ---------------------------------------------------------------------------
resource "aws_s3_bucket" "artifacts" {
  count         = local.create_mlflow ? 1 : 0
  bucket_prefix = "${var.project}-mlflow-artifacts-"
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  count                   = local.create_mlflow ? 1 : 0
  bucket                  = aws_s3_bucket.artifacts[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  count  = local.create_mlflow ? 1 : 0
  bucket = aws_s3_bucket.artifacts[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  count  = local.create_mlflow ? 1 : 0
  bucket = aws_s3_bucket.artifacts[0].id
  rule {
    apply_server_side_encryption_by_default {
      # The AWS-managed aws/s3 key: usable by any role with S3 access in the account, so no
      # extra KMS grants; the bucket key keeps KMS request charges negligible.
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

# Versioning protects models from accidental overwrite/deletion; old versions expire.
resource "aws_s3_bucket_versioning" "artifacts" {
  count  = local.create_mlflow ? 1 : 0
  bucket = aws_s3_bucket.artifacts[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  count  = local.create_mlflow ? 1 : 0
  bucket = aws_s3_bucket.artifacts[0].id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}

data "aws_iam_policy_document" "artifacts_bucket" {
  count = local.create_mlflow ? 1 : 0

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.artifacts[0].arn,
      "${aws_s3_bucket.artifacts[0].arn}/*",
    ]
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

resource "aws_s3_bucket_policy" "artifacts" {
  count  = local.create_mlflow ? 1 : 0
  bucket = aws_s3_bucket.artifacts[0].id
  policy = data.aws_iam_policy_document.artifacts_bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

# --- Backend store -----------------------------------------------------------------------------
resource "aws_db_subnet_group" "mlflow" {
  count       = local.create_mlflow ? 1 : 0
  name_prefix = "${var.project}-mlflow-"
  subnet_ids  = local.private_subnet_ids
}

resource "aws_db_parameter_group" "mlflow" {
  count       = local.create_mlflow ? 1 : 0
  name_prefix = "${var.project}-mlflow-pg16-"
  family      = "postgres16"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000" # Log statements slower than 1 s.
  }

  lifecycle { create_before_destroy = true }
}

# Created before the instance so its retention applies (RDS would create it without one).
resource "aws_cloudwatch_log_group" "db" {
  count             = local.create_mlflow ? 1 : 0
  name              = "/aws/rds/instance/${var.project}-mlflow/postgresql"
  retention_in_days = var.log_retention_days
}

resource "aws_db_instance" "mlflow" {
  count = local.create_mlflow ? 1 : 0

  identifier                   = "${var.project}-mlflow"
  engine                       = "postgres"
  engine_version               = "16"
  instance_class               = var.db_instance_class
  allocated_storage            = var.db_allocated_storage_gb
  max_allocated_storage        = var.db_allocated_storage_gb * 5
  storage_type                 = "gp3"
  storage_encrypted            = true
  db_name                      = "mlflow"
  username                     = "mlflow"
  password                     = random_password.db[0].result
  parameter_group_name         = aws_db_parameter_group.mlflow[0].name
  db_subnet_group_name         = aws_db_subnet_group.mlflow[0].name
  vpc_security_group_ids       = [aws_security_group.db[0].id]
  publicly_accessible          = false
  multi_az                     = var.db_multi_az
  backup_retention_period      = var.db_backup_retention_days
  copy_tags_to_snapshot        = true
  deletion_protection          = var.db_deletion_protection
  skip_final_snapshot          = false
  final_snapshot_identifier    = "${var.project}-mlflow-final"
  auto_minor_version_upgrade   = true
  performance_insights_enabled = true # 7 days of Performance Insights are free.

  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]

  depends_on = [aws_cloudwatch_log_group.db]
}

# --- Server ------------------------------------------------------------------------------------
resource "aws_service_discovery_service" "mlflow" {
  count = local.create_mlflow ? 1 : 0
  name  = "mlflow"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.internal.id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }
}

locals {
  # Gunicorn workers sized to the task: one per 0.5 vCPU (1 at the default 512 units, 2 at
  # 1 vCPU). Memory, measured with job execution off (PITFALLS.md: 4 workers = 7 processes,
  # 1.4 GB resident): about 0.3 GB base + 350 MB per worker, so 1 worker ~ 0.65 GB and
  # 2 workers ~ 1.0 GB; var.mlflow_memory's validation refuses less. With job execution on
  # (MLflow 3.17's default) the same server runs a job runner and seven huey consumers:
  # 15 processes and 2.9 GB, which a 1 GB task cannot hold.
  mlflow_workers = max(1, floor(var.mlflow_cpu / 512))

  # The image's entrypoint (docker/mlflow/entrypoint.py) starts `mlflow server` from the
  # MLFLOW_* environment below, after creating the basic-auth users from the MLFLOW_*_PASSWORD
  # secrets. The DB password comes from Secrets Manager as $DB_PASSWORD and is expanded only
  # inside the container. MLflow 3.5+ rejects Host headers it does not know, hence
  # MLFLOW_SERVER_ALLOWED_HOSTS. Job execution is switched off here as well as in the task
  # environment, so no entrypoint or image default can turn it back on.
  mlflow_server_command = local.create_mlflow ? join(" ", [
    "export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false",
    "MLFLOW_BACKEND_STORE_URI=\"postgresql://mlflow:$${DB_PASSWORD}@${aws_db_instance.mlflow[0].endpoint}/mlflow?sslmode=require\";",
    "exec mlflow-entrypoint --app-name basic-auth",
  ]) : null

  mlflow_environment = local.create_mlflow ? {
    AWS_DEFAULT_REGION                 = var.aws_region
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION = "false"
    MLFLOW_HOST                        = "0.0.0.0"
    MLFLOW_PORT                        = tostring(local.mlflow_port)
    MLFLOW_WORKERS                     = tostring(local.mlflow_workers)
    MLFLOW_ARTIFACTS_DESTINATION       = "s3://${aws_s3_bucket.artifacts[0].bucket}/artifacts"
    MLFLOW_SERVER_ALLOWED_HOSTS        = "${local.mlflow_host},${local.mlflow_host}:${local.mlflow_port},localhost,localhost:${local.mlflow_port}"
  } : {}

  # Basic auth: the admin, and the two users the entrypoint creates (trainer: write; api:
  # READ on the registered model). Names are documented in terraform/README.md.
  mlflow_secrets = local.create_mlflow ? {
    DB_PASSWORD                = aws_secretsmanager_secret.db[0].arn
    MLFLOW_AUTH_ADMIN_USERNAME = "${aws_secretsmanager_secret.mlflow["admin"].arn}:username::"
    MLFLOW_AUTH_ADMIN_PASSWORD = "${aws_secretsmanager_secret.mlflow["admin"].arn}:password::"
    MLFLOW_TRAINER_USERNAME    = "${aws_secretsmanager_secret.mlflow["trainer"].arn}:username::"
    MLFLOW_TRAINER_PASSWORD    = "${aws_secretsmanager_secret.mlflow["trainer"].arn}:password::"
    MLFLOW_API_USERNAME        = "${aws_secretsmanager_secret.mlflow["api"].arn}:username::"
    MLFLOW_API_PASSWORD        = "${aws_secretsmanager_secret.mlflow["api"].arn}:password::"
  } : {}
}

module "mlflow" {
  source = "./modules/ecs-service"
  count  = local.create_mlflow ? 1 : 0

  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  name               = "mlflow"
  family             = "${var.project}-mlflow"
  cluster_arn        = aws_ecs_cluster.this.arn
  cluster_name       = aws_ecs_cluster.this.name
  aws_region         = var.aws_region
  image              = local.images.mlflow
  cpu                = var.mlflow_cpu
  memory             = var.mlflow_memory
  port               = local.mlflow_port
  task_role_arn      = aws_iam_role.mlflow_task[0].arn
  user               = local.image_user
  writable_paths     = local.writable_paths.mlflow

  entry_point = ["/bin/sh", "-c"]
  command     = [local.mlflow_server_command]
  secrets     = local.mlflow_secrets
  environment = local.mlflow_environment
  container_health_check = {
    command  = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:${local.mlflow_port}/health', timeout=4)"]
    interval = 30
    timeout  = 5
    retries  = 3
    # Database migrations on first start: 8.8-12 s to /health on SQLite here (image_bench),
    # longer against a fresh RDS database.
    start_period = 60
  }
  log_retention_days = var.log_retention_days

  desired_count        = 1
  subnet_ids           = local.private_subnet_ids
  security_group_ids   = [aws_security_group.mlflow[0].id]
  service_registry_arn = aws_service_discovery_service.mlflow[0].arn

  depends_on = [aws_db_instance.mlflow, aws_s3_bucket_policy.artifacts, aws_secretsmanager_secret_version.mlflow]
}
