# Access patterns and the key or index that serves each are listed in the README
# ("Data model"). Nothing on a request path Scans.

resource "aws_dynamodb_table" "users" {
  name         = "${local.name}-users"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  # WebSocket tickets live here too and expire by TTL.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  # checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); a customer managed key adds $1/month per key and a key policy to maintain, for no change in who can read the table (IAM decides that).
}

resource "aws_dynamodb_table" "rooms" {
  name         = "${local.name}-rooms"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "userKey"
    type = "S"
  }

  # Member items carry userKey = USER#<lowercased username>: "rooms I belong to".
  global_secondary_index {
    name            = "byUser"
    hash_key        = "userKey"
    range_key       = "pk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  # checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); a customer managed key adds $1/month per key and a key policy to maintain, for no change in who can read the table (IAM decides that).
}

resource "aws_dynamodb_table" "connections" {
  name         = "${local.name}-connections"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  # A connection outlives API Gateway's 2-hour limit only when $disconnect was lost.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = local.tags

  # checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); a customer managed key adds $1/month per key and a key policy to maintain, for no change in who can read the table (IAM decides that).
  # checkov:skip=CKV_AWS_28:No point-in-time recovery: connections live at most 2 hours (API Gateway closes them) and are rebuilt by reconnecting; there is nothing to restore.
}

resource "aws_dynamodb_table" "messages" {
  name         = "${local.name}-messages"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "roomId"
  range_key    = "messageId"

  attribute {
    name = "roomId"
    type = "S"
  }

  attribute {
    name = "messageId"
    type = "S"
  }

  stream_enabled   = true
  stream_view_type = "NEW_IMAGE"

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  # checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); a customer managed key adds $1/month per key and a key policy to maintain, for no change in who can read the table (IAM decides that).
}

# Abuse limits (docs/protocol.md, "Limits"): one small item per limited key (RATE#<what>#<who>),
# changed by one conditional UpdateItem and swept by TTL. A table of its own rather than items
# in the users table, so that IAM grants UpdateItem on it alone, to the functions that limit.
resource "aws_dynamodb_table" "limits" {
  name         = "${local.name}-limits"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  # checkov:skip=CKV_AWS_28:No point-in-time recovery: the items are counters that expire within the hour; restoring them would restore nothing anyone needs.
  # checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); a customer managed key adds $1/month per key and a key policy to maintain, for no change in who can read the table (IAM decides that).
}
