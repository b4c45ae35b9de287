terraform {
  # Cross-variable validation (var.x referenced in var.y's validation) needs 1.9.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.21 added the LINEAR and CANARY strategies to aws_ecs_service.deployment_configuration
      # (6.4 had BLUE_GREEN and load_balancer.advanced_configuration).
      version = "~> 6.21"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # Remote state is optional: copy backend.tf.example to backend.tf (see README.md).
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, {
      Project   = var.project
      ManagedBy = "terraform"
    })
  }
}
