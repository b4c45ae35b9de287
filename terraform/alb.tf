# One internet-facing ALB. Routing (tests/infra asserts it):
#   default action          -> api target group (8000, health GET /)
#   rule 10: /ui, /ui/*     -> ui target group  (8501, health /ui/_stcore/health, sticky)
#   rule 100: /* (CANARY/BLUE_GREEN only) -> api + api-alternate, weights owned by ECS
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
    path                = "/"
    matcher             = "200"
    interval            = 15 # Find a dead task within ~45 s (3 x 15 s) ...
    timeout             = 5
    healthy_threshold   = 2 # ... and put a new one in service after 30 s.
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
    interval            = 15
    timeout             = 5
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
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  dynamic "default_action" {
    for_each = local.https ? [1] : []
    content {
      type = "redirect"
      redirect {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  dynamic "default_action" {
    for_each = local.https ? [] : [1]
    content {
      type             = "forward"
      target_group_arn = aws_lb_target_group.api.arn
    }
  }
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

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

locals {
  # The listener that serves the application (the HTTP one only redirects when HTTPS is on).
  app_listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
}

resource "aws_lb_listener_rule" "ui" {
  listener_arn = local.app_listener_arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/ui", "/ui/*"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.ui.arn
  }
}

# Production listener rule ECS re-weights during CANARY / BLUE_GREEN deployments. It sits
# after the UI rule and catches everything else, so the default action is not used then.
resource "aws_lb_listener_rule" "api" {
  count = local.api_traffic_shifting ? 1 : 0

  listener_arn = local.app_listener_arn
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
