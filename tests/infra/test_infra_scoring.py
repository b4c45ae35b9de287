"""The customer store and the scorer on AWS: the store database and its secrets, the scheduled
scorer task reading its S3 prefix, the Dask cluster, and the routes to /customers."""

from __future__ import annotations

import json
import re
from typing import Any

from infra_hcl import ROOT, Module, api_route_paths, local_value, ref


def _cron_hour_and_days(expression: str) -> tuple[int, int, str]:
    """cron(M H ? * DOW *) -> (hour, minute, days of week)."""
    match = re.fullmatch(r"cron\((\d+) (\d+) \? \* (\S+) \*\)", expression)
    assert match, expression
    return int(match.group(2)), int(match.group(1)), match.group(3)


def _statements(root: Module, document: str) -> dict[str, dict[str, Any]]:
    body = root.data["aws_iam_policy_document"][document]
    return {s["sid"]: s for s in body["statement"]}


def test_scorer_runs_on_an_eventbridge_schedule_after_the_weekly_training(root: Module) -> None:
    schedule = root.resource("aws_scheduler_schedule", "scorer")
    assert schedule["schedule_expression"] == "${var.scorer_schedule_expression}"
    assert schedule["schedule_expression_timezone"] == "UTC"
    assert schedule["flexible_time_window"][0]["mode"] == "OFF"
    scorer_hour, scorer_minute, scorer_days = _cron_hour_and_days(
        root.default("scorer_schedule_expression")
    )
    train_hour, train_minute, train_days = _cron_hour_and_days(
        root.default("trainer_schedule_expression")
    )
    # The same weekday, later: the scores use the champion the weekly training promoted.
    assert scorer_days == train_days
    assert (scorer_hour, scorer_minute) > (train_hour, train_minute)
    assert scorer_hour - train_hour >= 2, "leave the training (30 trials) time to finish"

    (target,) = schedule["target"]
    assert ref(target["arn"]) == "aws_ecs_cluster.this.arn"
    assert ref(target["role_arn"]) == "aws_iam_role.scorer_schedule[0].arn"
    (ecs,) = target["ecs_parameters"]
    assert ecs["task_definition_arn"] == "${module.scorer.task_definition_arn_without_revision}"
    assert (ecs["launch_type"], ecs["task_count"]) == ("FARGATE", 1)
    (network,) = ecs["network_configuration"]
    assert network["subnets"] == "${local.private_subnet_ids}"
    assert network["security_groups"] == ["${aws_security_group.scorer.id}"]
    assert network["assign_public_ip"] is False
    assert target["retry_policy"][0]["maximum_retry_attempts"] >= 1
    # No schedule without a store to write to.
    assert root.locals["scorer_scheduled"] == (
        "${var.scorer_schedule_expression != null && local.store_writer_url_secret_arn != null}"
    )


def test_scheduler_role_may_only_run_the_scorer_and_pass_its_roles(root: Module) -> None:
    assume = root.data["aws_iam_policy_document"]["assume_scheduler"]["statement"][0]
    assert assume["principals"][0]["identifiers"] == ["scheduler.amazonaws.com"]
    assert assume["condition"][0]["variable"] == "aws:SourceAccount"
    statements = _statements(root, "scorer_schedule")
    assert set(statements) == {"RunScorer", "PassScorerRoles"}
    run = statements["RunScorer"]
    assert run["actions"] == ["ecs:RunTask"]
    assert run["resources"] == ["${module.scorer.task_definition_arn_without_revision}:*"]
    assert run["condition"][0]["values"] == ["${aws_ecs_cluster.this.arn}"]
    passed = statements["PassScorerRoles"]
    assert passed["resources"] == [
        "${module.scorer.execution_role_arn}",
        "${aws_iam_role.scorer_task.arn}",
    ]
    assert passed["condition"][0]["values"] == ["ecs-tasks.amazonaws.com"]


def test_scorer_task_migrates_then_scores_the_s3_snapshot(root: Module) -> None:
    scorer = root.modules["scorer"]
    assert scorer["create_service"] is False
    assert scorer["image"] == "${local.images.scorer}"
    assert "churn-scorer" in root.locals["images"]["scorer"]
    command = root.locals["scorer_command"]
    assert command.index("churn-score migrate") < command.index("exec churn-score run")
    assert '--customers \\"$CUSTOMER_SNAPSHOT_URI\\"' in command
    assert scorer["environment"]["CUSTOMER_SNAPSHOT_URI"] == "${local.snapshot_uri}"
    assert root.locals["snapshot_uri"] == (
        "s3://${aws_s3_bucket.snapshots.bucket}/${var.customer_snapshot_prefix}"
    )
    # The API's trust in the model: the trainer's KMS public key, no unsigned bundles.
    environment = scorer["environment"]
    assert (
        environment["MODEL_PUBLIC_KEYS"]
        == "${data.aws_kms_public_key.model_signing.public_key_pem}"
    )
    assert "ALLOW_UNSIGNED_MODELS" not in environment
    assert environment["MODEL_CACHE_DIR"].startswith("${local.api_model_cache_root}")
    # With workers, the scorer hands its partitions to the scheduler by its Cloud Map name.
    assert root.locals["scorer_scheduler_args"] == (
        '${var.dask_workers > 0 ? " --scheduler ${local.dask_scheduler_address}" : ""}'
    )


def test_scorer_secrets_are_the_write_role_and_the_read_only_mlflow_identity(
    root: Module,
) -> None:
    assert root.modules["scorer"]["secrets"] == (
        "${merge(local.store_writer_url_secret_arn == null ? {} : "
        "{DATABASE_URL = local.store_writer_url_secret_arn}, local.mlflow_api_credentials)}"
    )
    assert root.locals["store_writer_url_secret_arn"].startswith(
        '${local.create_store ? aws_secretsmanager_secret.store_url["writer"].arn'
    )
    assert root.locals["store_reader_url_secret_arn"].startswith(
        '${local.create_store ? aws_secretsmanager_secret.store_url["reader"].arn'
    )
    # The API reads with the other role (test_infra_ecs.py asserts its secrets).
    assert "local.store_reader_url_secret_arn" in root.modules["api"]["secrets"]
    assert "store_writer" not in json.dumps(root.modules["api"])


def test_scorer_reads_only_its_snapshot_prefix(root: Module) -> None:
    statements = _statements(root, "scorer_task")
    # and publish its monitoring metrics (test_infra_monitoring.py checks that statement).
    assert set(statements) == {"ReadSnapshot", "ListSnapshotBucket", "PublishMonitoringMetrics"}
    read = statements["ReadSnapshot"]
    assert read["actions"] == ["s3:GetObject"]
    assert read["resources"] == ["${aws_s3_bucket.snapshots.arn}/${var.customer_snapshot_prefix}*"]
    listing = statements["ListSnapshotBucket"]
    assert listing["actions"] == ["s3:ListBucket"]
    assert listing["resources"] == ["${aws_s3_bucket.snapshots.arn}"]
    assert root.default("customer_snapshot_prefix").endswith("/")
    # Nothing else on the scorer's role: no write, no other bucket, no wildcard action.
    policies = [
        p for p in root.of_kind("aws_iam_role_policy").values() if "scorer_task" in p["role"]
    ]
    assert [p["policy"] for p in policies] == ["${data.aws_iam_policy_document.scorer_task.json}"]


def test_snapshot_bucket_is_private_encrypted_and_tls_only(root: Module) -> None:
    block = root.resource("aws_s3_bucket_public_access_block", "snapshots")
    assert all(block[k] is True for k in (
        "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"
    ))  # fmt: skip
    sse = root.resource("aws_s3_bucket_server_side_encryption_configuration", "snapshots")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == (
        "aws:kms"
    )
    deny = _statements(root, "snapshots_bucket")["DenyInsecureTransport"]
    assert deny["effect"] == "Deny" and deny["condition"][0]["values"] == ["false"]


def test_store_is_a_second_database_on_the_mlflow_instance(root: Module) -> None:
    text = (ROOT / "terraform" / "store.tf").read_text()
    # The decision and its reasons stay next to the code.
    assert "one PostgreSQL to run, patch, monitor and back up" in text
    assert "MLflow and the store cannot read each other" in text
    assert root.locals["store_roles"] == (
        '${local.create_store ? {writer = "churn_writer", reader = "churn_reader"} : {}}'
    )
    url = root.resource("aws_secretsmanager_secret_version", "store_url")["secret_string"]
    assert url == (
        "postgresql://${each.value}:${random_password.store[each.key].result}"
        "@${aws_db_instance.mlflow[0].endpoint}/churn_store?sslmode=require"
    )
    for name in ("store_password", "store_url"):
        secret = root.resource("aws_secretsmanager_secret", name)
        assert secret["for_each"] == "${local.store_roles}"
        assert secret["recovery_window_in_days"] > 0
    password = root.resource("random_password", "store")
    assert password["length"] >= 32 and password["special"] is False


def test_store_bootstrap_task_applies_init_sql_with_the_master_password(root: Module) -> None:
    bootstrap = root.modules["store_bootstrap"]
    assert bootstrap["create_service"] is False
    assert bootstrap["image"] == "${local.images.postgres}"
    assert bootstrap["command"] == ["bootstrap"]
    assert bootstrap["environment"]["PGSSLMODE"] == "require"
    assert bootstrap["secrets"] == {
        "PGPASSWORD": "${aws_secretsmanager_secret.db[0].arn}",
        "STORE_WRITER_PASSWORD": '${aws_secretsmanager_secret.store_password["writer"].arn}',
        "STORE_READER_PASSWORD": '${aws_secretsmanager_secret.store_password["reader"].arn}',
    }
    entrypoint = (ROOT / "docker" / "postgres" / "entrypoint.sh").read_text()
    assert '"${1:-}" = "bootstrap"' in entrypoint and "init.sql" in entrypoint
    assert "run_store_bootstrap_command" in root.outputs


def test_dask_cluster_is_off_by_default_and_named_in_cloud_map(root: Module) -> None:
    assert root.default("dask_workers") == 0
    scheduler, workers = root.modules["dask_scheduler"], root.modules["dask_workers"]
    assert scheduler["desired_count"] == "${local.dask_scheduler_count}"
    assert root.locals["dask_scheduler_count"] == "${var.dask_workers > 0 ? 1 : 0}"
    assert workers["desired_count"] == "${var.dask_workers}"
    for call in (scheduler, workers):
        assert call["image"] == "${local.images.scorer}"  # the client's Dask and churn_api
        assert call["subnet_ids"] == "${local.private_subnet_ids}"
        assert call["task_role_arn"] == "${aws_iam_role.dask_task.arn}"
        assert "secrets" not in call, "workers get the model and partitions from the client"
        assert "load_balancer" not in call
    assert not [p for p in root.of_kind("aws_iam_role_policy").values() if "dask" in p["role"]]

    discovery = root.resource("aws_service_discovery_service", "dask_scheduler")
    assert discovery["name"] == "dask-scheduler"
    namespace = discovery["dns_config"][0]["namespace_id"]
    assert ref(namespace) == "aws_service_discovery_private_dns_namespace.internal.id"
    assert scheduler["service_registry_arn"] == (
        "${aws_service_discovery_service.dask_scheduler.arn}"
    )
    assert root.locals["dask_scheduler_host"] == "dask-scheduler.${local.namespace_name}"
    assert local_value(root, "${local.dask_scheduler_port}") == 8786
    assert local_value(root, "${local.dask_dashboard_port}") == 8787
    assert scheduler["command"][:3] == [
        "scheduler",
        "--port",
        "${tostring(local.dask_scheduler_port)}",
    ]
    command = workers["command"]
    assert command[:2] == ["worker", "${local.dask_scheduler_address}"]
    # Fixed worker ports: what the security groups allow (test_infra_security_groups.py).
    assert command[command.index("--worker-port") + 1] == "${tostring(local.dask_worker_port)}"
    assert command[command.index("--nanny-port") + 1] == "${tostring(local.dask_nanny_port)}"


def test_dask_scheduler_is_reachable_only_from_the_scorer_and_the_workers(root: Module) -> None:
    rules = [
        rule
        for rule in root.of_kind("aws_vpc_security_group_ingress_rule").values()
        if rule["security_group_id"] == "${aws_security_group.dask_scheduler.id}"
    ]
    peers = sorted(ref(rule["referenced_security_group_id"]) for rule in rules)
    assert peers == ["aws_security_group.dask_worker.id", "aws_security_group.scorer.id"]
    for rule in rules:
        assert "cidr_ipv4" not in rule and "cidr_ipv6" not in rule
        assert (rule["from_port"], rule["to_port"]) == (
            "${local.dask_scheduler_port}",
            "${local.dask_dashboard_port}",
        )


def test_customer_routes_reach_the_api_and_no_internal_rule_or_waf_rule_blocks_them(
    root: Module,
) -> None:
    routes = api_route_paths()
    for method, path in (
        ("GET", "/customers"),
        ("GET", "/customers/{customer_id}"),
        ("POST", "/customers/{customer_id}/predict"),
    ):
        assert (method, path) in routes, f"{method} {path} is not a route of churn_api"
    # The ALB: no rule of its own (ECS re-weights the one production rule), so the default
    # action or rule 100 forwards them to the API; no internal-only rule matches them.
    https = root.resource("aws_lb_listener", "https")
    assert ref(https["default_action"][0]["target_group_arn"]) == "aws_lb_target_group.api.arn"
    internal = [p for route in root.locals["internal_only_routes"].values() for p in route["paths"]]
    for pattern in internal:
        prefix = pattern.rstrip("*")
        assert not "/customers".startswith(prefix) and not prefix.startswith("/customers"), pattern
    forwarding = [
        rule for rule in root.of_kind("aws_lb_listener_rule").values() if "condition" in rule
    ]
    for rule in forwarding:
        values = rule["condition"][0]["path_pattern"][0]["values"]
        assert not any(v.startswith("/customers") for v in values), values
    waf = re.compile(root.locals["waf_internal_paths"].replace("\\\\", "\\"))
    for path in ("/customers", "/customers/7590-VHVEG", "/customers/7590-VHVEG/predict"):
        assert not waf.search(path), path
