# ---------------------------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------------------------
variable "project" {
  description = "Name prefix for every resource."
  type        = string
  default     = "churn"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "aws_region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for every log group created here."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

# ---------------------------------------------------------------------------------------------
# Network: a new VPC, or an existing one
# ---------------------------------------------------------------------------------------------
variable "create_vpc" {
  description = "Create a VPC (public + private subnets in two AZs). When false, pass the existing_* variables."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "CIDR of the VPC to create."
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both AZs (cheaper; outbound traffic of the private subnets depends on one AZ)."
  type        = bool
  default     = true
}

variable "existing_vpc_id" {
  description = "Existing VPC id (create_vpc = false)."
  type        = string
  default     = null
}

variable "existing_public_subnet_ids" {
  description = "Existing public subnets in at least two AZs, for the ALB (create_vpc = false)."
  type        = list(string)
  default     = []
}

variable "existing_private_subnet_ids" {
  description = "Existing private subnets with a route to a NAT gateway, for the tasks and RDS (create_vpc = false)."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------------------------
# Load balancer
# ---------------------------------------------------------------------------------------------
variable "certificate_arn" {
  description = "ACM certificate ARN for the ALB's HTTPS listener (required: the ALB serves HTTPS only, port 80 answers 301). Must cover public_hostname."
  type        = string
  nullable    = false

  # There is no plain-HTTP mode: the console login (authenticate-cognito / -oidc) only runs on
  # HTTPS listeners, and tokens and customer records must not cross any network in clear.
  # Without a domain, import a self-signed certificate into ACM for a test deployment
  # (terraform/README.md).
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>): the ALB serves HTTPS only and refuses to deploy without one."
  }
}

variable "public_hostname" {
  description = "Host name users and clients use (covered by the certificate), e.g. churn.example.com. Used for the console login callback; null uses the ALB's DNS name."
  type        = string
  default     = null
}

variable "allowed_ingress_cidrs" {
  description = "CIDRs allowed to reach the ALB on 80/443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_log_retention_days" {
  description = "Days ALB access logs are kept in their S3 bucket."
  type        = number
  default     = 90

  validation {
    condition     = var.alb_log_retention_days >= 1
    error_message = "alb_log_retention_days must be at least 1."
  }
}

variable "waf_rate_limit" {
  description = "Requests per client IP per 5 minutes above which WAF blocks that IP (AWS WAF minimum: 10)."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 10
    error_message = "waf_rate_limit must be at least 10 (AWS WAF minimum)."
  }
}

# ---------------------------------------------------------------------------------------------
# Console login (/ui): Cognito user pool created here, or an existing OIDC provider
# ---------------------------------------------------------------------------------------------
variable "console_oidc" {
  description = "OIDC provider for the console login instead of Cognito: issuer, endpoints, client id and the ARN of a Secrets Manager secret holding the client secret (plain string)."
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    client_secret_arn      = string
    scope                  = optional(string, "openid email")
  })
  default = null

  validation {
    condition = var.console_oidc == null ? true : alltrue([
      for url in [var.console_oidc.issuer, var.console_oidc.authorization_endpoint, var.console_oidc.token_endpoint, var.console_oidc.user_info_endpoint] :
      startswith(url, "https://")
    ])
    error_message = "console_oidc: issuer, authorization_endpoint, token_endpoint and user_info_endpoint must be https:// URLs."
  }

  validation {
    condition     = var.console_oidc == null ? true : can(regex("^arn:aws[a-z-]*:secretsmanager:", var.console_oidc.client_secret_arn))
    error_message = "console_oidc.client_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "console_mfa" {
  description = "Cognito MFA for console users: ON (TOTP required, set up at first login) or OPTIONAL."
  type        = string
  default     = "ON"

  validation {
    condition     = contains(["ON", "OPTIONAL"], var.console_mfa)
    error_message = "console_mfa must be ON or OPTIONAL."
  }
}

variable "console_session_seconds" {
  description = "Lifetime of the ALB console session cookie before the user logs in again."
  type        = number
  default     = 28800 # 8 hours: one working day.

  validation {
    condition     = var.console_session_seconds >= 300 && var.console_session_seconds <= 604800
    error_message = "console_session_seconds must be between 300 and 604800 (7 days)."
  }
}

variable "cognito_domain_prefix" {
  description = "Prefix of the Cognito hosted login domain (<prefix>.auth.<region>.amazoncognito.com); null uses <project>-console-<account id>."
  type        = string
  default     = null
}

variable "alb_deletion_protection" {
  description = "Protect the ALB from deletion (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Images (built and pushed by .github/workflows/release.yml)
# ---------------------------------------------------------------------------------------------
variable "image_registry" {
  description = "Registry and namespace of the images, e.g. docker.io/myorg."
  type        = string
}

variable "image_tag" {
  description = "Image tag to deploy: the full git commit SHA that release.yml pushed."
  type        = string

  validation {
    condition     = var.image_tag != "latest" && length(var.image_tag) > 0
    error_message = "image_tag must be an immutable tag (commit SHA or version), not 'latest'."
  }
}

# ---------------------------------------------------------------------------------------------
# API service
# ---------------------------------------------------------------------------------------------
# Sized from benchmarks/serve_bench.py and image_bench.py (README "Benchmarks", 2026-11-30):
# one uvicorn worker serves ~6,000 single-row req/s at c=8 on one core (0.15 ms CPU a
# request), so a worker uses a whole vCPU under load; at 0.5 vCPU it would be throttled to
# half of that, with CFS pauses in the tail. A worker holds 68 MB once ready and ~115 MB
# serving (two workers on 2 vCPUs: 301 MB for the task), so memory is Fargate's minimum for
# 1 vCPU, not the model. One worker per task: each worker keeps its own metrics, live-drift
# window and model copy; scale by tasks.
variable "api_cpu" {
  description = "API task CPU units (1024 = 1 vCPU): one uvicorn worker per task, a whole vCPU for it."
  type        = number
  default     = 1024
}

variable "api_memory" {
  description = "API task memory (MiB): Fargate's minimum at 1 vCPU; the worker needs ~115 MB serving."
  type        = number
  default     = 2048
}

variable "api_min_count" {
  description = "Minimum number of API tasks (also the initial desired count)."
  type        = number
  default     = 2
}

variable "api_max_count" {
  description = "Maximum number of API tasks."
  type        = number
  default     = 6

  validation {
    condition     = var.api_max_count >= var.api_min_count
    error_message = "api_max_count must be >= api_min_count."
  }
}

variable "api_cpu_target_percent" {
  description = "Target average CPU utilisation of the API service."
  type        = number
  default     = 60
}

variable "api_requests_per_target" {
  # 60,000 a minute = 1,000 req/s, a sixth of the ~6,000 single-row req/s one worker served in
  # serve_bench: headroom for batches, which cost far more per request and which the CPU
  # target (api_cpu_target_percent) catches instead.
  description = "Target ALB requests per API task per minute (ALBRequestCountPerTarget)."
  type        = number
  default     = 60000
}

# Measured (benchmarks/image_bench.py, 2026-11-30): `docker run` to /health/ready 0.73 s
# median with a cached model, 0.75 s (max 0.83 s) with the model downloaded from MLflow and
# verified, 0.66 s with MLflow down (the cache's last verified version); 0.91-0.99 s on a busier
# machine. The image is 292 MB. 20 s is that worst case twenty times over, for a slower Fargate
# vCPU and a busy registry; the pull happens before the container starts and is not part of it.
variable "api_model_load_seconds" {
  description = "Worst-case seconds from container start to a loaded, verified model (measured ~1 s). The ALB health-check grace period is derived from it."
  type        = number
  default     = 20
}

variable "model_name" {
  description = "Registered model name in MLflow."
  type        = string
  default     = "telco-churn"
}

variable "model_alias" {
  description = "Registered model alias the API serves."
  type        = string
  default     = "champion"
}

variable "admin_token_public_keys" {
  description = "Operators' EC P-256 public keys (PEM) trusted for the API's `admin` tokens (JWT_ADMIN_PUBLIC_KEYS); make a pair with `churn-api keygen`, mint with `churn-api token --scope admin --key`. Empty: nobody can call /admin/reload."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for pem in var.admin_token_public_keys :
      strcontains(pem, "-----BEGIN PUBLIC KEY-----") && !strcontains(pem, "PRIVATE")
    ])
    error_message = "admin_token_public_keys holds PEM public keys only (never a private key)."
  }
}

variable "model_refresh_seconds" {
  description = "How often the API checks the alias for a new version."
  type        = number
  default     = 300
}

variable "api_deployment_strategy" {
  description = "ECS deployment strategy of the API: ROLLING (with circuit breaker), CANARY or BLUE_GREEN (native ECS, alternate target group, alarm rollback)."
  type        = string
  default     = "ROLLING"

  validation {
    condition     = contains(["ROLLING", "CANARY", "BLUE_GREEN"], var.api_deployment_strategy)
    error_message = "api_deployment_strategy must be ROLLING, CANARY or BLUE_GREEN."
  }
}

variable "api_canary_percent" {
  description = "Share of production traffic sent to the new revision during the canary phase."
  type        = number
  default     = 10
}

variable "api_canary_bake_minutes" {
  description = "Minutes the canary takes its share of traffic before the rest shifts."
  type        = number
  default     = 5
}

variable "api_bake_time_minutes" {
  description = "Minutes both revisions stay up after all traffic shifted (instant rollback window)."
  type        = number
  default     = 10
}

# ---------------------------------------------------------------------------------------------
# UI service
# ---------------------------------------------------------------------------------------------
variable "ui_cpu" {
  description = "UI task CPU units."
  type        = number
  default     = 256
}

# Measured (image_bench, 2026-11-30): the UI holds 46 MB once ready; each browser session adds
# its pages' frames (a 50-row call list page, charts). 512 MB leaves room for tens of sessions.
variable "ui_memory" {
  description = "UI task memory (MiB)."
  type        = number
  default     = 512
}

variable "ui_desired_count" {
  description = "Number of UI tasks (sessions stick to a task through the ALB cookie)."
  type        = number
  default     = 1
}

# ---------------------------------------------------------------------------------------------
# MLflow and the trainer
# ---------------------------------------------------------------------------------------------
variable "external_mlflow_tracking_uri" {
  description = "Use an existing MLflow tracking server instead of creating one (no RDS, bucket or MLflow service then)."
  type        = string
  default     = null
}

variable "external_mlflow_trainer_secret_arn" {
  description = "With an external MLflow: Secrets Manager secret (JSON with username and password) of the trainer's MLflow identity; null sends no credentials."
  type        = string
  default     = null
}

variable "external_mlflow_api_secret_arn" {
  description = "With an external MLflow: Secrets Manager secret (JSON with username and password) of the API's read-only MLflow identity; null sends no credentials."
  type        = string
  default     = null
}

variable "mlflow_cpu" {
  description = "MLflow server task CPU units."
  type        = number
  default     = 512
}

variable "mlflow_memory" {
  description = "MLflow server task memory (MiB). One gunicorn worker runs per 0.5 vCPU (mlflow.tf)."
  type        = number
  default     = 1024

  # Measured (PITFALLS.md): 4 workers with job execution off = 1.4 GB resident, i.e. about
  # 0.3 GB base + 350 MB per worker. Below that the task is killed for memory.
  validation {
    condition     = var.mlflow_memory >= 300 + 350 * max(1, floor(var.mlflow_cpu / 512))
    error_message = "mlflow_memory is too small for the MLflow workers mlflow_cpu implies: give at least 300 + 350 MiB per worker (one worker per 512 CPU units)."
  }
}

variable "db_instance_class" {
  description = "RDS instance class of the MLflow backend store."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage_gb" {
  description = "RDS storage (GiB, gp3)."
  type        = number
  default     = 20
}

variable "db_multi_az" {
  description = "Run the MLflow database Multi-AZ (doubles its cost)."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "Protect the MLflow database from deletion."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Automated backup retention of the MLflow database."
  type        = number
  default     = 7
}

variable "trainer_cpu" {
  description = "Trainer task CPU units."
  type        = number
  default     = 1024
}

variable "trainer_memory" {
  description = "Trainer task memory (MiB)."
  type        = number
  default     = 4096
}

variable "trainer_schedule_expression" {
  description = "EventBridge schedule of the trainer (UTC). null disables the schedule; the task can still be run on demand."
  type        = string
  default     = "cron(0 3 ? * MON *)"
}

variable "trainer_data_source" {
  description = "Optional DATA_SOURCE for the trainer (CSV path or URL); empty uses the trainer's default."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------------------------
# Model monitoring: drift and realized-performance alarms, retraining (monitoring_alarms.tf)
# ---------------------------------------------------------------------------------------------
variable "monitoring_namespace" {
  description = "CloudWatch namespace of churn-score's custom metrics (its CLOUDWATCH_NAMESPACE)."
  type        = string
  default     = "TelcoChurn/Monitoring"
}

variable "drift_psi_threshold" {
  description = "FeatureDrift: a field's PSI above this in a scoring run (docs/monitoring.md)."
  type        = number
  default     = 0.2
}

variable "score_psi_threshold" {
  description = "ScoreDrift: the score's PSI above this in a scoring run."
  type        = number
  default     = 0.1
}

variable "realized_auc_drop" {
  description = "RealizedPerformanceDrop: realized ROC-AUC this far below the training holdout."
  type        = number
  default     = 0.05
}

variable "model_max_age_days" {
  description = "ModelStale: the champion's training older than this many days."
  type        = number
  default     = 30
}

variable "retrain_on_alarm" {
  description = "Start the trainer task (through the promotion gate) when a drift or performance alarm fires."
  type        = bool
  default     = true
}

variable "retrain_data_source" {
  description = "churn-train --data for a retraining started by an alarm (the latest labelled snapshot, CSV path or URL); empty uses the trainer's DATA_SOURCE."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------------------------
# The customer store and the scorer (store.tf, scoring.tf, dask.tf)
# ---------------------------------------------------------------------------------------------
variable "external_store_reader_url_secret_arn" {
  description = "With an external MLflow (no RDS here): Secrets Manager secret holding the store's read-only postgresql:// URL for the API; null = no store (the customer routes answer 503)."
  type        = string
  default     = null
}

variable "external_store_writer_url_secret_arn" {
  description = "With an external MLflow: Secrets Manager secret holding the store's write postgresql:// URL for the scorer; null = no scorer schedule."
  type        = string
  default     = null
}

variable "customer_snapshot_prefix" {
  description = "Key prefix in the snapshot bucket where the data platform writes the customer snapshot (Parquet files or one CSV); the scorer reads this prefix only."
  type        = string
  default     = "customers/current/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.customer_snapshot_prefix))
    error_message = "customer_snapshot_prefix is a folder: path segments without spaces, ending with '/'."
  }
}

variable "scorer_cpu" {
  description = "Scorer task CPU units (it reads the snapshot and writes the store; with Dask the workers score)."
  type        = number
  default     = 1024
}

variable "scorer_memory" {
  description = "Scorer task memory (MiB). Partitions stream: memory does not grow with the base."
  type        = number
  default     = 2048
}

variable "scorer_schedule_expression" {
  description = "EventBridge Scheduler expression of the scorer (UTC), after the weekly training (trainer_schedule_expression, default Monday 03:00). null disables the schedule; the task can still be run on demand."
  type        = string
  default     = "cron(0 6 ? * MON *)"
}

variable "dask_workers" {
  description = "Dask workers on Fargate. 0 (default): no cluster, the scorer scores in its own process; above 0 the scheduler runs too and the scorer sends partitions to it."
  type        = number
  default     = 0

  validation {
    condition     = var.dask_workers >= 0 && var.dask_workers <= 50 && floor(var.dask_workers) == var.dask_workers
    error_message = "dask_workers is a whole number from 0 to 50."
  }
}

variable "dask_worker_cpu" {
  description = "CPU units of one Dask worker task (one worker process, one thread per vCPU)."
  type        = number
  default     = 1024
}

variable "dask_worker_memory" {
  description = "Memory (MiB) of one Dask worker task."
  type        = number
  default     = 2048
}

variable "dask_scheduler_cpu" {
  description = "CPU units of the Dask scheduler task."
  type        = number
  default     = 512
}

variable "dask_scheduler_memory" {
  description = "Memory (MiB) of the Dask scheduler task."
  type        = number
  default     = 1024
}

# ---------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------
variable "alarm_actions" {
  description = "SNS topic ARNs notified when an alarm fires or recovers."
  type        = list(string)
  default     = []
}

variable "api_5xx_rate_threshold_percent" {
  description = "API 5xx responses as a percentage of requests that raises the alarm."
  type        = number
  default     = 5
}

variable "api_p99_latency_threshold_seconds" {
  description = "API p99 target response time that raises the alarm."
  type        = number
  default     = 1
}
