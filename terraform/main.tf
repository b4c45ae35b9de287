# Telco churn on ECS Fargate: one ALB (API at /, Streamlit UI at /ui), an MLflow tracking
# server on RDS + S3 (or an external one), the trainer as a scheduled / on-demand task, and the
# customer store (a second database on the same RDS instance, store.tf) filled by the scorer,
# a scheduled task (scoring.tf) that can use a Dask cluster on Fargate (dask.tf).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

module "network" {
  source = "./modules/network"
  count  = var.create_vpc ? 1 : 0

  name               = var.project
  region             = var.aws_region
  cidr               = var.vpc_cidr
  single_nat_gateway = var.single_nat_gateway
  log_retention_days = var.log_retention_days
}

locals {
  vpc_id             = var.create_vpc ? module.network[0].vpc_id : var.existing_vpc_id
  public_subnet_ids  = var.create_vpc ? module.network[0].public_subnet_ids : var.existing_public_subnet_ids
  private_subnet_ids = var.create_vpc ? module.network[0].private_subnet_ids : var.existing_private_subnet_ids

  create_mlflow       = var.external_mlflow_tracking_uri == null
  namespace_name      = "${var.project}.internal"
  mlflow_port         = 5000
  mlflow_host         = "mlflow.${local.namespace_name}"
  mlflow_tracking_uri = local.create_mlflow ? "http://${local.mlflow_host}:${local.mlflow_port}" : var.external_mlflow_tracking_uri

  api_port = 8000
  ui_port  = 8501

  # Every image runs as uid/gid 10001 (USER in inference-service/, ui-service/, training/,
  # docker/mlflow/ and docker/postgres/Dockerfile; tests/infra cross-checks it). Root filesystems are read-only;
  # these are the only paths each container writes to (task volumes, see modules/ecs-service).
  image_user           = "10001:10001"
  api_model_cache_root = "/home/app/.cache/churn-api"
  writable_paths = {
    api     = ["/tmp", local.api_model_cache_root] # downloaded model bundles
    ui      = ["/tmp", "/home/app/.streamlit"]     # Streamlit's per-user config/cache dir
    trainer = ["/tmp", "/home/churn", "/data"]     # work dir and CHURN_CACHE_DIR
    mlflow  = ["/tmp"]                             # artifact uploads, generated auth config
    # The scorer image (inference-service/Dockerfile, target scorer): the model cache, and
    # /tmp for downloads and Dask's scratch space.
    scorer          = ["/tmp", local.api_model_cache_root]
    dask_scheduler  = ["/tmp"]
    dask_workers    = ["/tmp"]
    store_bootstrap = ["/tmp"] # docker/postgres/Dockerfile: psql's password files
  }

  # CANARY / BLUE_GREEN need a second target group and a listener rule ECS can re-weight.
  api_traffic_shifting = var.api_deployment_strategy != "ROLLING"

  # Above the worst-case model load: a task that is still loading is not killed by the ALB
  # health checks (PITFALLS: the default of 0 kills slow starters in a loop). The load plus the
  # healthy threshold's checks and one more interval: 20 + 3 x 5 = 35 s by default.
  api_health_check_interval     = 5
  api_health_check_grace_period = var.api_model_load_seconds + 3 * local.api_health_check_interval

  images = {
    api     = "${var.image_registry}/churn-api:${var.image_tag}"
    ui      = "${var.image_registry}/churn-ui:${var.image_tag}"
    trainer = "${var.image_registry}/churn-trainer:${var.image_tag}"
    mlflow  = "${var.image_registry}/churn-mlflow:${var.image_tag}"
    # The scorer target of inference-service/Dockerfile: churn-score, and dask for the cluster.
    scorer   = "${var.image_registry}/churn-scorer:${var.image_tag}"
    postgres = "${var.image_registry}/churn-postgres:${var.image_tag}"
  }
}

check "existing_vpc_inputs" {
  assert {
    condition     = var.create_vpc || (var.existing_vpc_id != null && length(var.existing_public_subnet_ids) >= 2 && length(var.existing_private_subnet_ids) >= 2)
    error_message = "With create_vpc = false, set existing_vpc_id and at least two public and two private subnet ids."
  }
}

# --- Cluster and internal service discovery --------------------------------------------------
resource "aws_ecs_cluster" "this" {
  name = var.project

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  service_connect_defaults {
    namespace = aws_service_discovery_private_dns_namespace.internal.arn
  }
}

# One private namespace for both: Service Connect (ui -> http://api:8000) and plain DNS
# (mlflow.<project>.internal), which the trainer needs because a RunTask task cannot use
# Service Connect.
resource "aws_service_discovery_private_dns_namespace" "internal" {
  name        = local.namespace_name
  description = "Internal names of the ${var.project} services"
  vpc         = local.vpc_id
}
