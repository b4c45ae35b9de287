"""ALB routing: listeners, rules, target groups and their health checks vs the real services."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from infra_hcl import ROOT, Module, api_route_paths, local_value, ref


def test_api_target_group_port_and_liveness_health_check(root: Module) -> None:
    tg = root.resource("aws_lb_target_group", "api")
    assert local_value(root, tg["port"]) == 8000
    assert tg["target_type"] == "ip"
    health = tg["health_check"][0]
    assert health["path"] == "/"
    assert health["matcher"] == "200"
    # Short draining for short requests; a default 300 s would slow every deployment.
    assert tg["deregistration_delay"] <= 30


def test_ui_target_group_port_health_check_and_stickiness(root: Module) -> None:
    tg = root.resource("aws_lb_target_group", "ui")
    assert local_value(root, tg["port"]) == 8501
    assert tg["health_check"][0]["path"] == "/ui/_stcore/health"
    stickiness = tg["stickiness"][0]
    assert stickiness["enabled"] is True
    assert stickiness["type"] == "lb_cookie"
    # Websocket sessions get time to drain, but not the 300 s default.
    assert 30 <= tg["deregistration_delay"] <= 120


def test_alternate_api_target_group_matches_the_primary(root: Module) -> None:
    primary = root.resource("aws_lb_target_group", "api")
    alternate = root.resource("aws_lb_target_group", "api_alternate")
    for key in ("port", "protocol", "target_type", "deregistration_delay", "health_check"):
        assert alternate[key] == primary[key], key


def test_ui_rule_routes_both_ui_paths_to_the_ui_target_group_first(root: Module) -> None:
    rule = root.resource("aws_lb_listener_rule", "ui")
    assert rule["condition"][0]["path_pattern"][0]["values"] == ["/ui", "/ui/*"]
    # The forward comes last, after the login (test_infra_console_login.py).
    (action,) = rule["action"]
    assert action["type"] == "forward"
    assert ref(action["target_group_arn"]) == "aws_lb_target_group.ui.arn"
    canary_rule = root.resource("aws_lb_listener_rule", "api")
    # Lower number = evaluated first: /ui must win over the API's catch-all canary rule.
    assert rule["priority"] < canary_rule["priority"]
    assert canary_rule["condition"][0]["path_pattern"][0]["values"] == ["/*"]
    # Both rules sit on the HTTPS listener, the only one that serves the app.
    assert ref(rule["listener_arn"]) == ref(canary_rule["listener_arn"])
    assert ref(rule["listener_arn"]) == "aws_lb_listener.https.arn"


def test_canary_rule_weights_primary_and_alternate_and_leaves_them_to_ecs(root: Module) -> None:
    rule = root.resource("aws_lb_listener_rule", "api")
    groups = rule["action"][0]["forward"][0]["target_group"]
    weights = {ref(g["arn"]): g["weight"] for g in groups}
    assert weights == {
        "aws_lb_target_group.api.arn": 100,
        "aws_lb_target_group.api_alternate[0].arn": 0,
    }
    assert rule["lifecycle"][0]["ignore_changes"] == ["action"]
    assert rule["count"] == "${local.api_traffic_shifting ? 1 : 0}"


def test_https_listener_forwards_to_the_api_by_default_with_modern_tls(root: Module) -> None:
    https = root.resource("aws_lb_listener", "https")
    assert "count" not in https  # always present: there is no plain-HTTP mode
    assert https["port"] == 443
    assert https["protocol"] == "HTTPS"
    assert https["certificate_arn"] == "${var.certificate_arn}"
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    assert ref(https["default_action"][0]["target_group_arn"]) == "aws_lb_target_group.api.arn"


def test_alb_idle_timeout_is_below_the_api_keep_alive_requirement(root: Module) -> None:
    alb = root.resource("aws_lb", "this")
    assert alb["internal"] is False
    assert alb["drop_invalid_header_fields"] is True
    # PITFALLS: uvicorn must keep connections open longer than this (65 s); 60 is the ceiling.
    assert alb["idle_timeout"] <= 60


def test_api_health_check_path_is_a_real_get_route(root: Module) -> None:
    path = root.resource("aws_lb_target_group", "api")["health_check"][0]["path"]
    routes = api_route_paths()
    assert ("GET", path) in routes or ("API_ROUTE", path) in routes, (
        f"ALB health check GET {path} is not a route of churn_api: {sorted(routes)}"
    )


def _streamlit_base_url_path() -> str | None:
    """server.baseUrlPath from the command line the real `churn-ui` launcher builds."""
    from churn_ui.launcher import streamlit_args
    from churn_ui.settings import UISettings

    for arg in streamlit_args(UISettings()):
        if arg.startswith("--server.baseUrlPath="):
            return arg.split("=", 1)[1]
    return None


def test_ui_health_check_path_matches_streamlit_base_url_path(root: Module) -> None:
    base = _streamlit_base_url_path()
    assert base is not None, "churn-ui does not set server.baseUrlPath"
    assert base.strip("/") == "ui"
    path = root.resource("aws_lb_target_group", "ui")["health_check"][0]["path"]
    assert path == f"/{base.strip('/')}/_stcore/health"


@pytest.mark.parametrize(
    ("dockerfile", "port"),
    [("inference-service/Dockerfile", 8000), ("ui-service/Dockerfile", 8501),
     ("docker/mlflow/Dockerfile", 5000)],
)  # fmt: skip
def test_dockerfiles_expose_the_ports_the_target_groups_use(dockerfile: str, port: int) -> None:
    path = Path(ROOT / dockerfile)
    exposed = {int(p.split("/")[0]) for p in re.findall(r"^EXPOSE\s+(.+)$", path.read_text(), re.M)
               for p in p.split()}  # fmt: skip
    assert port in exposed, f"{dockerfile} exposes {exposed}, Terraform routes to {port}"
