# Login in front of the Streamlit console (/ui). The ALB runs the OAuth 2.0 code flow itself
# (listener rule "ui" in alb.tf) and forwards only requests that carry its session cookie.
# Default: a Cognito user pool created here, in which only administrators create users.
# With var.console_oidc set: the organisation's OIDC provider instead, and no Cognito.

locals {
  console_oidc = var.console_oidc != null
  # The name browsers use; the certificate must cover it. The ALB's own name otherwise.
  public_hostname = coalesce(var.public_hostname, aws_lb.this.dns_name)
  # Where the identity provider sends the browser back to the ALB after login.
  console_callback_url = "https://${local.public_hostname}/oauth2/idpresponse"
}

resource "aws_cognito_user_pool" "console" {
  count = local.console_oidc ? 0 : 1

  name                = "${var.project}-console"
  deletion_protection = "ACTIVE"
  username_attributes = ["email"]

  # No self-service sign-up: an administrator creates each user (terraform/README.md).
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  mfa_configuration = var.console_mfa
  software_token_mfa_configuration {
    enabled = true # TOTP apps; set up by each user at first login.
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  auto_verified_attributes = ["email"]
  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

# Hosted login pages at https://<prefix>.auth.<region>.amazoncognito.com. The prefix is global
# per region, hence the account id in the default.
resource "aws_cognito_user_pool_domain" "console" {
  count = local.console_oidc ? 0 : 1

  domain       = coalesce(var.cognito_domain_prefix, "${var.project}-console-${data.aws_caller_identity.current.account_id}")
  user_pool_id = aws_cognito_user_pool.console[0].id
}

# Confidential client of the ALB: authorization-code flow only, back to the ALB's callback.
resource "aws_cognito_user_pool_client" "console" {
  count = local.console_oidc ? 0 : 1

  name                                 = "${var.project}-alb"
  user_pool_id                         = aws_cognito_user_pool.console[0].id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email"]
  callback_urls                        = [local.console_callback_url]
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
}

# The OIDC client secret lives in Secrets Manager (created by whoever registered the client).
# The ALB API takes it in clear, so it is also in the Terraform state: keep the state private.
data "aws_secretsmanager_secret_version" "console_oidc" {
  count     = local.console_oidc ? 1 : 0
  secret_id = var.console_oidc.client_secret_arn
}
