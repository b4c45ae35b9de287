"""The console login: the ALB authenticates /ui (Cognito or OIDC) before Streamlit sees it."""

from __future__ import annotations

from typing import Any

from infra_hcl import Module, ref


def _dynamic_actions(rule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rule's dynamic action blocks by action type."""
    actions = [d["action"] for d in rule.get("dynamic", []) if "action" in d]
    return {a["content"][0]["type"]: a for a in actions}


def test_ui_rule_authenticates_before_it_forwards(root: Module) -> None:
    rule = root.resource("aws_lb_listener_rule", "ui")
    auth = _dynamic_actions(rule)
    assert set(auth) == {"authenticate-cognito", "authenticate-oidc"}
    # Exactly one of the two exists: Cognito unless an OIDC provider is configured.
    assert auth["authenticate-cognito"]["for_each"] == "${local.console_oidc ? [] : [1]}"
    assert auth["authenticate-oidc"]["for_each"] == "${local.console_oidc ? [1] : []}"
    assert root.locals["console_oidc"] == "${var.console_oidc != null}"
    (forward,) = rule["action"]
    assert forward["type"] == "forward"
    for action in auth.values():
        assert action["content"][0]["order"] < forward["order"]


def test_unauthenticated_console_requests_are_sent_to_the_login(root: Module) -> None:
    auth = _dynamic_actions(root.resource("aws_lb_listener_rule", "ui"))
    cognito = auth["authenticate-cognito"]["content"][0]["authenticate_cognito"][0]
    oidc = auth["authenticate-oidc"]["content"][0]["authenticate_oidc"][0]
    for config in (cognito, oidc):
        assert config["on_unauthenticated_request"] == "authenticate"
        assert config["session_timeout"] == "${var.console_session_seconds}"
    assert root.default("console_session_seconds") <= 86400
    assert ref(cognito["user_pool_arn"]) == "aws_cognito_user_pool.console[0].arn"
    assert ref(cognito["user_pool_client_id"]) == "aws_cognito_user_pool_client.console[0].id"
    assert ref(cognito["user_pool_domain"]) == "aws_cognito_user_pool_domain.console[0].domain"
    # The OIDC client secret comes from Secrets Manager, never from a plain variable.
    assert oidc["client_secret"] == (
        "${data.aws_secretsmanager_secret_version.console_oidc[0].secret_string}"
    )
    secret = root.data["aws_secretsmanager_secret_version"]["console_oidc"]
    assert secret["secret_id"] == "${var.console_oidc.client_secret_arn}"


def test_cognito_pool_admin_created_users_mfa_and_strong_passwords(root: Module) -> None:
    pool = root.resource("aws_cognito_user_pool", "console")
    assert pool["admin_create_user_config"][0]["allow_admin_create_user_only"] is True
    assert pool["mfa_configuration"] == "${var.console_mfa}"
    assert root.default("console_mfa") in {"ON", "OPTIONAL"}
    assert pool["software_token_mfa_configuration"][0]["enabled"] is True
    passwords = pool["password_policy"][0]
    assert passwords["minimum_length"] >= 12
    for kind in ("lowercase", "uppercase", "numbers", "symbols"):
        assert passwords[f"require_{kind}"] is True, kind


def test_cognito_client_uses_the_code_flow_back_to_the_alb(root: Module) -> None:
    client = root.resource("aws_cognito_user_pool_client", "console")
    assert client["generate_secret"] is True  # the ALB is a confidential client
    assert client["allowed_oauth_flows"] == ["code"]
    assert client["allowed_oauth_flows_user_pool_client"] is True
    assert "openid" in client["allowed_oauth_scopes"]
    assert client["callback_urls"] == ["${local.console_callback_url}"]
    assert (
        root.locals["console_callback_url"] == "https://${local.public_hostname}/oauth2/idpresponse"
    )


def test_oidc_endpoints_must_be_https(root: Module) -> None:
    validations = root.variables["console_oidc"]["validation"]
    conditions = " ".join(v["condition"] for v in validations)
    assert 'startswith(url, "https://")' in conditions
    assert "secretsmanager" in conditions
    assert root.default("console_oidc") is None


def test_alb_may_call_the_identity_provider_over_https_only(root: Module) -> None:
    egress = root.resource("aws_vpc_security_group_egress_rule", "alb_to_idp")
    assert egress["security_group_id"] == "${aws_security_group.alb.id}"
    assert (egress["from_port"], egress["to_port"], egress["ip_protocol"]) == (443, 443, "tcp")
