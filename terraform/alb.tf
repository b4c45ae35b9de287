# One internet-facing ALB, HTTPS only (port 80 answers 301). Routing on 443 (tests/infra asserts it):
#   rules 1-3: /admin*, /metrics, /docs*, /openapi.json, /redoc, /model* -> fixed 404
#   rule 10: /ui, /ui/*     -> login (Cognito or OIDC), then ui target group
#                              (8501, health /ui/_stcore/health, sticky)
#   rule 100: /* (CANARY/BLUE_GREEN only) -> api + api-alternate, weights owned by ECS
#   default action          -> api target group (8000, health GET /)
# The API's routes (/predict, /predict/batch, /customers, /customers/*) reach it through rule
# 100 or the default action, on purpose without rules of their own: under CANARY/BLUE_GREEN ECS
# shifts traffic on that one production rule only, and a separate /customers rule would keep
# sending those requests to the old revision. The API checks their token scopes itself.
# WAF (waf.tf) and access logs (alb_logs.tf) sit in front of / behind all of it.
# Streamlit runs with server.baseUrlPath=ui, so the /ui prefix is kept end to end.

resource "aws_lb" "this" {
  name               = var.project
  load_balancer_type = "application"
  internal           = false
  security_groups    = [aws_security_group.alb.id]
  subnets            = local.public_subnet_ids

  # 60 s: longer than any API request, and the Streamlit websocket exchanges messages far more
  # often. Uvicorn must keep connections longer than this (--timeout-keep-alive 65), or the ALB
  # reuses a socket the app closed and answers 502.
  idle_timeout               = 60
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection

  # One gzip file per ALB node every 5 minutes (alb_logs.tf): who called what, from where,
  # with which status and latency, including requests the WAF or the edge rules refused.
  access_logs {
    bucket  = aws_s3_bucket.alb_logs.id
    prefix  = local.alb_log_prefix
    enabled = true
  }

  # The ALB checks that it can write to the bucket when access logs are enabled.
  depends_on = [aws_s3_bucket_policy.alb_logs]
}

# API: requests are short and the API finishes in-flight work on SIGTERM, so 10 s of draining
# is enough and keeps deployments fast. Health GET / is the liveness route (200 with no model
# work); /health/ready would take every task out of service while MLflow is down.
resource "aws_lb_target_group" "api" {
  name                 = "${var.project}-api"
  port                 = local.api_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.vpc_id
  deregistration_delay = 10

  health_check {
    path    = "/"
    matcher = "200"
    # A task is ready about 1 s after its container starts (image_bench), so checks every
    # 5 s put a new task in service 10 s after it registers (2 x 5 s; at 15 s it was 30 s)
    # and find a dead one within 15 s. GET / costs the API microseconds.
    interval            = local.api_health_check_interval
    timeout             = 4
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

# Second API target group for native ECS CANARY / BLUE_GREEN: the new revision registers
# here and ECS shifts the weights of the production listener rule between the two.
resource "aws_lb_target_group" "api_alternate" {
  count = local.api_traffic_shifting ? 1 : 0

  name                 = "${var.project}-api-alt"
  port                 = local.api_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.vpc_id
  deregistration_delay = 10

  health_check {
    path                = "/"
    matcher             = "200"
    interval            = local.api_health_check_interval
    timeout             = 4
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

# UI: Streamlit keeps a websocket per browser session; 60 s of draining lets sessions finish
# or reconnect elsewhere. Sessions live in the task's memory, hence stickiness.
resource "aws_lb_target_group" "ui" {
  name                 = "${var.project}-ui"
  port                 = local.ui_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.vpc_id
  deregistration_delay = 60

  health_check {
    path                = "/ui/_stcore/health"
    matcher             = "200"
    interval            = 30 # Streamlit starts in seconds; a slower check is enough.
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  stickiness {
    enabled         = true
    type            = "lb_cookie"
    cookie_duration = 86400
  }
}

# --- Listeners ---------------------------------------------------------------------------------
# HTTPS only: var.certificate_arn is required (variables.tf). Port 80 exists only to answer 301.
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

# Operator routes of the API are not served to the internet: these rules answer 404 before any
# rule that forwards to the API (lower number = evaluated first). Operators call them inside the
# VPC through Service Connect (http://api:8000/admin/reload from a task in the cluster). ALB
# path patterns are case-sensitive and match the raw path; the WAF rule "InternalPaths"
# (waf.tf) also blocks the URL-decoded, normalised forms. At most three values per condition.
locals {
  internal_only_routes = {
    admin = { priority = 1, paths = ["/admin", "/admin/*", "/metrics"] }
    docs  = { priority = 2, paths = ["/docs", "/docs/*", "/openapi.json"] }
    model = { priority = 3, paths = ["/redoc", "/model", "/model/*"] }
  }
}

resource "aws_lb_listener_rule" "internal_only" {
  for_each = local.internal_only_routes

  listener_arn = aws_lb_listener.https.arn
  priority     = each.value.priority

  condition {
    path_pattern {
      values = each.value.paths
    }
  }

  action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "Not found"
      status_code  = "404"
    }
  }
}

# The console: the ALB authenticates every /ui request (Cognito by default, or the OIDC provider
# of var.console_oidc; console_auth.tf) before forwarding it, so Streamlit never sees an
# anonymous request. The ALB session cookie covers the websocket at /ui/_stcore/stream. Target
# group health checks do not pass through listener rules, so /ui/_stcore/health stays open to
# the ALB only.
resource "aws_lb_listener_rule" "ui" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/ui", "/ui/*"]
    }
  }

  dynamic "action" {
    for_each = local.console_oidc ? [] : [1]
    content {
      type  = "authenticate-cognito"
      order = 1
      authenticate_cognito {
        user_pool_arn              = aws_cognito_user_pool.console[0].arn
        user_pool_client_id        = aws_cognito_user_pool_client.console[0].id
        user_pool_domain           = aws_cognito_user_pool_domain.console[0].domain
        on_unauthenticated_request = "authenticate"
        scope                      = "openid email"
        session_cookie_name        = "${var.project}-console-session"
        session_timeout            = var.console_session_seconds
      }
    }
  }

  dynamic "action" {
    for_each = local.console_oidc ? [1] : []
    content {
      type  = "authenticate-oidc"
      order = 1
      authenticate_oidc {
        issuer                     = var.console_oidc.issuer
        authorization_endpoint     = var.console_oidc.authorization_endpoint
        token_endpoint             = var.console_oidc.token_endpoint
        user_info_endpoint         = var.console_oidc.user_info_endpoint
        client_id                  = var.console_oidc.client_id
        client_secret              = data.aws_secretsmanager_secret_version.console_oidc[0].secret_string
        on_unauthenticated_request = "authenticate"
        scope                      = var.console_oidc.scope
        session_cookie_name        = "${var.project}-console-session"
        session_timeout            = var.console_session_seconds
      }
    }
  }

  action {
    type             = "forward"
    order            = 2
    target_group_arn = aws_lb_target_group.ui.arn
  }
}

# Production listener rule ECS re-weights during CANARY / BLUE_GREEN deployments. It sits
# after the UI rule and catches everything else, so the default action is not used then.
resource "aws_lb_listener_rule" "api" {
  count = local.api_traffic_shifting ? 1 : 0

  listener_arn = aws_lb_listener.https.arn
  priority     = 100

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  action {
    type = "forward"
    forward {
      target_group {
        arn    = aws_lb_target_group.api.arn
        weight = 100
      }
      target_group {
        arn    = aws_lb_target_group.api_alternate[0].arn
        weight = 0
      }
    }
  }

  lifecycle {
    # ECS owns the weights after the first deployment.
    ignore_changes = [action]
  }
}
