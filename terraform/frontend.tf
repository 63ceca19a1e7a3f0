# The browser client: a private S3 bucket served only through CloudFront (origin access control,
# HTTPS). deploy.sh uploads frontend/ and writes config.js from this stack's outputs.

resource "aws_s3_bucket" "site" {
  bucket = "${local.name}-site-${data.aws_caller_identity.current.account_id}"
  tags   = local.tags

  # checkov:skip=CKV_AWS_18:No S3 access logging: CloudFront is the only reader; a log bucket costs more than the site and the static files hold no data.
  # checkov:skip=CKV_AWS_144:No cross-region replication: the content is rebuilt from the repository by deploy.sh.
  # checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) rather than KMS: CloudFront's origin access control would need a key policy for SSE-KMS, and the files are public through CloudFront anyway.
  # checkov:skip=CKV2_AWS_62:No event notifications: nothing reacts to uploads.
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Versioning keeps the previous release of each file; old versions expire after 30 days.
resource "aws_s3_bucket_versioning" "site" {
  bucket = aws_s3_bucket.site.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.site]
}

resource "aws_cloudfront_origin_access_control" "site" {
  name                              = "${local.name}-site"
  description                       = "CloudFront reads the chat site bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

locals {
  site_origin_id = "site-bucket"
  # AWS managed CloudFront policies (fixed, documented ids).
  cache_policy_caching_optimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  cache_policy_caching_disabled  = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  response_headers_security      = "67f7725c-6f97-4210-82d7-5512b31e9d03" # SecurityHeadersPolicy

  # The client's Content-Security-Policy, directive => sources: what frontend/ needs and nothing
  # more. Scripts and styles are files of the site (no inline script, style or style attribute);
  # images are the site's or blob: URLs (attachments are fetched with the token and shown from a
  # blob); no plugins, no <base>, no framing, and no form is ever submitted natively.
  # connect-src gets the stack's own API and media origins appended (site_connect_origins);
  # the local cloud reads this map and appends its own (scripts/localcloud/app.py).
  site_csp = {
    "default-src"     = ["'self'"]
    "script-src"      = ["'self'"]
    "style-src"       = ["'self'"]
    "img-src"         = ["'self'", "blob:"]
    "connect-src"     = ["'self'"]
    "object-src"      = ["'none'"]
    "base-uri"        = ["'none'"]
    "frame-ancestors" = ["'none'"]
    "form-action"     = ["'none'"]
  }
  # No page of the site needs to tell another host where a request came from.
  site_referrer_policy = "no-referrer"

  # Where the client connects: the REST API and the WebSocket API (config.js holds their stage
  # URLs), and the media bucket, which uploads POST to and downloads are redirected to (a
  # redirect's target is checked against connect-src too). boto3 presigns virtual-hosted URLs:
  # https://<bucket>.s3.<region>.amazonaws.com, and in us-east-1 https://<bucket>.s3.amazonaws.com.
  site_connect_origins = concat(
    [
      "https://${aws_api_gateway_rest_api.rest.id}.execute-api.${data.aws_region.current.name}.amazonaws.com",
      "wss://${aws_apigatewayv2_api.websocket.id}.execute-api.${data.aws_region.current.name}.amazonaws.com",
      "https://${aws_s3_bucket.media.bucket}.s3.${data.aws_region.current.name}.amazonaws.com",
    ],
    data.aws_region.current.name == "us-east-1" ? ["https://${aws_s3_bucket.media.bucket}.s3.amazonaws.com"] : [],
  )
  site_content_security_policy = join("; ", [
    for directive, sources in local.site_csp :
    join(" ", concat([directive], sources, directive == "connect-src" ? local.site_connect_origins : []))
  ])

  # A custom domain (var.site_domain_name with var.site_certificate_arn) or CloudFront's own.
  site_custom_domain = var.site_domain_name != ""
  site_host          = local.site_custom_domain ? var.site_domain_name : aws_cloudfront_distribution.site.domain_name
  site_response_headers_policy = (
    var.site_security_headers_policy
    ? aws_cloudfront_response_headers_policy.site[0].id
    : local.response_headers_security
  )
}

# Security headers on every response of the site (index.html, the modules, config.js).
resource "aws_cloudfront_response_headers_policy" "site" {
  count = var.site_security_headers_policy ? 1 : 0

  name    = "${local.name}-site"
  comment = "${local.name} chat client: CSP naming this stack's API and media hosts, HSTS, nosniff"

  security_headers_config {
    content_security_policy {
      content_security_policy = local.site_content_security_policy
      override                = true
    }

    # One year; not includeSubDomains: with a custom domain that would bind every sibling host.
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = false
      preload                    = false
      override                   = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "DENY"
      override     = true
    }

    referrer_policy {
      referrer_policy = local.site_referrer_policy
      override        = true
    }
  }

  # checkov:skip=CKV_AWS_259:HSTS is sent for a year with override, but without includeSubDomains and preload: with a custom domain they would bind every sibling host of the operator's domain, and preload is a one-way listing in browsers.
}

resource "aws_cloudfront_distribution" "site" {
  enabled             = true
  comment             = "${local.name} chat client"
  default_root_object = "index.html"
  price_class         = var.cloudfront_price_class
  http_version        = "http2and3"
  is_ipv6_enabled     = true
  aliases             = local.site_custom_domain ? [var.site_domain_name] : []
  tags                = local.tags

  origin {
    origin_id                = local.site_origin_id
    domain_name              = aws_s3_bucket.site.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
  }

  default_cache_behavior {
    target_origin_id           = local.site_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.cache_policy_caching_optimized
    response_headers_policy_id = local.site_response_headers_policy
  }

  # The endpoints change with a redeploy; browsers and edges always fetch them fresh.
  ordered_cache_behavior {
    path_pattern               = "/config.js"
    target_origin_id           = local.site_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.cache_policy_caching_disabled
    response_headers_policy_id = local.site_response_headers_policy
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  # CloudFront's own certificate (*.cloudfront.net) always runs its TLSv1 policy, whatever
  # minimum_protocol_version says; a custom domain's ACM certificate gets SNI and TLS 1.2+.
  viewer_certificate {
    cloudfront_default_certificate = local.site_custom_domain ? null : true
    acm_certificate_arn            = local.site_custom_domain ? var.site_certificate_arn : null
    ssl_support_method             = local.site_custom_domain ? "sni-only" : null
    minimum_protocol_version       = local.site_custom_domain ? "TLSv1.2_2021" : "TLSv1"
  }

  lifecycle {
    precondition {
      condition     = (var.site_domain_name == "") == (var.site_certificate_arn == "")
      error_message = "site_domain_name and site_certificate_arn go together: set both (a custom domain with its us-east-1 ACM certificate) or neither."
    }
  }

  # checkov:skip=CKV_AWS_68:No WAF on the site: it is static files behind CloudFront. The optional web ACL (waf_rate_limit_per_5_minutes) guards the REST API, where the requests cost.
  # checkov:skip=CKV_AWS_86:No CloudFront access logging: it needs a log bucket with ACLs enabled; the site serves static files only.
  # checkov:skip=CKV_AWS_174:By default the *.cloudfront.net certificate serves, and CloudFront runs its TLSv1 policy for it whatever is set; with site_domain_name and site_certificate_arn the minimum is TLSv1.2_2021.
  # checkov:skip=CKV_AWS_310:One origin: origin failover needs a second bucket in another region, more than a static chat client needs.
  # checkov:skip=CKV_AWS_374:No geo restriction: the chat is for anyone its operators let sign up.
  # checkov:skip=CKV2_AWS_42:A custom certificate needs a domain the operator owns: site_domain_name and site_certificate_arn (off by default); see CKV_AWS_174.
  # checkov:skip=CKV2_AWS_32:A response headers policy is attached to every behaviour: this stack's (aws_cloudfront_response_headers_policy.site) or, with site_security_headers_policy = false, AWS's managed SecurityHeadersPolicy; checkov cannot follow the conditional.
  # checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68), so no Log4j rule set; nothing behind CloudFront runs Java.
}

# Only this distribution may read the bucket, and only over TLS.
data "aws_iam_policy_document" "site" {
  statement {
    sid       = "CloudFrontReadsSite"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.site.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.site.arn]
    }
  }

  dynamic "statement" {
    for_each = var.site_bucket_require_tls ? [1] : []

    content {
      sid       = "DenyInsecureTransport"
      effect    = "Deny"
      actions   = ["s3:*"]
      resources = [aws_s3_bucket.site.arn, "${aws_s3_bucket.site.arn}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "Bool"
        variable = "aws:SecureTransport"
        values   = ["false"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "site" {
  bucket = aws_s3_bucket.site.id
  policy = data.aws_iam_policy_document.site.json

  depends_on = [aws_s3_bucket_public_access_block.site]
}
