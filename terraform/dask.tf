# A Dask cluster on Fargate for customer bases beyond one scorer task: one scheduler and
# var.dask_workers workers, both ECS services running the scorer image (the same churn_api and
# Dask versions as the client, which Dask requires). Desired count 0 by default: no cost until
# var.dask_workers > 0, which also points the scorer at the scheduler (scoring.tf).
#
# The scorer (the Dask client) reads the snapshot and writes the store; the workers receive the
# verified model bundle and the partitions from it through the scheduler and return scores.
# So the workers need no database, no MLflow and no S3 access: their task role is empty.
# Network (security.tf): scheduler 8786 (protocol) and 8787 (dashboard) from the scorer and
# the workers only; worker and nanny ports 8788-8789 from the scheduler, the scorer and the
# other workers only.

locals {
  dask_scheduler_port = 8786
  dask_dashboard_port = 8787
  dask_worker_port    = 8788
  dask_nanny_port     = 8789 # the process that starts and restarts the worker
  # The scheduler's Cloud Map name: RunTask tasks (the scorer) cannot use Service Connect.
  dask_scheduler_host    = "dask-scheduler.${local.namespace_name}"
  dask_scheduler_address = "tcp://${local.dask_scheduler_host}:${local.dask_scheduler_port}"
  dask_scheduler_count   = var.dask_workers > 0 ? 1 : 0
}

resource "aws_service_discovery_service" "dask_scheduler" {
  name = "dask-scheduler"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.internal.id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }
}

# Scheduler and workers call no AWS API.
resource "aws_iam_role" "dask_task" {
  name_prefix        = "${var.project}-dask-task-"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

module "dask_scheduler" {
  source = "./modules/ecs-service"

  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  name               = "dask-scheduler"
  family             = "${var.project}-dask-scheduler"
  cluster_arn        = aws_ecs_cluster.this.arn
  cluster_name       = aws_ecs_cluster.this.name
  aws_region         = var.aws_region
  image              = local.images.scorer
  cpu                = var.dask_scheduler_cpu
  memory             = var.dask_scheduler_memory
  task_role_arn      = aws_iam_role.dask_task.arn
  user               = local.image_user
  writable_paths     = local.writable_paths.dask_scheduler

  entry_point = ["dask"]
  command = [
    "scheduler",
    "--port", tostring(local.dask_scheduler_port),
    "--dashboard-address", ":${local.dask_dashboard_port}",
  ]
  environment = {
    DASK_TEMPORARY_DIRECTORY = "/tmp/dask"
  }
  log_retention_days = var.log_retention_days

  desired_count        = local.dask_scheduler_count
  subnet_ids           = local.private_subnet_ids
  security_group_ids   = [aws_security_group.dask_scheduler.id]
  service_registry_arn = aws_service_discovery_service.dask_scheduler.arn
}

module "dask_workers" {
  source = "./modules/ecs-service"

  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  name               = "dask-worker"
  family             = "${var.project}-dask-worker"
  cluster_arn        = aws_ecs_cluster.this.arn
  cluster_name       = aws_ecs_cluster.this.name
  aws_region         = var.aws_region
  image              = local.images.scorer
  cpu                = var.dask_worker_cpu
  memory             = var.dask_worker_memory
  task_role_arn      = aws_iam_role.dask_task.arn
  user               = local.image_user
  writable_paths     = local.writable_paths.dask_workers

  entry_point = ["dask"]
  command = [
    "worker", local.dask_scheduler_address,
    "--nworkers", "1",
    "--nthreads", tostring(max(1, floor(var.dask_worker_cpu / 1024))),
    # Fixed ports, so that the security groups can name them.
    "--worker-port", tostring(local.dask_worker_port),
    "--nanny-port", tostring(local.dask_nanny_port),
    "--no-dashboard",
    "--local-directory", "/tmp/dask",
    "--memory-limit", "${floor(var.dask_worker_memory * 0.85)}MiB",
  ]
  log_retention_days = var.log_retention_days

  desired_count      = var.dask_workers
  subnet_ids         = local.private_subnet_ids
  security_group_ids = [aws_security_group.dask_worker.id]

  depends_on = [module.dask_scheduler]
}
