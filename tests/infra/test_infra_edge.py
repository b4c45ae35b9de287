"""The internet edge: HTTPS only, operator routes refused, WAF in front, access logs behind."""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any
from urllib.parse import unquote

import pytest
from infra_hcl import Module, api_route_paths, ref, walk

# FastAPI's own documentation routes, served unless disabled.
DOC_ROUTES = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc")
OPERATOR_PREFIXES = ("/admin", "/metrics", "/model")
PUBLIC_PATHS = ("/", "/predict", "/predict/batch", "/health/ready", "/ui", "/ui/_stcore/stream")


def _alb_pattern(pattern: str) -> re.Pattern[str]:
    """ALB path-pattern semantics: case-sensitive, '*' = any run, '?' = one character."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in pattern))  # fmt: skip


def _hcl_string(value: str) -> str:
    """Undo HCL string escapes python-hcl2 leaves in place ('\\\\.' -> '\\.')."""
    return value.replace("\\\\", "\\")


def _operator_paths() -> list[str]:
    """Every GET/POST route of churn_api that only operators may call, plus FastAPI's docs."""
    routes = {path for _, path in api_route_paths()}
    operator = sorted(p for p in routes if p.startswith(OPERATOR_PREFIXES))
    assert "/admin/reload" in operator and "/metrics" in operator and "/model" in operator
    return [*operator, *DOC_ROUTES]


def _blocked_by_alb(root: Module, path: str) -> bool:
    routes = root.locals["internal_only_routes"]
    return any(_alb_pattern(p).fullmatch(path) for r in routes.values() for p in r["paths"])


# --- TLS ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef01234567", True),
        ("arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/0a1b2c3d-4e5f", True),
        ("", False),
        ("none", False),
        ("arn:aws:iam::123456789012:server-certificate/churn", False),
    ],
)  # fmt: skip
def test_certificate_is_required_and_must_be_an_acm_arn(
    root: Module, value: str, accepted: bool
) -> None:
    variable = root.variables["certificate_arn"]
    assert "default" not in variable  # required input
    assert variable["nullable"] is False  # an explicit null is refused too
    (validation,) = variable["validation"]
    match = re.fullmatch(r'\$\{can\(regex\("(.+)", var\.certificate_arn\)\)\}',
                         validation["condition"])  # fmt: skip
    assert match, validation["condition"]
    assert bool(re.search(_hcl_string(match.group(1)), value)) is accepted
    assert "HTTPS only" in validation["error_message"]


def test_http_listener_only_redirects_to_https_with_301(root: Module) -> None:
    http = root.resource("aws_lb_listener", "http")
    assert (http["port"], http["protocol"]) == (80, "HTTP")
    assert "dynamic" not in http
    (action,) = http["default_action"]
    assert action["type"] == "redirect"
    target = action["redirect"][0]
    assert (target["port"], target["protocol"], target["status_code"]) == (
        "443",
        "HTTPS",
        "HTTP_301",
    )
    # No listener rule hangs off port 80: it can only ever redirect.
    for name, rule in root.of_kind("aws_lb_listener_rule").items():
        assert ref(rule["listener_arn"]) == "aws_lb_listener.https.arn", name


def test_https_ingress_is_always_open_to_the_allowed_cidrs(root: Module) -> None:
    rule = root.resource("aws_vpc_security_group_ingress_rule", "alb_https")
    assert rule["for_each"] == "${toset(var.allowed_ingress_cidrs)}"
    assert rule["from_port"] == rule["to_port"] == 443


# --- Operator routes ------------------------------------------------------------------------------
def test_operator_routes_get_a_fixed_404_before_any_api_rule(root: Module) -> None:
    rule = root.resource("aws_lb_listener_rule", "internal_only")
    assert rule["for_each"] == "${local.internal_only_routes}"
    assert rule["priority"] == "${each.value.priority}"
    assert rule["condition"][0]["path_pattern"][0]["values"] == "${each.value.paths}"
    response = rule["action"][0]
    assert response["type"] == "fixed-response"
    assert response["fixed_response"][0]["status_code"] in {"403", "404"}

    routes = root.locals["internal_only_routes"]
    priorities = [r["priority"] for r in routes.values()]
    assert len(set(priorities)) == len(priorities)
    for r in routes.values():
        assert len(r["paths"]) <= 3  # ALB limit: three values per condition
    forward_rules = [
        rule for name, rule in root.of_kind("aws_lb_listener_rule").items()
        if name != "internal_only"
        and any("forward" in json.dumps(a) for a in walk(rule) if isinstance(a, dict))
    ]  # fmt: skip
    assert forward_rules
    assert max(priorities) < min(r["priority"] for r in forward_rules)


@pytest.mark.parametrize("path", _operator_paths())
def test_every_operator_route_of_the_api_is_refused_at_the_alb(root: Module, path: str) -> None:
    assert _blocked_by_alb(root, path), f"{path} is reachable from the internet"


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_public_paths_are_not_refused(root: Module, path: str) -> None:
    assert not _blocked_by_alb(root, path)


# --- WAF ------------------------------------------------------------------------------------------
def _rules(root: Module) -> dict[str, dict[str, Any]]:
    acl = root.resource("aws_wafv2_web_acl", "alb")
    return {rule["name"]: rule for rule in acl["rule"]}


def test_web_acl_is_regional_and_associated_with_the_alb(root: Module) -> None:
    acl = root.resource("aws_wafv2_web_acl", "alb")
    assert acl["scope"] == "REGIONAL"
    association = root.resource("aws_wafv2_web_acl_association", "alb")
    assert ref(association["resource_arn"]) == "aws_lb.this.arn"
    assert ref(association["web_acl_arn"]) == "aws_wafv2_web_acl.alb.arn"
    priorities = [rule["priority"] for rule in acl["rule"]]
    assert len(set(priorities)) == len(priorities)


def test_rate_based_rule_blocks_per_ip(root: Module) -> None:
    rule = _rules(root)["RateLimitPerIp"]
    assert "block" in rule["action"][0]
    statement = rule["statement"][0]["rate_based_statement"][0]
    assert statement["aggregate_key_type"] == "IP"
    assert statement["limit"] == "${var.waf_rate_limit}"
    assert root.default("waf_rate_limit") >= 100


def test_managed_common_rule_set_blocks_and_only_the_body_size_rule_counts(root: Module) -> None:
    rule = _rules(root)["CommonRuleSet"]
    assert "none" in rule["override_action"][0]  # the group's own block actions apply
    group = rule["statement"][0]["managed_rule_group_statement"][0]
    assert (group["vendor_name"], group["name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    overrides = {o["name"]: o["action_to_use"][0] for o in group["rule_action_override"]}
    assert overrides == {"SizeRestrictions_BODY": {"count": [{}]}}
    bad_inputs = _rules(root)["KnownBadInputs"]["statement"][0]["managed_rule_group_statement"]
    assert bad_inputs[0]["name"] == "AWSManagedRulesKnownBadInputsRuleSet"


def test_large_bodies_are_blocked_except_on_batch_scoring_and_console_upload(root: Module) -> None:
    rules = _rules(root)
    oversized = rules["OversizedBody"]
    # Labels are only visible to rules evaluated after the rule group that adds them.
    assert oversized["priority"] > rules["CommonRuleSet"]["priority"]
    assert "block" in oversized["action"][0]
    label, negated = oversized["statement"][0]["and_statement"][0]["statement"]
    assert label["label_match_statement"][0]["key"] == (
        "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
    )
    regex = negated["not_statement"][0]["statement"][0]["regex_match_statement"][0]
    assert regex["regex_string"] == "${local.waf_large_body_paths}"
    exempt = re.compile(_hcl_string(root.locals["waf_large_body_paths"]))
    assert exempt.search("/predict/batch")
    assert exempt.search("/ui/_stcore/upload_file/session/file")
    for path in ("/predict", "/predict/batch/x", "/admin/reload", "/ui/app"):
        assert not exempt.search(path), path


@pytest.mark.parametrize(
    "raw", ["/admin/reload", "/%61dmin/reload", "/predict/../admin/reload", "/metrics",
            "/docs", "/openapi.json", "/redoc", "/model", "//model"],
)  # fmt: skip
def test_waf_blocks_encoded_and_unnormalised_operator_paths(root: Module, raw: str) -> None:
    rule = _rules(root)["InternalPaths"]
    assert "block" in rule["action"][0]
    statement = rule["statement"][0]["regex_match_statement"][0]
    assert [t["type"] for t in statement["text_transformation"]] == ["URL_DECODE", "NORMALIZE_PATH"]
    pattern = re.compile(_hcl_string(root.locals["waf_internal_paths"]))
    # WAF's URL_DECODE then NORMALIZE_PATH: decode, collapse slashes, resolve dot segments.
    normalised = posixpath.normpath(re.sub("/+", "/", unquote(raw)))
    assert pattern.search(normalised), normalised
    for public in PUBLIC_PATHS:
        assert not pattern.search(public), public


def test_waf_logs_redact_credentials_and_keep_only_refusals(root: Module) -> None:
    logging = root.resource("aws_wafv2_web_acl_logging_configuration", "alb")
    assert ref(logging["resource_arn"]) == "aws_wafv2_web_acl.alb.arn"
    assert logging["log_destination_configs"] == ["${aws_cloudwatch_log_group.waf.arn}"]
    redacted = {f["single_header"][0]["name"] for f in logging["redacted_fields"]}
    assert redacted == {"authorization", "cookie"}
    assert root.resource("aws_cloudwatch_log_group", "waf")["name"].startswith("aws-waf-logs-")


# --- Access logs ----------------------------------------------------------------------------------
def test_alb_writes_access_logs_to_its_bucket(root: Module) -> None:
    alb = root.resource("aws_lb", "this")
    logs = alb["access_logs"][0]
    assert logs["enabled"] is True
    assert ref(logs["bucket"]) == "aws_s3_bucket.alb_logs.id"
    assert logs["prefix"] == "${local.alb_log_prefix}"
    assert "aws_s3_bucket_policy.alb_logs" in alb["depends_on"][0]


def test_access_log_bucket_is_private_sse_s3_versioned_and_expiring(root: Module) -> None:
    block = root.resource("aws_s3_bucket_public_access_block", "alb_logs")
    for key in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                "restrict_public_buckets"):  # fmt: skip
        assert block[key] is True, key
    sse = root.resource("aws_s3_bucket_server_side_encryption_configuration", "alb_logs")
    # ALB log delivery accepts SSE-S3 only; SSE-KMS would silently stop the logs.
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "AES256"
    versioning = root.resource("aws_s3_bucket_versioning", "alb_logs")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    rule = root.resource("aws_s3_bucket_lifecycle_configuration", "alb_logs")["rule"][0]
    assert rule["expiration"][0]["days"] == "${var.alb_log_retention_days}"
    assert "noncurrent_version_expiration" in rule


def test_access_log_bucket_policy_admits_elb_delivery_and_denies_plain_http(root: Module) -> None:
    policy = root.data["aws_iam_policy_document"]["alb_logs"]
    statements = {s["sid"]: s for s in policy["statement"]}
    delivery = statements["ElbLogDelivery"]
    assert delivery["actions"] == ["s3:PutObject"]
    assert delivery["principals"][0] == {
        "type": "Service",
        "identifiers": ["logdelivery.elasticloadbalancing.amazonaws.com"],
    }
    (resource,) = delivery["resources"]
    assert "${local.alb_log_prefix}/AWSLogs/${data.aws_caller_identity.current.account_id}/*" in (
        resource
    )
    deny = statements["DenyInsecureTransport"]
    assert deny["effect"] == "Deny"
    assert deny["condition"][0]["variable"] == "aws:SecureTransport"
    assert deny["condition"][0]["values"] == ["false"]
