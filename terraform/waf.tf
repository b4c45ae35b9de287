# AWS WAF in front of the ALB. Rules in evaluation order:
#   0 RateLimitPerIp      block an IP above var.waf_rate_limit requests per 5 minutes
#   1 InternalPaths       block operator routes after URL-decoding and path normalisation (the
#                         ALB's 404 rules match the raw, case-sensitive path only)
#   2 CommonRuleSet       AWS managed core rules; SizeRestrictions_BODY (body > 8 KB) only counts
#   3 KnownBadInputs      AWS managed rules for exploit payloads (Log4j JNDI and others)
#   4 AnonymousIp         AWS managed list: Tor exits and anonymising proxies blocked;
#                         hosting-provider addresses (where API clients run) only counted
#   5 OversizedBody       blocks what SizeRestrictions_BODY labelled, except on the two paths
#                         that legitimately carry large bodies: POST /predict/batch (up to
#                         10,000 rows) and the console's CSV upload /ui/_stcore/upload_file/...
# The ALB passes only the first 8 KB of a body to WAF; a batch body beyond that is not
# inspected, and the API enforces its own size and row limits.

locals {
  waf_large_body_paths = "^/predict/batch$|^/ui/_stcore/upload_file/"
  waf_internal_paths   = "^/(admin(/|$)|metrics/?$|docs(/|$)|openapi\\.json$|redoc/?$|model(/|$))"
}

resource "aws_wafv2_web_acl" "alb" {
  name        = "${var.project}-alb"
  description = "Edge protection of the ${var.project} ALB"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "RateLimitPerIp"
    priority = 0
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit                 = var.waf_rate_limit
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "InternalPaths"
    priority = 1
    action {
      block {}
    }
    statement {
      regex_match_statement {
        regex_string = local.waf_internal_paths
        field_to_match {
          uri_path {}
        }
        text_transformation {
          priority = 0
          type     = "URL_DECODE"
        }
        text_transformation {
          priority = 1
          type     = "NORMALIZE_PATH"
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-internal-paths"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "CommonRuleSet"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"
        # Count instead of block; rule 5 blocks on its label outside the large-body paths.
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "KnownBadInputs"
    priority = 3
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AnonymousIp"
    priority = 4
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAnonymousIpList"
        vendor_name = "AWS"
        # API clients are servers, often in a cloud: hosting-provider addresses only count.
        # Tor exits and anonymising proxies (AnonymousIPList) stay blocked.
        rule_action_override {
          name = "HostingProviderIPList"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "OversizedBody"
    priority = 5
    action {
      block {}
    }
    statement {
      and_statement {
        statement {
          label_match_statement {
            scope = "LABEL"
            key   = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
          }
        }
        statement {
          not_statement {
            statement {
              regex_match_statement {
                regex_string = local.waf_large_body_paths
                field_to_match {
                  uri_path {}
                }
                text_transformation {
                  priority = 0
                  type     = "NONE"
                }
              }
            }
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-oversized-body"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.project}-alb"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "alb" {
  resource_arn = aws_lb.this.arn
  web_acl_arn  = aws_wafv2_web_acl.alb.arn
}

# WAF logs only what it blocked or counted (the ALB access logs have every request), with the
# Authorization header and cookies redacted: no bearer tokens or console sessions in logs.
# The log group name must start with "aws-waf-logs-".
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${var.project}"
  retention_in_days = var.log_retention_days
}

resource "aws_wafv2_web_acl_logging_configuration" "alb" {
  resource_arn            = aws_wafv2_web_acl.alb.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }
  redacted_fields {
    single_header {
      name = "cookie"
    }
  }

  logging_filter {
    default_behavior = "DROP"
    filter {
      behavior    = "KEEP"
      requirement = "MEETS_ANY"
      condition {
        action_condition {
          action = "BLOCK"
        }
      }
      condition {
        action_condition {
          action = "COUNT"
        }
      }
    }
  }
}
