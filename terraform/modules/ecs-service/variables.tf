variable "name" {
  description = "Service name; also the task-definition family, container name and log stream prefix."
  type        = string
}

variable "family" {
  description = "Task-definition family (and log group suffix)."
  type        = string
}

variable "assume_role_policy" {
  description = "Trust policy (JSON) of the execution role: the root's ecs-tasks policy, scoped to this account."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster ARN."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster name (for the auto-scaling resource id)."
  type        = string
}

variable "aws_region" {
  description = "Region for the awslogs driver."
  type        = string
}

variable "image" {
  description = "Full image reference (registry/name:tag)."
  type        = string
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
}

variable "memory" {
  description = "Task memory (MiB). The container's hard limit is this minus 128 MiB for the Service Connect proxy when there is one; its reservation is half of the limit."
  type        = number
}

variable "port" {
  description = "Container port, or null for a task that serves nothing (trainer)."
  type        = number
  default     = null
}

variable "environment" {
  description = "Plain environment variables."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables filled from Secrets Manager: name => secret ARN, or \"<secret ARN>:<json key>::\" for one key of a JSON secret."
  type        = map(string)
  default     = {}
}

variable "writable_paths" {
  description = "Absolute paths the container writes to; the root filesystem is read-only and each path gets a task volume. Create them in the image, owned by the image's user."
  type        = list(string)
  default     = ["/tmp"]

  validation {
    condition     = alltrue([for p in var.writable_paths : startswith(p, "/") && p != "/"]) && length(distinct(var.writable_paths)) == length(var.writable_paths)
    error_message = "writable_paths must be distinct absolute paths other than /."
  }
}

variable "user" {
  description = "uid:gid the container runs as (the image's non-root user); null keeps the image's USER."
  type        = string
  default     = null

  validation {
    condition     = var.user == null ? true : !can(regex("^(0|root)(:|$)", var.user))
    error_message = "user must not be root (uid 0)."
  }
}

variable "entry_point" {
  description = "Override of the image ENTRYPOINT."
  type        = list(string)
  default     = null
}

variable "command" {
  description = "Override of the image CMD."
  type        = list(string)
  default     = null
}

variable "container_health_check" {
  description = "Container-level health check (for services not behind the ALB)."
  type = object({
    command      = list(string)
    interval     = number
    timeout      = number
    retries      = number
    start_period = number
  })
  default = null
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL (graceful shutdown budget)."
  type        = number
  default     = 30
}

variable "task_role_arn" {
  description = "IAM role the application code runs as."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the task's log group."
  type        = number
}

variable "create_service" {
  description = "false: only the task definition (run on demand, e.g. the trainer)."
  type        = bool
  default     = true
}

variable "desired_count" {
  description = "Initial number of tasks (auto scaling owns it afterwards)."
  type        = number
  default     = 1
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the tasks."
  type        = list(string)
  default     = []
}

variable "load_balancer" {
  description = "ALB attachment. alternate_target_group_arn, production_listener_rule_arn and infrastructure_role_arn are only for CANARY/BLUE_GREEN."
  type = object({
    target_group_arn             = string
    alternate_target_group_arn   = optional(string)
    production_listener_rule_arn = optional(string)
    infrastructure_role_arn      = optional(string)
  })
  default = null
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing ALB health checks of a new task."
  type        = number
  default     = 60
}

variable "deployment_strategy" {
  description = "ROLLING, CANARY or BLUE_GREEN."
  type        = string
  default     = "ROLLING"

  validation {
    condition     = contains(["ROLLING", "CANARY", "BLUE_GREEN"], var.deployment_strategy)
    error_message = "deployment_strategy must be ROLLING, CANARY or BLUE_GREEN."
  }
}

variable "canary_percent" {
  description = "CANARY: share of traffic for the new revision during the canary phase."
  type        = number
  default     = 10
}

variable "canary_bake_minutes" {
  description = "CANARY: minutes of the canary phase."
  type        = number
  default     = 5
}

variable "bake_time_minutes" {
  description = "CANARY/BLUE_GREEN: minutes both revisions stay up after the full shift."
  type        = number
  default     = 10
}

variable "rollback_alarm_names" {
  description = "CloudWatch alarms that, in ALARM during a deployment, roll it back."
  type        = list(string)
  default     = []
}

variable "service_connect" {
  description = "Service Connect: namespace ARN and, for a server, the name clients use (null discovery_name = client only)."
  type = object({
    namespace_arn  = string
    discovery_name = optional(string)
  })
  default = null
}

variable "service_registry_arn" {
  description = "Cloud Map service (DNS A records) to register the tasks in."
  type        = string
  default     = null
}

variable "autoscaling" {
  description = "Target tracking on CPU and, when alb_resource_label is set, on ALB requests per target."
  type = object({
    min_capacity        = number
    max_capacity        = number
    cpu_target_percent  = number
    requests_per_target = optional(number)
    alb_resource_label  = optional(string)
    # Seconds between scaling actions of each policy (the caller cites what it measured).
    scale_out_cooldown = optional(number, 60)
    scale_in_cooldown  = optional(number, 300)
  })
  default = null
}
