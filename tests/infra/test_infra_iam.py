"""IAM: least privilege (the API only reads the artifact bucket, no stray wildcards)."""

from __future__ import annotations

from typing import Any

from infra_hcl import Module, walk

WILDCARD_ALLOWED = {"ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"}
# In a KMS key policy the resource "*" means the key itself.
KEY_POLICIES = {"model_signing_key"}


def _statements(module: Module) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, document in module.data.get("aws_iam_policy_document", {}).items():
        for statement in document.get("statement", []):
            found.append((name, statement))
        for dynamic in document.get("dynamic", []):
            for content in dynamic.get("statement", {}).get("content", []):
                found.append((name, content))
    return found


def test_no_wildcard_actions_and_star_resources_only_where_unavoidable(
    root: Module, service_module: Module, network_module: Module
) -> None:
    for module in (root, service_module, network_module):
        for name, statement in _statements(module):
            actions = statement.get("actions", [])
            assert all("*" not in a for a in actions if statement.get("effect") != "Deny"), name
            if "*" in statement.get("resources", []) and name not in KEY_POLICIES:
                if actions == ["cloudwatch:PutMetricData"]:  # no resource ARN exists for it
                    (condition,) = statement["condition"]  # narrowed to one namespace instead
                    assert condition["variable"] == "cloudwatch:namespace", name
                    assert condition["test"] == "StringEquals", name
                    continue
                assert statement.get("effect") != "Allow" or set(actions) <= WILDCARD_ALLOWED, (
                    f"{name}: {actions} on '*'"
                )
    for value in walk(root.resources):
        assert value != "arn:aws:iam::aws:policy/AdministratorAccess"


def test_api_task_role_only_reads_the_artifact_bucket(root: Module) -> None:
    statements = _statements(root)
    api = [s for name, s in statements if name == "api_task"]
    actions = {a for s in api for a in s["actions"]}
    assert actions == {"s3:GetObject", "s3:ListBucket"}
    for statement in api:
        for resource in statement["resources"]:
            assert "aws_s3_bucket.artifacts[0].arn" in resource
    mlflow = {a for name, s in statements if name == "mlflow_task" for a in s["actions"]}
    assert "s3:PutObject" in mlflow
    # The UI task role carries no policy at all; the trainer's only signs (test_infra_signing).
    attached = {ref_role for p in root.of_kind("aws_iam_role_policy").values()
                for ref_role in [p["role"]]}  # fmt: skip
    assert not any("ui_task" in r for r in attached)


def test_execution_role_reads_only_its_own_secrets_and_logs(service_module: Module) -> None:
    document = service_module.data["aws_iam_policy_document"]["execution"]
    logs = document["statement"][0]
    assert logs["actions"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["resources"] == ["${aws_cloudwatch_log_group.this.arn}:*"]
    secrets = document["dynamic"][0]["statement"]["content"][0]
    assert secrets["actions"] == ["secretsmanager:GetSecretValue"]
    # Exactly the secrets of var.secrets, with a JSON-key selector ("<arn>:password::") cut
    # back to the secret ARN IAM knows: the first seven colon-separated fields.
    assert secrets["resources"] == (
        '${distinct([for v in values(var.secrets) : join(":", '
        'slice(split(":", v), 0, min(7, length(split(":", v)))))])}'
    )
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:churn/mlflow-api-AbCdEf"
    for value in (arn, f"{arn}:password::", f"{arn}:username::"):
        parts = value.split(":")
        assert ":".join(parts[: min(7, len(parts))]) == arn


def test_roles_are_assumable_only_by_their_service_in_this_account(root: Module) -> None:
    tasks = root.data["aws_iam_policy_document"]["assume_ecs_tasks"]["statement"][0]
    assert tasks["principals"][0]["identifiers"] == ["ecs-tasks.amazonaws.com"]
    assert tasks["condition"][0]["variable"] == "aws:SourceAccount"
    github = root.data["aws_iam_policy_document"]["github_assume"]["statement"][0]
    subjects = next(c for c in github["condition"] if c["variable"].endswith(":sub"))["values"]
    assert all(s.startswith("repo:${var.github_repository}:") for s in subjects)
