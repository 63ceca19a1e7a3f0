# Amazon Cognito as the identity provider (var.identity_provider = "cognito"). Every resource
# here has `count = local.cognito_count`: the builtin mode (the default) creates nothing Cognito.
#
# The REST function keeps the API's contract: POST /auth/signup calls SignUp then
# AdminConfirmSignUp, POST /auth/login calls InitiateAuth (USER_PASSWORD_AUTH) and answers with
# the pool's ID token; every function that accepts a token verifies it against the pool's JWKS
# (chat/tokens.py, CognitoTokenVerifier). SignUp and InitiateAuth are public Cognito APIs
# (authorised by the app client id, not by IAM); only AdminConfirmSignUp needs a grant (iam.tf).

locals {
  cognito       = var.identity_provider == "cognito"
  cognito_count = local.cognito ? 1 : 0

  # Built from the region and pool id, as Cognito writes `iss` into its tokens.
  cognito_issuer = (
    local.cognito
    ? "https://cognito-idp.${data.aws_region.current.name}.amazonaws.com/${aws_cognito_user_pool.users[0].id}"
    : ""
  )
}

resource "aws_cognito_user_pool" "users" {
  count = local.cognito_count

  name = "${local.name}-users"

  # Usernames are unique regardless of case, as in the builtin accounts. The REST function also
  # signs users up under the lowercased name and keeps the name as typed in preferred_username.
  username_configuration {
    case_sensitive = false
  }

  password_policy {
    minimum_length                   = var.cognito_password_policy.minimum_length
    require_lowercase                = var.cognito_password_policy.require_lowercase
    require_uppercase                = var.cognito_password_policy.require_uppercase
    require_numbers                  = var.cognito_password_policy.require_numbers
    require_symbols                  = var.cognito_password_policy.require_symbols
    temporary_password_validity_days = 7
  }

  mfa_configuration = var.cognito_mfa

  dynamic "software_token_mfa_configuration" {
    for_each = var.cognito_mfa == "OFF" ? [] : [1]
    content {
      enabled = true
    }
  }

  # Nothing to verify: the chat has no e-mail or phone field. A team that wants verified
  # addresses adds `email` here and replaces AdminConfirmSignUp with Cognito's own flow.
  account_recovery_setting {
    recovery_mechanism {
      name     = "admin_only"
      priority = 1
    }
  }

  user_pool_add_ons {
    advanced_security_mode = var.cognito_advanced_security
  }

  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"

  tags = local.tags
}

resource "aws_cognito_user_pool_client" "api" {
  count = local.cognito_count

  name         = "${local.name}-api"
  user_pool_id = aws_cognito_user_pool.users[0].id

  # A public client (the REST function calls it on the browser's behalf): no secret.
  generate_secret = false
  explicit_auth_flows = [
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
  ]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true

  # The ID token carries preferred_username (the name as typed); the functions only use it when
  # it matches cognito:username ignoring case, so a user who rewrites it cannot become someone else.
  read_attributes  = ["preferred_username"]
  write_attributes = ["preferred_username"]

  id_token_validity      = var.jwt_ttl_seconds
  access_token_validity  = var.jwt_ttl_seconds
  refresh_token_validity = 30
  token_validity_units {
    id_token      = "seconds"
    access_token  = "seconds"
    refresh_token = "days"
  }
}
