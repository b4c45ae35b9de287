# Generated secrets, stored in Secrets Manager and injected by ECS as container secrets; they
# never appear in task definitions. They are in the Terraform state too: keep the state
# encrypted and access-controlled (README.md).

resource "random_password" "jwt" {
  length  = 48
  special = false # 48 alphanumerics = 285 bits; avoids quoting issues in shells and URIs.
}

resource "aws_secretsmanager_secret" "jwt" {
  name_prefix             = "${var.project}/jwt-secret-"
  description             = "HS256 signing key of the churn API tokens"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "jwt" {
  secret_id     = aws_secretsmanager_secret.jwt.id
  secret_string = random_password.jwt.result
}

resource "random_password" "db" {
  count   = local.create_mlflow ? 1 : 0
  length  = 32
  special = false # It is embedded in the postgresql:// URI without URL-encoding.
}

resource "aws_secretsmanager_secret" "db" {
  count                   = local.create_mlflow ? 1 : 0
  name_prefix             = "${var.project}/mlflow-db-password-"
  description             = "Password of the MLflow PostgreSQL user"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "db" {
  count         = local.create_mlflow ? 1 : 0
  secret_id     = aws_secretsmanager_secret.db[0].id
  secret_string = random_password.db[0].result
}
