output "url" {
  description = "Base URL (API at /, console at /ui/ behind the login)."
  value       = "https://${local.public_hostname}"
}

output "console_user_pool_id" {
  description = "Cognito user pool of the console users (null with console_oidc); create users with `aws cognito-idp admin-create-user`."
  value       = local.console_oidc ? null : aws_cognito_user_pool.console[0].id
}

output "alb_access_logs_bucket" {
  description = "S3 bucket of the ALB access logs (prefix alb/)."
  value       = aws_s3_bucket.alb_logs.bucket
}

output "waf_web_acl_arn" {
  description = "WAF web ACL associated with the ALB."
  value       = aws_wafv2_web_acl.alb.arn
}

output "alb_dns_name" {
  description = "ALB DNS name (point your domain's CNAME/alias here)."
  value       = aws_lb.this.dns_name
}

output "cluster_name" {
  description = "ECS cluster (GitHub variable ECS_CLUSTER)."
  value       = aws_ecs_cluster.this.name
}

output "services" {
  description = "ECS service names."
  value = {
    api            = module.api.service_name
    ui             = module.ui.service_name
    mlflow         = local.create_mlflow ? module.mlflow[0].service_name : null
    dask_scheduler = module.dask_scheduler.service_name
    dask_workers   = module.dask_workers.service_name
  }
}

output "trainer_task_family" {
  description = "Trainer task-definition family (GitHub variable TRAINER_TASK_FAMILY)."
  value       = module.trainer.family
}

output "trainer_network" {
  description = "Subnets and security group for running the trainer (GitHub variables TRAINER_SUBNETS, TRAINER_SECURITY_GROUP)."
  value = {
    subnets        = join(",", local.private_subnet_ids)
    security_group = aws_security_group.trainer.id
  }
}

output "run_trainer_command" {
  description = "AWS CLI command that starts one training run."
  value       = "aws ecs run-task --cluster ${aws_ecs_cluster.this.name} --launch-type FARGATE --task-definition ${module.trainer.family} --network-configuration 'awsvpcConfiguration={subnets=[${join(",", local.private_subnet_ids)}],securityGroups=[${aws_security_group.trainer.id}],assignPublicIp=DISABLED}'"
}

output "mlflow_tracking_uri" {
  description = "Tracking URI the API and trainer use (resolvable inside the VPC only when created here)."
  value       = local.mlflow_tracking_uri
}

output "artifact_bucket" {
  description = "MLflow artifact bucket (null with an external tracking server)."
  value       = local.create_mlflow ? aws_s3_bucket.artifacts[0].bucket : null
}

output "github_deploy_role_arn" {
  description = "Role for GitHub OIDC (GitHub variable AWS_DEPLOY_ROLE_ARN)."
  value       = local.github_deploy ? aws_iam_role.github_deploy[0].arn : null
}

output "log_groups" {
  description = "CloudWatch log groups of the tasks."
  value = {
    api     = module.api.log_group_name
    ui      = module.ui.log_group_name
    trainer = module.trainer.log_group_name
    mlflow  = local.create_mlflow ? module.mlflow[0].log_group_name : null
    scorer  = module.scorer.log_group_name
  }
}

output "customer_snapshot_uri" {
  description = "Where the data platform writes the customer snapshot the scorer reads (Parquet files or one CSV)."
  value       = local.snapshot_uri
}

output "scorer_task_family" {
  description = "Scorer task-definition family (GitHub variable SCORER_TASK_FAMILY)."
  value       = module.scorer.family
}

output "run_scorer_command" {
  description = "AWS CLI command that scores the current snapshot into the customer store once."
  value       = "aws ecs run-task --cluster ${aws_ecs_cluster.this.name} --launch-type FARGATE --task-definition ${module.scorer.family} --network-configuration 'awsvpcConfiguration={subnets=[${join(",", local.private_subnet_ids)}],securityGroups=[${aws_security_group.scorer.id}],assignPublicIp=DISABLED}'"
}

output "run_store_bootstrap_command" {
  description = "AWS CLI command that creates (or updates) the customer store's roles and database; run once after the first apply and after rotating a store password."
  value       = local.create_store ? "aws ecs run-task --cluster ${aws_ecs_cluster.this.name} --launch-type FARGATE --task-definition ${module.store_bootstrap[0].family} --network-configuration 'awsvpcConfiguration={subnets=[${join(",", local.private_subnet_ids)}],securityGroups=[${aws_security_group.store_bootstrap[0].id}],assignPublicIp=DISABLED}'" : null
}
