# Optional, off by default (var.waf_rate_limit_per_5_minutes = 0): an AWS WAF web ACL on the REST
# API's stage with one rate-based rule, per source IP, that answers what the API itself answers
# over a limit (429 rate_limited, docs/protocol.md "Limits"). It stops one address before its
# requests reach API Gateway's stage-wide throttle, where it would spend everyone's share.
#
# AWS WAF protects REST API stages but not API Gateway v2 APIs (HTTP or WebSocket): the WebSocket
# API relies on its stage throttling and the per-user limits in the limits table.
# Cost: $5 a month for the web ACL, $1 for the rule, $0.60 per million requests it inspects.

locals {
  waf = var.waf_rate_limit_per_5_minutes > 0

  # WAF keeps counting over a trailing 5 minutes: an address is let through again once its count
  # there falls under the limit, at most 5 minutes after it stops.
  waf_retry_after_seconds = 300
}

resource "aws_wafv2_web_acl" "rest" {
  count = local.waf ? 1 : 0

  name        = "${local.name}-rest"
  description = "Chat REST API: per source IP rate limit"
  scope       = "REGIONAL"
  tags        = local.tags

  default_action {
    allow {}
  }

  custom_response_body {
    key          = "rate_limited"
    content_type = "APPLICATION_JSON"
    content = jsonencode({
      error = {
        code       = "rate_limited"
        message    = "Too many requests from your address. Wait a few minutes and try again."
        retryAfter = local.waf_retry_after_seconds
      }
    })
  }

  rule {
    name     = "rate-per-source-ip"
    priority = 0

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "rate_limited"

          # The browser must be able to read the answer (API Gateway's own errors carry CORS too).
          response_header {
            name  = "Access-Control-Allow-Origin"
            value = var.cors_allow_origin
          }

          response_header {
            name  = "Retry-After"
            value = tostring(local.waf_retry_after_seconds)
          }
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.waf_rate_limit_per_5_minutes
        evaluation_window_sec = 300
        aggregate_key_type    = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-rest-rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.name}-rest"
    sampled_requests_enabled   = true
  }

  # checkov:skip=CKV2_AWS_31:No WAF logging: it needs a Firehose stream or a log group named aws-waf-logs-*, billed per GB; the rule's CloudWatch metrics and sampled requests show what it blocks.
  # checkov:skip=CKV_AWS_192:No Log4j managed rule group: nothing behind this API runs Java, and each managed group adds $1 a month plus its WCUs.
}

resource "aws_wafv2_web_acl_association" "rest" {
  count = local.waf ? 1 : 0

  resource_arn = aws_api_gateway_stage.rest.arn
  web_acl_arn  = aws_wafv2_web_acl.rest[0].arn
}
