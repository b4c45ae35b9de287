"""Security-group graph: only the ALB faces the internet; each hop is one port from one group."""

from __future__ import annotations

from typing import Any

import pytest
from infra_hcl import Module, local_value, ref

TASK_GROUPS = {
    "api", "ui", "trainer", "mlflow", "db", "scorer", "dask_scheduler", "dask_worker",
    "store_bootstrap",
}  # fmt: skip


def _group(expression: str) -> str:
    """'${aws_security_group.mlflow[0].id}' -> 'mlflow'."""
    address = ref(expression)
    assert address.startswith("aws_security_group."), address
    return address.split(".")[1].split("[")[0]


def _edges(root: Module, kind: str) -> list[dict[str, Any]]:
    edges = []
    for name, rule in root.of_kind(kind).items():
        source = rule.get("referenced_security_group_id")
        edges.append(
            {
                "name": name,
                "group": _group(rule["security_group_id"]),
                "peer": _group(source) if source else None,
                "cidr": rule.get("cidr_ipv4") or rule.get("cidr_ipv6"),
                "ports": (
                    local_value(root, rule["from_port"]),
                    local_value(root, rule["to_port"]),
                ),
                "protocol": rule["ip_protocol"],
            }
        )
    return edges


@pytest.fixture(scope="module")
def ingress(root: Module) -> list[dict[str, Any]]:
    return _edges(root, "aws_vpc_security_group_ingress_rule")


@pytest.fixture(scope="module")
def egress(root: Module) -> list[dict[str, Any]]:
    return _edges(root, "aws_vpc_security_group_egress_rule")


def test_no_inline_rules_and_no_legacy_rule_resources(root: Module) -> None:
    # Inline ingress/egress blocks or aws_security_group_rule would bypass this graph.
    assert not root.of_kind("aws_security_group_rule")
    for name, group in root.of_kind("aws_security_group").items():
        assert "ingress" not in group, name
        assert "egress" not in group, name


def test_only_the_alb_accepts_traffic_from_cidrs(ingress: list[dict[str, Any]]) -> None:
    from_cidr = [e for e in ingress if e["cidr"] is not None]
    assert {e["group"] for e in from_cidr} == {"alb"}
    assert {e["ports"] for e in from_cidr} == {(80, 80), (443, 443)}
    for edge in ingress:
        if edge["group"] in TASK_GROUPS:
            assert edge["cidr"] is None, f"{edge['name']} opens a task to {edge['cidr']}"
            assert edge["peer"] is not None


def test_alb_cidrs_come_from_the_variable(root: Module) -> None:
    for name in ("alb_http", "alb_https"):
        rule = root.resource("aws_vpc_security_group_ingress_rule", name)
        assert rule["cidr_ipv4"] == "${each.value}"
        assert "var.allowed_ingress_cidrs" in rule["for_each"]


def test_each_task_accepts_only_its_own_port_from_the_expected_groups(
    ingress: list[dict[str, Any]],
) -> None:
    allowed = {
        "api": ({"alb", "ui"}, (8000, 8000)),
        "ui": ({"alb"}, (8501, 8501)),
        "mlflow": ({"api", "trainer", "scorer"}, (5000, 5000)),
        # The MLflow database and the customer store (a second database, same instance).
        "db": ({"mlflow", "api", "scorer", "store_bootstrap"}, (5432, 5432)),
        "trainer": (set(), None),
        "scorer": (set(), None),
        "store_bootstrap": (set(), None),
        # Dask: the protocol and the dashboard from the client and the workers only ...
        "dask_scheduler": ({"scorer", "dask_worker"}, (8786, 8787)),
        # ... the worker and nanny ports from the scheduler, the client and the other workers.
        "dask_worker": ({"dask_scheduler", "scorer", "dask_worker"}, (8788, 8789)),
    }
    for group, (peers, ports) in allowed.items():
        edges = [e for e in ingress if e["group"] == group]
        assert {e["peer"] for e in edges} == peers, group
        for edge in edges:
            assert edge["ports"] == ports, edge
            assert edge["protocol"] == "tcp", edge


def test_alb_reaches_only_the_task_ports_and_the_identity_provider(
    egress: list[dict[str, Any]],
) -> None:
    alb = {(e["peer"], e["cidr"], e["ports"]) for e in egress if e["group"] == "alb"}
    # HTTPS out is for the console login: the ALB calls the IdP's token/user-info endpoints.
    assert alb == {
        ("api", None, (8000, 8000)),
        ("ui", None, (8501, 8501)),
        (None, "0.0.0.0/0", (443, 443)),
    }


def test_task_egress_is_https_or_a_named_peer(egress: list[dict[str, Any]]) -> None:
    for edge in egress:
        if edge["group"] == "alb":
            continue
        if edge["cidr"] is not None:
            assert edge["cidr"] == "0.0.0.0/0", edge
            assert edge["ports"] == (443, 443), edge
        else:
            assert edge["peer"] in TASK_GROUPS, edge
    db_egress = [e for e in egress if e["group"] == "db"]
    assert db_egress == []


def test_tasks_never_get_public_addresses(root: Module, service_module: Module) -> None:
    service = service_module.resource("aws_ecs_service", "this")
    assert service["network_configuration"][0]["assign_public_ip"] is False
    target = root.resource("aws_cloudwatch_event_target", "trainer")
    assert target["ecs_target"][0]["network_configuration"][0]["assign_public_ip"] is False
    for name in ("api", "ui"):
        call = root.modules[name]
        assert call["subnet_ids"] == "${local.private_subnet_ids}"
        assert call["security_group_ids"] == [f"${{aws_security_group.{name}.id}}"]


def test_database_is_private(root: Module) -> None:
    db = root.resource("aws_db_instance", "mlflow")
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True
    assert db["vpc_security_group_ids"] == ["${aws_security_group.db[0].id}"]
