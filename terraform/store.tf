# The customer store: a second database, churn_store, on the MLflow RDS instance (mlflow.tf).
#
# Why the same instance: one PostgreSQL to run, patch, monitor and back up (its automated
# backups, Multi-AZ and deletion protection cover both), and the store is small next to what an
# instance costs (1M customers with their history fit in a few GB; a db.t4g.micro idles most of
# the week). Why a separate database and roles: MLflow and the store cannot read each other.
# The store's roles (churn_writer for the scorer, churn_reader for the API) can connect to
# churn_store only (MLflow's database is closed to PUBLIC), and the API's role is read-only
# (SELECT grants, read-only transactions). Split the store onto its own instance when its load
# or its backup window starts to matter to MLflow: only the URL secrets below change.
#
# Roles and database are created by the store-bootstrap task (docker/postgres image,
# `postgres-entrypoint bootstrap`, the same init.sql as compose) with the master credentials:
# Terraform cannot reach a private RDS instance itself. Run it once after the first apply and
# after rotating a store password (output run_store_bootstrap_command); it is idempotent. The
# scorer then migrates the schema (`churn-score migrate`) before every run.

locals {
  create_store = local.create_mlflow

  store_roles = local.create_store ? {
    writer = "churn_writer"
    reader = "churn_reader"
  } : {}

  # The URLs the API and the scorer read from Secrets Manager as DATABASE_URL: created here,
  # given for an external database, or null (no store: the customer routes answer 503).
  store_reader_url_secret_arn = local.create_store ? aws_secretsmanager_secret.store_url["reader"].arn : var.external_store_reader_url_secret_arn
  store_writer_url_secret_arn = local.create_store ? aws_secretsmanager_secret.store_url["writer"].arn : var.external_store_writer_url_secret_arn
}

resource "random_password" "store" {
  for_each = local.store_roles
  length   = 40
  special  = false # Embedded in a postgresql:// URL without URL-encoding.
}

# Each role's password alone (for the bootstrap task, which sets it) ...
resource "aws_secretsmanager_secret" "store_password" {
  for_each                = local.store_roles
  name_prefix             = "${var.project}/store-${each.key}-password-"
  description             = "Password of the customer store's ${each.value} role"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "store_password" {
  for_each      = local.store_roles
  secret_id     = aws_secretsmanager_secret.store_password[each.key].id
  secret_string = random_password.store[each.key].result
}

# ... and its whole DATABASE_URL (for the API and the scorer). TLS is required: the instance's
# parameter group sets rds.force_ssl.
resource "aws_secretsmanager_secret" "store_url" {
  for_each                = local.store_roles
  name_prefix             = "${var.project}/store-${each.key}-url-"
  description             = "DATABASE_URL of the customer store as ${each.value}"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "store_url" {
  for_each      = local.store_roles
  secret_id     = aws_secretsmanager_secret.store_url[each.key].id
  secret_string = "postgresql://${each.value}:${random_password.store[each.key].result}@${aws_db_instance.mlflow[0].endpoint}/churn_store?sslmode=require"
}

# --- Bootstrap task: roles, database and grants (docker/postgres/init.sql) ---------------------
module "store_bootstrap" {
  source = "./modules/ecs-service"
  count  = local.create_store ? 1 : 0

  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  name               = "store-bootstrap"
  family             = "${var.project}-store-bootstrap"
  create_service     = false
  cluster_arn        = aws_ecs_cluster.this.arn
  cluster_name       = aws_ecs_cluster.this.name
  aws_region         = var.aws_region
  image              = local.images.postgres
  cpu                = 256
  memory             = 512
  task_role_arn      = aws_iam_role.store_bootstrap_task[0].arn
  user               = local.image_user
  writable_paths     = local.writable_paths.store_bootstrap

  command = ["bootstrap"]
  environment = {
    PGHOST     = aws_db_instance.mlflow[0].address
    PGPORT     = tostring(aws_db_instance.mlflow[0].port)
    PGUSER     = aws_db_instance.mlflow[0].username
    PGDATABASE = "postgres"
    PGSSLMODE  = "require"
  }
  secrets = {
    PGPASSWORD            = aws_secretsmanager_secret.db[0].arn # the instance's master password
    STORE_WRITER_PASSWORD = aws_secretsmanager_secret.store_password["writer"].arn
    STORE_READER_PASSWORD = aws_secretsmanager_secret.store_password["reader"].arn
  }
  log_retention_days = var.log_retention_days

  depends_on = [aws_secretsmanager_secret_version.store_password]
}

# psql needs no AWS permission: an empty task role.
resource "aws_iam_role" "store_bootstrap_task" {
  count              = local.create_store ? 1 : 0
  name_prefix        = "${var.project}-store-boot-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}
