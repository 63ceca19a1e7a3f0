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
}

resource "aws_cloudfront_distribution" "site" {
  enabled             = true
  comment             = "${local.name} chat client"
  default_root_object = "index.html"
  price_class         = var.cloudfront_price_class
  http_version        = "http2and3"
  is_ipv6_enabled     = true
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
    response_headers_policy_id = local.response_headers_security
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
    response_headers_policy_id = local.response_headers_security
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  # checkov:skip=CKV_AWS_68:No WAF web ACL by default ($5/month plus per-request fees); the site is static files and the APIs are throttled. The deploy guide shows how to attach one.
  # checkov:skip=CKV_AWS_86:No CloudFront access logging: it needs a log bucket with ACLs enabled; the site serves static files only.
  # checkov:skip=CKV_AWS_174:The default *.cloudfront.net certificate is used, which cannot pin a minimum TLS version; with a custom domain set minimum_protocol_version = "TLSv1.2_2021".
  # checkov:skip=CKV_AWS_310:One origin: origin failover needs a second bucket in another region, more than a static chat client needs.
  # checkov:skip=CKV_AWS_374:No geo restriction: the chat is for anyone its operators let sign up.
  # checkov:skip=CKV2_AWS_42:Custom SSL certificate needs a domain this project does not own; see CKV_AWS_174.
  # checkov:skip=CKV2_AWS_32:A response headers policy is attached to every behaviour: AWS's managed SecurityHeadersPolicy, by its documented id (checkov only recognises a policy resource or data source).
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
