"""ECS services: deployment safety, health-check grace, logs, scaling, wiring and secrets."""

from __future__ import annotations

import json

from infra_hcl import ROOT, Module, local_value, ref


def test_cluster_has_container_insights(root: Module) -> None:
    cluster = root.resource("aws_ecs_cluster", "this")
    settings = {s["name"]: s["value"] for s in cluster["setting"]}
    assert settings["containerInsights"] in {"enabled", "enhanced"}


def test_every_service_has_circuit_breaker_with_rollback(service_module: Module) -> None:
    service = service_module.resource("aws_ecs_service", "this")
    breaker = service["deployment_circuit_breaker"][0]
    assert breaker == {"enable": True, "rollback": True}
    assert service["deployment_controller"][0]["type"] == "ECS"
    assert service["deployment_minimum_healthy_percent"] == 100
    alarms = service["dynamic"][0]["alarms"]
    assert alarms["content"][0]["rollback"] is True
    assert alarms["content"][0]["enable"] is True


def test_api_grace_period_exceeds_model_load_time(root: Module) -> None:
    api = root.modules["api"]
    assert api["health_check_grace_period_seconds"] == "${local.api_health_check_grace_period}"
    grace = root.locals["api_health_check_grace_period"]
    assert grace == "${var.api_model_load_seconds + 3 * local.api_health_check_interval}"
    # The load's default is the measured worst case (image_bench: ~1 s to ready, the model
    # downloaded and verified) many times over, and stays well under a minute.
    load = root.default("api_model_load_seconds")
    assert 10 <= load <= 60
    # Both API target groups check at the interval the grace period is computed from, and the
    # grace covers the load plus the healthy threshold's checks.
    interval = root.locals["api_health_check_interval"]
    for name in ("api", "api_alternate"):
        check = root.resource("aws_lb_target_group", name)["health_check"][0]
        assert check["interval"] == "${local.api_health_check_interval}"
        assert check["timeout"] < interval
        assert 3 * interval >= check["healthy_threshold"] * interval


def test_log_groups_have_retention(root: Module, service_module: Module, network_module: Module):
    for module in (root, service_module, network_module):
        for name, group in module.of_kind("aws_cloudwatch_log_group").items():
            assert group.get("retention_in_days") == "${var.log_retention_days}", name
    assert root.default("log_retention_days") == 30
    for call in root.modules.values():
        if "log_retention_days" in call:
            assert call["log_retention_days"] == "${var.log_retention_days}"


def test_api_autoscaling_targets_cpu_and_requests_per_target(
    root: Module, service_module: Module
) -> None:
    scaling = root.modules["api"]["autoscaling"]
    assert scaling["min_capacity"] == "${var.api_min_count}"
    assert scaling["max_capacity"] == "${var.api_max_count}"
    assert scaling["cpu_target_percent"] == "${var.api_cpu_target_percent}"
    assert scaling["requests_per_target"] == "${var.api_requests_per_target}"
    label = scaling["alb_resource_label"]
    assert "aws_lb.this.arn_suffix" in label
    assert "aws_lb_target_group.api.arn_suffix" in label
    assert root.default("api_min_count") >= 2  # two AZs
    assert 0 < root.default("api_cpu_target_percent") < 100

    policies = {
        name: p["target_tracking_scaling_policy_configuration"][0]
        for name, p in service_module.of_kind("aws_appautoscaling_policy").items()
    }
    metrics = {
        name: c["predefined_metric_specification"][0]["predefined_metric_type"]
        for name, c in policies.items()
    }
    assert metrics == {
        "cpu": "ECSServiceAverageCPUUtilization",
        "requests": "ALBRequestCountPerTarget",
    }
    assert (
        policies["requests"]["predefined_metric_specification"][0]["resource_label"]
        == "${var.autoscaling.alb_resource_label}"
    )
    # Both policies take the caller's cooldowns; the API's are set from its measured start
    # (out after one metric period, in after two minutes: a task is back within about one).
    for config in policies.values():
        assert config["scale_out_cooldown"] == "${var.autoscaling.scale_out_cooldown}"
        assert config["scale_in_cooldown"] == "${var.autoscaling.scale_in_cooldown}"
    assert (scaling["scale_out_cooldown"], scaling["scale_in_cooldown"]) == (60, 120)
    target = service_module.resource("aws_appautoscaling_target", "this")
    assert target["scalable_dimension"] == "ecs:service:DesiredCount"


def test_ui_reaches_api_through_service_connect(root: Module) -> None:
    api, ui = root.modules["api"], root.modules["ui"]
    assert api["service_connect"]["discovery_name"] == "api"
    assert "discovery_name" not in ui["service_connect"]
    assert ui["environment"]["API_BASE_URL"] == "http://api:${local.api_port}"
    assert local_value(root, "${local.api_port}") == 8000
    cluster = root.resource("aws_ecs_cluster", "this")
    namespace = cluster["service_connect_defaults"][0]["namespace"]
    assert ref(namespace) == "aws_service_discovery_private_dns_namespace.internal.arn"


def test_secrets_are_injected_not_written_into_task_definitions(root: Module) -> None:
    assert root.modules["api"]["secrets"] == (
        "${merge({JWT_PREDICT_SECRET = aws_secretsmanager_secret.jwt_predict.arn}, "
        "local.mlflow_api_credentials, local.store_reader_url_secret_arn == null ? {} : "
        "{DATABASE_URL = local.store_reader_url_secret_arn})}"
    )
    # The UI holds the predict-only secret and nothing else: it can never mint `admin`.
    assert root.modules["ui"]["secrets"] == {
        "API_PREDICT_SECRET": "${aws_secretsmanager_secret.jwt_predict.arn}"
    }
    assert root.modules["mlflow"]["secrets"] == "${local.mlflow_secrets}"
    assert root.locals["mlflow_secrets"].startswith(
        "${local.create_mlflow ? {DB_PASSWORD = aws_secretsmanager_secret.db[0].arn,"
    )
    for call in root.modules.values():
        environment = json.dumps(call.get("environment", {}))
        assert "random_password" not in environment
        assert "SECRET" not in environment
    # The DB password is expanded inside the container, never rendered by Terraform.
    assert "$${DB_PASSWORD}" in json.dumps(root.locals["mlflow_server_command"])


def test_api_environment_matches_the_contract(root: Module) -> None:
    environment = root.modules["api"]["environment"]
    assert set(environment) == {
        "PORT",
        "MLFLOW_TRACKING_URI",
        "MODEL_NAME",
        "MODEL_ALIAS",
        "MODEL_REFRESH_SECONDS",
        "MODEL_PUBLIC_KEYS",
        "MODEL_CACHE_DIR",
        "JWT_ADMIN_PUBLIC_KEYS",
    }
    # `admin` is granted only to tokens signed by operators' keys; Terraform holds the public
    # halves only, and never sets the development mode.
    assert environment["JWT_ADMIN_PUBLIC_KEYS"] == '${join("\\n", var.admin_token_public_keys)}'
    assert root.default("admin_token_public_keys") == []
    validation = root.variables["admin_token_public_keys"]["validation"][0]["condition"]
    assert "BEGIN PUBLIC KEY" in validation and "PRIVATE" in validation
    for call in root.modules.values():
        assert "CHURN_DEV_MODE" not in json.dumps(call.get("environment", {}))
    # The model cache lives on one of the API's writable volumes (root filesystem read-only).
    assert environment["MODEL_CACHE_DIR"] == "${local.api_model_cache_root}/models"
    assert "${local.api_model_cache_root}" in root.locals["writable_paths"]["api"]
    assert root.default("model_name") == "telco-churn"
    assert root.default("model_alias") == "champion"


def test_canary_strategy_is_selectable_and_wired(root: Module, service_module: Module) -> None:
    validation = root.variables["api_deployment_strategy"]["validation"][0]["condition"]
    for strategy in ("ROLLING", "CANARY", "BLUE_GREEN"):
        assert strategy in validation
    assert root.default("api_deployment_strategy") == "ROLLING"

    config = service_module.resource("aws_ecs_service", "this")["deployment_configuration"][0]
    assert config["strategy"] == "${var.deployment_strategy}"
    canary = config["dynamic"][0]["canary_configuration"]
    assert canary["for_each"] == '${var.deployment_strategy == "CANARY" ? [1] : []}'
    assert set(canary["content"][0]) == {"canary_percent", "canary_bake_time_in_minutes"}

    balancer = root.modules["api"]["load_balancer"]
    assert "aws_lb_target_group.api_alternate[0].arn" in balancer["alternate_target_group_arn"]
    assert "aws_lb_listener_rule.api[0].arn" in balancer["production_listener_rule_arn"]
    assert "aws_iam_role.ecs_load_balancers[0].arn" in balancer["infrastructure_role_arn"]
    assert root.modules["api"]["rollback_alarm_names"] == "${local.api_rollback_alarm_names}"
    names = root.locals["api_rollback_alarm_names"]
    assert "api_5xx_rate" in names
    assert "api_p99_latency" in names


def test_required_alarms_exist(root: Module) -> None:
    five_xx = root.resource("aws_cloudwatch_metric_alarm", "api_5xx_rate")
    metrics = {
        q["metric_query"]["content"][0]["metric"][0]["metric_name"] for q in five_xx["dynamic"]
    }
    assert metrics == {"HTTPCode_Target_5XX_Count", "RequestCount"}
    latency = root.resource("aws_cloudwatch_metric_alarm", "api_p99_latency")
    assert (latency["metric_name"], latency["extended_statistic"]) == ("TargetResponseTime", "p99")
    unhealthy = root.resource("aws_cloudwatch_metric_alarm", "unhealthy_hosts")
    assert unhealthy["metric_name"] == "UnHealthyHostCount"
    running = root.resource("aws_cloudwatch_metric_alarm", "running_tasks")
    assert (running["namespace"], running["metric_name"]) == (
        "ECS/ContainerInsights",
        "RunningTaskCount",
    )
    assert running["treat_missing_data"] == "breaching"


def test_trainer_runs_on_demand_and_on_a_schedule(root: Module) -> None:
    trainer = root.modules["trainer"]
    assert trainer["create_service"] is False
    assert trainer["environment"]
    rule = root.resource("aws_cloudwatch_event_rule", "trainer")
    assert rule["schedule_expression"] == "${var.trainer_schedule_expression}"
    assert root.default("trainer_schedule_expression").startswith("cron(")
    target = root.resource("aws_cloudwatch_event_target", "trainer")["ecs_target"][0]
    assert target["launch_type"] == "FARGATE"
    assert target["task_definition_arn"] == "${module.trainer.task_definition_arn_without_revision}"
    assert "run_trainer_command" in root.outputs


def test_mlflow_is_internal_with_private_encrypted_artifacts(root: Module) -> None:
    mlflow = root.modules["mlflow"]
    assert "load_balancer" not in mlflow  # no route from the ALB
    assert mlflow["service_registry_arn"] == "${aws_service_discovery_service.mlflow[0].arn}"
    block = root.resource("aws_s3_bucket_public_access_block", "artifacts")
    assert all(block[k] is True for k in (
        "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"
    ))  # fmt: skip
    sse = root.resource("aws_s3_bucket_server_side_encryption_configuration", "artifacts")
    rule = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert rule["sse_algorithm"] in {"aws:kms", "AES256"}
    # The image entrypoint turns the MLFLOW_* environment into `mlflow server` flags.
    environment = root.locals["mlflow_environment"]
    for name in ('MLFLOW_ARTIFACTS_DESTINATION = "s3://', "MLFLOW_SERVER_ALLOWED_HOSTS ="):
        assert name in environment
    entrypoint = (ROOT / "docker" / "mlflow" / "entrypoint.py").read_text()
    for flag in ("--serve-artifacts", "--artifacts-destination", "--allowed-hosts", "--workers"):
        assert flag in entrypoint, flag
    assert root.locals["create_mlflow"] == "${var.external_mlflow_tracking_uri == null}"
