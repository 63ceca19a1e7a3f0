# Every input of the stack. Per-environment values live in env/<name>.tfvars (deploy.sh passes
# the one for --env); anything not set there takes the default below.

variable "project_name" {
  description = "Prefix of every physical name (with the environment): <project_name>-<environment>-..."
  type        = string
  default     = "chat"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project_name))
    error_message = "project_name: 2-20 characters, lowercase letters, digits and '-', starting with a letter (it ends up in S3 bucket and IAM role names)."
  }
}

variable "environment" {
  description = "Environment name: dev, staging, prod, or another short lowercase name (a developer's own stack)."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment: 2-12 lowercase letters and digits, starting with a letter (dev, staging, prod, ...)."
  }
}

variable "aws_region" {
  description = "AWS region; null takes it from the standard AWS environment (AWS_REGION, the profile)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags for every resource (merged over Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}

variable "function_zip" {
  description = "Path of the function package built by scripts/build_lambda.sh (relative to terraform/)."
  type        = string
  default     = "../build/function.zip"
}

variable "layer_zip" {
  description = "Path of the dependency layer (bcrypt, PyJWT for arm64) built by scripts/build_lambda.sh."
  type        = string
  default     = "../build/layer.zip"
}

variable "jwt_secret_parameter_name" {
  description = "Name of the SSM SecureString holding the JWT signing key. Empty: /<project_name>/<environment>/jwt-signing-key. deploy.sh creates it if missing; it never enters Terraform state."
  type        = string
  default     = ""

  validation {
    condition     = var.jwt_secret_parameter_name == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.jwt_secret_parameter_name))
    error_message = "jwt_secret_parameter_name must be a hierarchical SSM name starting with '/'."
  }
}

variable "jwt_issuer" {
  description = "The JWT 'iss' claim the REST function issues and requires."
  type        = string
  default     = "serverless-chat"
}

variable "jwt_ttl_seconds" {
  description = "Session (JWT) lifetime in seconds."
  type        = number
  default     = 3600

  validation {
    condition     = var.jwt_ttl_seconds >= 300 && var.jwt_ttl_seconds <= 86400
    error_message = "jwt_ttl_seconds must be between 300 (5 minutes) and 86400 (1 day)."
  }
}

variable "bcrypt_rounds" {
  description = "bcrypt cost factor for password hashes. 12 is the default; 10 is the lowest accepted (each step down halves an attacker's work)."
  type        = number
  default     = 12

  validation {
    condition     = var.bcrypt_rounds >= 10 && var.bcrypt_rounds <= 15
    error_message = "bcrypt_rounds must be between 10 and 15 (the REST function has a 10 s timeout; cost 15 takes seconds per login)."
  }
}

variable "websocket_management_endpoint" {
  description = "Management API endpoint the functions post frames to. Empty: the WebSocket API's own execute-api URL (set this only with a custom domain)."
  type        = string
  default     = ""

  validation {
    condition     = var.websocket_management_endpoint == "" || can(regex("^https://", var.websocket_management_endpoint))
    error_message = "websocket_management_endpoint must be empty or an https:// URL."
  }
}

variable "stage_name" {
  description = "Stage name of both APIs (the last path segment of their URLs)."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]{1,64}$", var.stage_name))
    error_message = "stage_name: 1-64 letters, digits or '_'."
  }
}

variable "log_level" {
  description = "Log level of the Lambda functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "cors_allow_origin" {
  description = "Access-Control-Allow-Origin of the REST API. '*' is safe here (auth is a bearer header, never a cookie); set the site's origin to be strict."
  type        = string
  default     = "*"
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection on the tables that hold user data (turn on for prod; cleanup.sh cannot remove a protected table)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group (functions and API access logs)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's retention values (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "websocket_throttling" {
  description = "WebSocket stage throttling: steady messages per second and burst, across all clients."
  type = object({
    rate_limit  = number
    burst_limit = number
  })
  default = {
    rate_limit  = 500
    burst_limit = 1000
  }
}

variable "rest_throttling" {
  description = "REST stage throttling: steady requests per second and burst, across all clients."
  type = object({
    rate_limit  = number
    burst_limit = number
  })
  default = {
    rate_limit  = 100
    burst_limit = 200
  }
}

variable "manage_api_gateway_account" {
  description = "Create the role API Gateway uses to write logs and set it in the region's API Gateway account settings (one per account and region). deploy.sh turns this off when the account already has a role that is not this stack's."
  type        = bool
  default     = true
}

variable "cloudfront_price_class" {
  description = "CloudFront price class for the site."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "site_bucket_require_tls" {
  description = "Deny every request to the site and media buckets that does not use TLS. Only an emulator on plain http (the infra test's moto server) needs this off."
  type        = bool
  default     = true
}

variable "alarm_topic_arn" {
  description = "SNS topic that every alarm notifies (alarm and OK). Empty: alarms only change state in CloudWatch."
  type        = string
  default     = ""
}

variable "iterator_age_alarm_ms" {
  description = "Alarm when the stream processor's IteratorAge (delivery lag) stays above this many milliseconds."
  type        = number
  default     = 30000
}

variable "identity_provider" {
  description = "Who holds the accounts: \"builtin\" (the users table, bcrypt, our own HS256 JWTs) or \"cognito\" (an Amazon Cognito user pool; the functions verify its RS256 ID tokens). See docs/deploy.md for when to pick which and what each costs."
  type        = string
  default     = "builtin"

  validation {
    condition     = contains(["builtin", "cognito"], var.identity_provider)
    error_message = "identity_provider must be \"builtin\" or \"cognito\"."
  }
}

variable "cognito_mfa" {
  description = "MFA of the Cognito user pool (identity_provider = \"cognito\" only): \"OFF\", \"OPTIONAL\" or \"ON\" (TOTP software tokens). OFF by default: POST /auth/login has no MFA step, so OPTIONAL or ON need a client that answers the challenge."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "OPTIONAL", "ON"], var.cognito_mfa)
    error_message = "cognito_mfa must be OFF, OPTIONAL or ON."
  }
}

variable "cognito_advanced_security" {
  description = "Cognito advanced security (threat protection) mode: \"OFF\" (default; it is billed per monthly active user on top of the pool), \"AUDIT\" or \"ENFORCED\"."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "AUDIT", "ENFORCED"], var.cognito_advanced_security)
    error_message = "cognito_advanced_security must be OFF, AUDIT or ENFORCED."
  }
}

variable "cognito_password_policy" {
  description = "Password policy of the Cognito user pool (identity_provider = \"cognito\" only). The defaults accept exactly what the builtin accounts accept (8-128 characters, no character classes required); a stricter policy makes POST /auth/signup answer invalid_input with Cognito's reason."
  type = object({
    minimum_length    = number
    require_lowercase = bool
    require_uppercase = bool
    require_numbers   = bool
    require_symbols   = bool
  })
  default = {
    minimum_length    = 8
    require_lowercase = false
    require_uppercase = false
    require_numbers   = false
    require_symbols   = false
  }

  validation {
    condition     = var.cognito_password_policy.minimum_length >= 8 && var.cognito_password_policy.minimum_length <= 99
    error_message = "cognito_password_policy.minimum_length must be between 8 (the API's own minimum) and 99 (Cognito's maximum)."
  }
}

variable "media_max_bytes" {
  description = "Largest file a member may upload (bytes); the presigned POST pins each file's exact size."
  type        = number
  default     = 10485760

  validation {
    condition     = var.media_max_bytes >= 1 && var.media_max_bytes <= 5368709120
    error_message = "media_max_bytes must be 1 to 5368709120 (S3's limit for one POST)."
  }
}

variable "media_content_types" {
  description = "Content types a member may upload. Never text/html, XHTML, SVG or JavaScript: the bucket serves what it holds."
  type        = list(string)
  default     = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "application/zip"]

  validation {
    condition     = length(setintersection(var.media_content_types, ["text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript"])) == 0
    error_message = "media_content_types may not hold text/html, application/xhtml+xml, image/svg+xml or text/javascript."
  }
}

variable "media_upload_ttl_seconds" {
  description = "How long a presigned upload form (POST) stays valid, in seconds; S3 refuses it (403) afterwards."
  type        = number
  default     = 300

  validation {
    condition     = var.media_upload_ttl_seconds >= 1 && var.media_upload_ttl_seconds <= 3600 && floor(var.media_upload_ttl_seconds) == var.media_upload_ttl_seconds
    error_message = "media_upload_ttl_seconds must be a whole number of seconds, 1 to 3600: a form is for one upload, started at once."
  }
}

variable "media_cors_origin" {
  description = "The one origin the media bucket's CORS rule allows; empty for the site's CloudFront domain."
  type        = string
  default     = ""
}

variable "fanout_chunk_threshold" {
  description = "Rooms with more WebSocket connections than this are fanned out by the fanout_worker function (SQS FIFO chunks) instead of the stream processor alone; 0 turns chunking off."
  type        = number
  default     = 2000

  validation {
    condition     = var.fanout_chunk_threshold >= 0 && floor(var.fanout_chunk_threshold) == var.fanout_chunk_threshold
    error_message = "fanout_chunk_threshold must be a whole number, 0 or more."
  }
}

# -- abuse limits (docs/protocol.md, "Limits"); held in the limits table -----------------------

variable "rate_limits_enabled" {
  description = "Apply the per-user and per-source abuse limits below. Off only for load tests and benchmarks."
  type        = bool
  default     = true
}

variable "rate_limit_messages_per_second" {
  description = "sendMessage, editMessage and react: sustained writes per second per user."
  type        = number
  default     = 5
  validation {
    condition     = var.rate_limit_messages_per_second >= 1 && floor(var.rate_limit_messages_per_second) == var.rate_limit_messages_per_second
    error_message = "rate_limit_messages_per_second must be a whole number of at least 1."
  }
}

variable "rate_limit_messages_burst" {
  description = "sendMessage, editMessage and react: writes a user may make at once before the per-second rate applies."
  type        = number
  default     = 20
  validation {
    condition     = var.rate_limit_messages_burst >= 1 && floor(var.rate_limit_messages_burst) == var.rate_limit_messages_burst
    error_message = "rate_limit_messages_burst must be a whole number of at least 1."
  }
}

variable "rate_limit_login_failures_per_source" {
  description = "Failed logins for one username from one source IP within the login window before that pair gets 429."
  type        = number
  default     = 5
  validation {
    condition     = var.rate_limit_login_failures_per_source >= 1 && floor(var.rate_limit_login_failures_per_source) == var.rate_limit_login_failures_per_source
    error_message = "rate_limit_login_failures_per_source must be a whole number of at least 1."
  }
}

variable "rate_limit_login_failures_per_user" {
  description = "Failed logins for one username from any sources within the login window before every source gets 429."
  type        = number
  default     = 100
  validation {
    condition     = var.rate_limit_login_failures_per_user >= 1 && floor(var.rate_limit_login_failures_per_user) == var.rate_limit_login_failures_per_user
    error_message = "rate_limit_login_failures_per_user must be a whole number of at least 1."
  }
}

variable "rate_limit_login_window_seconds" {
  description = "The window in which failed logins are counted, in seconds."
  type        = number
  default     = 900
  validation {
    condition     = var.rate_limit_login_window_seconds >= 1 && floor(var.rate_limit_login_window_seconds) == var.rate_limit_login_window_seconds
    error_message = "rate_limit_login_window_seconds must be a whole number of at least 1."
  }
}

variable "rate_limit_signups_per_hour" {
  description = "Sign-ups per source IP per hour."
  type        = number
  default     = 20
  validation {
    condition     = var.rate_limit_signups_per_hour >= 1 && floor(var.rate_limit_signups_per_hour) == var.rate_limit_signups_per_hour
    error_message = "rate_limit_signups_per_hour must be a whole number of at least 1."
  }
}

variable "rate_limit_join_cooldown_seconds" {
  description = "After a rejected join request, the same user's next request to that room within this many seconds is rate_limited."
  type        = number
  default     = 600
  validation {
    condition     = var.rate_limit_join_cooldown_seconds >= 1 && floor(var.rate_limit_join_cooldown_seconds) == var.rate_limit_join_cooldown_seconds
    error_message = "rate_limit_join_cooldown_seconds must be a whole number of at least 1."
  }
}

variable "rate_limit_typing_window_seconds" {
  description = "typing: at most one event per user and room is forwarded in this many seconds; the rest are dropped silently. Each forwarded one costs a conditional PutItem on the connections table."
  type        = number
  default     = 2
  validation {
    condition     = var.rate_limit_typing_window_seconds >= 1 && floor(var.rate_limit_typing_window_seconds) == var.rate_limit_typing_window_seconds
    error_message = "rate_limit_typing_window_seconds must be a whole number of at least 1."
  }
}

# -- the site's edge: TLS, security headers (terraform/frontend.tf) and AWS WAF (terraform/waf.tf)

variable "site_domain_name" {
  description = "A custom domain for the site (e.g. chat.example.com), served with site_certificate_arn: SNI, TLS 1.2 or newer (TLSv1.2_2021). Empty (the default): the distribution's own *.cloudfront.net name and certificate, where CloudFront always applies its TLSv1 policy (TLS 1.0 and newer) whatever minimum is asked for. Point the domain's DNS at the cloudfront_domain_name output."
  type        = string
  default     = ""

  validation {
    condition     = var.site_domain_name == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.site_domain_name))
    error_message = "site_domain_name must be empty or a lowercase DNS name such as chat.example.com."
  }
}

variable "site_certificate_arn" {
  description = "ACM certificate for site_domain_name. CloudFront only takes certificates from us-east-1, whatever the stack's region. Set both or neither."
  type        = string
  default     = ""

  validation {
    condition     = var.site_certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[A-Za-z0-9-]+$", var.site_certificate_arn))
    error_message = "site_certificate_arn must be empty or an ACM certificate ARN in us-east-1 (arn:aws:acm:us-east-1:<account>:certificate/<id>)."
  }
}

variable "site_security_headers_policy" {
  description = "Attach this stack's CloudFront response headers policy to the site: a Content-Security-Policy whose connect-src names this stack's REST, WebSocket and media hosts only, HSTS, nosniff, Referrer-Policy and frame options. false attaches AWS's managed SecurityHeadersPolicy instead (no CSP): only for an emulator without response headers policies (moto)."
  type        = bool
  default     = true
}

variable "waf_rate_limit_per_5_minutes" {
  description = "AWS WAF in front of the REST API: requests one source IP may make in any 5 minutes before WAF answers 429 rate_limited. 0 (the default): no WAF. On, it costs $5 a month for the web ACL, $1 for its rule and $0.60 per million requests (docs/deploy.md). WAF cannot protect the WebSocket API (an API Gateway v2 API): the per-user limits and stage throttling guard it."
  type        = number
  default     = 0

  validation {
    condition     = var.waf_rate_limit_per_5_minutes == 0 || (var.waf_rate_limit_per_5_minutes >= 10 && var.waf_rate_limit_per_5_minutes <= 2000000000 && floor(var.waf_rate_limit_per_5_minutes) == var.waf_rate_limit_per_5_minutes)
    error_message = "waf_rate_limit_per_5_minutes must be 0 (no WAF) or a whole number from 10 to 2000000000 (AWS WAF's bounds for a rate-based rule)."
  }
}
