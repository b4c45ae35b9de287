# The two public services. Image tags are set here at creation; afterwards release.yml rolls
# new images (see the lifecycle note in modules/ecs-service).

module "api" {
  source = "./modules/ecs-service"

  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  name               = "api"
  family             = "${var.project}-api"
  cluster_arn        = aws_ecs_cluster.this.arn
  cluster_name       = aws_ecs_cluster.this.name
  aws_region         = var.aws_region
  image              = local.images.api
  cpu                = var.api_cpu
  memory             = var.api_memory
  port               = local.api_port
  task_role_arn      = aws_iam_role.api_task.arn
  user               = local.image_user
  writable_paths     = local.writable_paths.api

  environment = {
    PORT                  = tostring(local.api_port)
    MLFLOW_TRACKING_URI   = local.mlflow_tracking_uri
    MODEL_NAME            = var.model_name
    MODEL_ALIAS           = var.model_alias
    MODEL_REFRESH_SECONDS = tostring(var.model_refresh_seconds)
    MODEL_CACHE_DIR       = "${local.api_model_cache_root}/models" # on a writable volume
    # Only bundles signed by the trainer's KMS key are served (signing.tf).
    MODEL_PUBLIC_KEYS = data.aws_kms_public_key.model_signing.public_key_pem
    # Operators' ES256 public keys: the only tokens granted `admin` (empty: /admin is closed).
    JWT_ADMIN_PUBLIC_KEYS = join("\n", var.admin_token_public_keys)
  }
  # MLFLOW_TRACKING_USERNAME/PASSWORD: the read-only MLflow identity (secrets.tf).
  # DATABASE_URL: the customer store as churn_reader, read-only (store.tf); none = the
  # customer routes answer 503.
  secrets = merge(
    { JWT_PREDICT_SECRET = aws_secretsmanager_secret.jwt_predict.arn },
    local.mlflow_api_credentials,
    local.store_reader_url_secret_arn == null ? {} : { DATABASE_URL = local.store_reader_url_secret_arn },
  )
  stop_timeout       = 30
  log_retention_days = var.log_retention_days

  desired_count      = var.api_min_count
  subnet_ids         = local.private_subnet_ids
  security_group_ids = [aws_security_group.api.id]

  load_balancer = {
    target_group_arn             = aws_lb_target_group.api.arn
    alternate_target_group_arn   = local.api_traffic_shifting ? aws_lb_target_group.api_alternate[0].arn : null
    production_listener_rule_arn = local.api_traffic_shifting ? aws_lb_listener_rule.api[0].arn : null
    infrastructure_role_arn      = local.api_traffic_shifting ? aws_iam_role.ecs_load_balancers[0].arn : null
  }
  health_check_grace_period_seconds = local.api_health_check_grace_period

  deployment_strategy  = var.api_deployment_strategy
  canary_percent       = var.api_canary_percent
  canary_bake_minutes  = var.api_canary_bake_minutes
  bake_time_minutes    = var.api_bake_time_minutes
  rollback_alarm_names = local.api_rollback_alarm_names

  # Server side of Service Connect: other services call http://api:8000.
  service_connect = {
    namespace_arn  = aws_service_discovery_private_dns_namespace.internal.arn
    discovery_name = "api"
  }

  autoscaling = {
    min_capacity        = var.api_min_count
    max_capacity        = var.api_max_count
    cpu_target_percent  = var.api_cpu_target_percent
    requests_per_target = var.api_requests_per_target
    alb_resource_label  = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.api.arn_suffix}"
    # A new task serves ~1 s after its container starts (image_bench: 0.75-0.91 s from the registry,
    # model verified) plus the ALB's 2 x 5 s checks; Fargate's placement and the pull of the
    # 292 MB image come before that. So scale-out waits one CloudWatch period (60 s), the
    # metric's own resolution, and scale-in waits 2 minutes, not 5: a task removed too eagerly
    # is back within about a minute.
    scale_out_cooldown = 60
    scale_in_cooldown  = 120
  }

  depends_on = [aws_lb_listener.https]
}

module "ui" {
  source = "./modules/ecs-service"

  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  name               = "ui"
  family             = "${var.project}-ui"
  cluster_arn        = aws_ecs_cluster.this.arn
  cluster_name       = aws_ecs_cluster.this.name
  aws_region         = var.aws_region
  image              = local.images.ui
  cpu                = var.ui_cpu
  memory             = var.ui_memory
  port               = local.ui_port
  task_role_arn      = aws_iam_role.ui_task.arn
  user               = local.image_user
  writable_paths     = local.writable_paths.ui

  environment = {
    PORT         = tostring(local.ui_port)
    API_BASE_URL = "http://api:${local.api_port}" # Service Connect, never the internet.
  }
  secrets = {
    # Predict-only: the API never grants `admin` to a token this secret verifies.
    API_PREDICT_SECRET = aws_secretsmanager_secret.jwt_predict.arn
  }
  stop_timeout       = 60 # Matches the UI target group's deregistration delay.
  log_retention_days = var.log_retention_days

  desired_count      = var.ui_desired_count
  subnet_ids         = local.private_subnet_ids
  security_group_ids = [aws_security_group.ui.id]

  load_balancer = {
    target_group_arn = aws_lb_target_group.ui.arn
  }
  # Streamlit answers /ui/_stcore/health 0.7-1.2 s after `docker run` (image_bench,
  # 2026-11-30; no model is loaded): the grace covers that and the first of the target
  # group's 30 s checks.
  health_check_grace_period_seconds = 45

  # Client side of Service Connect only.
  service_connect = {
    namespace_arn = aws_service_discovery_private_dns_namespace.internal.arn
  }

  depends_on = [aws_lb_listener_rule.ui, module.api]
}
