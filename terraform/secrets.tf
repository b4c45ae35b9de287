# Generated secrets, stored in Secrets Manager and injected by ECS as container secrets; they
# never appear in task definitions. They are in the Terraform state too: keep the state
# encrypted and access-controlled (README.md).

# The UI's token secret: HS256, trusted by the API for the `predict` scope only
# (JWT_PREDICT_SECRET / API_PREDICT_SECRET). `admin` tokens are ES256, signed by operators with
# keys Terraform never sees; the API gets their public halves (var.admin_token_public_keys).
resource "random_password" "jwt_predict" {
  length  = 48
  special = false # 48 alphanumerics = 285 bits; avoids quoting issues in shells and URIs.
}

resource "aws_secretsmanager_secret" "jwt_predict" {
  name_prefix             = "${var.project}/jwt-secret-"
  description             = "HS256 key of the UI's predict-only tokens for the churn API"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "jwt_predict" {
  secret_id     = aws_secretsmanager_secret.jwt_predict.id
  secret_string = random_password.jwt_predict.result
}

# The shared secret of before becomes the predict-only one: same value, no token is cut off.
moved {
  from = random_password.jwt
  to   = random_password.jwt_predict
}

moved {
  from = aws_secretsmanager_secret.jwt
  to   = aws_secretsmanager_secret.jwt_predict
}

moved {
  from = aws_secretsmanager_secret_version.jwt
  to   = aws_secretsmanager_secret_version.jwt_predict
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

# MLflow basic-auth identities (created with the MLflow server): the admin, the trainer
# (writes runs and registers models) and the API (reads the registered model only). Each is a
# JSON secret {"username", "password"}; ECS injects single keys ("<arn>:password::").
locals {
  mlflow_identities = local.create_mlflow ? {
    admin   = "Administrator of the MLflow server (creates the other users)"
    trainer = "Trainer: logs runs and registers models"
    api     = "API: reads registered models only"
  } : {}
}

resource "random_password" "mlflow" {
  for_each = local.mlflow_identities
  length   = 40
  special  = false # Sent in HTTP basic auth and env vars: no quoting surprises.
}

resource "aws_secretsmanager_secret" "mlflow" {
  for_each                = local.mlflow_identities
  name_prefix             = "${var.project}/mlflow-${each.key}-"
  description             = "MLflow identity. ${each.value}"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "mlflow" {
  for_each  = local.mlflow_identities
  secret_id = aws_secretsmanager_secret.mlflow[each.key].id
  secret_string = jsonencode({
    username = each.key
    password = random_password.mlflow[each.key].result
  })
}

locals {
  # The secrets the trainer and the API authenticate to MLflow with: created here, or given
  # for an external tracking server (null: no credentials are sent).
  mlflow_trainer_secret_arn = local.create_mlflow ? aws_secretsmanager_secret.mlflow["trainer"].arn : var.external_mlflow_trainer_secret_arn
  mlflow_api_secret_arn     = local.create_mlflow ? aws_secretsmanager_secret.mlflow["api"].arn : var.external_mlflow_api_secret_arn

  mlflow_trainer_credentials = local.mlflow_trainer_secret_arn == null ? {} : {
    MLFLOW_TRACKING_USERNAME = "${local.mlflow_trainer_secret_arn}:username::"
    MLFLOW_TRACKING_PASSWORD = "${local.mlflow_trainer_secret_arn}:password::"
  }
  mlflow_api_credentials = local.mlflow_api_secret_arn == null ? {} : {
    MLFLOW_TRACKING_USERNAME = "${local.mlflow_api_secret_arn}:username::"
    MLFLOW_TRACKING_PASSWORD = "${local.mlflow_api_secret_arn}:password::"
  }
}
