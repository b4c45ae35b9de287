output "task_definition_arn" {
  description = "ARN (with revision) of the task definition Terraform registered."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_arn_without_revision" {
  description = "Family ARN: runs the latest ACTIVE revision (what release.yml registered last)."
  value       = aws_ecs_task_definition.this.arn_without_revision
}

output "family" {
  description = "Task-definition family."
  value       = aws_ecs_task_definition.this.family
}

output "service_name" {
  description = "ECS service name (null when create_service = false)."
  value       = var.create_service ? aws_ecs_service.this[0].name : null
}

output "execution_role_arn" {
  description = "Execution role ARN."
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the task."
  value       = aws_cloudwatch_log_group.this.name
}
