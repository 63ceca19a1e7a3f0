# Media (issue 12, docs/protocol.md "Media"): a private bucket the browser uploads to with a
# presigned POST and downloads from with a presigned GET; no file bytes pass through Lambda.
#
# Keys are rooms/<roomId>/<uploadId>, so deleting a room clears one prefix (the room_purge job).
# Attached or not is the object's `media` tag: the POST policy pins media=incoming, the send
# function sets media=attached once the message is stored (lambda/chat/media_store.py), and the
# rule below expires what is still `incoming` a day later. A tag rather than an incoming/ prefix:
# the key never changes, so attaching is one PutObjectTagging, not a copy of up to 10 MB.

resource "aws_s3_bucket" "media" {
  bucket = "${local.name}-media-${data.aws_caller_identity.current.account_id}"
  tags   = local.tags

  # checkov:skip=CKV_AWS_18:No S3 access logging: every read and write goes through a presigned URL the functions log issuing; a log bucket would cost more than the media.
  # checkov:skip=CKV_AWS_144:No cross-region replication: media are chat attachments with a room's lifetime, not records to keep through a region's loss.
  # checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) rather than KMS: presigned browser uploads and downloads would each need kms:GenerateDataKey/Decrypt on a key policy, and SSE-KMS requests are billed per call.
  # checkov:skip=CKV2_AWS_62:No event notifications: the send function checks each upload itself (HeadObject) when it is attached.
}

resource "aws_s3_bucket_public_access_block" "media" {
  bucket                  = aws_s3_bucket.media.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "media" {
  bucket = aws_s3_bucket.media.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    id     = "expire-unattached-uploads"
    status = "Enabled"

    filter {
      tag {
        key   = "media"
        value = "incoming"
      }
    }

    expiration {
      days = 1
    }
  }

  # Overwritten or deleted objects (a purged room's files) are gone for good after a day.
  rule {
    id     = "expire-noncurrent-and-abort-incomplete"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.media]
}

# The browser POSTs uploads and GETs downloads (fetch, following the REST API's 302) from the
# site's origin only.
resource "aws_s3_bucket_cors_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  # Uploads: the presigned POST form, from the site only.
  cors_rule {
    allowed_methods = ["POST"]
    allowed_origins = [local.media_cors_origin]
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 600
  }

  # Downloads: the client fetches GET /rooms/{id}/uploads/{id} from the API's origin and follows
  # its 302 here, and after a redirect across origins the browser sends `Origin: null`, which no
  # named origin matches. A presigned GET carries its own credential (no cookies, no
  # Authorization header), valid a few minutes, so any origin may read what it names.
  cors_rule {
    allowed_methods = ["GET", "HEAD"]
    allowed_origins = ["*"]
    allowed_headers = ["*"]
    expose_headers  = ["Content-Length", "Content-Type", "Content-Disposition"]
    max_age_seconds = 600
  }
}

locals {
  media_cors_origin = (
    var.media_cors_origin != ""
    ? var.media_cors_origin
    : "https://${local.site_host}"
  )

  # What the functions may do with the bucket, merged into function_access (terraform/iam.tf).
  # Presigning needs the signer's own right to the action it signs: the REST function signs
  # PutObject (with the tagging field: PutObjectTagging) and GetObject; HeadObject is GetObject.
  media_access = {
    rest = {
      media_objects = ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject"]
    }
    send_message = {
      # HeadObject of each attachment, then its tag set to attached
      media_objects = ["s3:GetObject", "s3:PutObjectTagging"]
    }
    room_purge = {
      # a deleted room's prefix: list it, delete what is there
      media_bucket  = ["s3:ListBucket"]
      media_objects = ["s3:DeleteObject"]
    }
  }
}

# TLS only. Off only where the emulator speaks plain http (the infra test's moto server), with the
# site bucket's switch.
data "aws_iam_policy_document" "media" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.media.arn, "${aws_s3_bucket.media.arn}/*"]

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

resource "aws_s3_bucket_policy" "media" {
  count  = var.site_bucket_require_tls ? 1 : 0
  bucket = aws_s3_bucket.media.id
  policy = data.aws_iam_policy_document.media.json

  depends_on = [aws_s3_bucket_public_access_block.media]
}
