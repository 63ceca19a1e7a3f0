# One role per function, least privilege: only the tables (and indexes) a function touches, only
# the actions its code calls, execute-api:ManageConnections only where it posts frames.
#
# To grant a function more, edit `function_access` below: it is the single list of what each
# function may do. Keys of an entry name resources in `access_targets`. TransactWriteItems needs no
# action of its own: IAM checks each item's action (PutItem, DeleteItem, ConditionCheckItem, ...).
# BatchWriteItem is one action that covers both the puts and the deletes in a batch.
locals {
  access_targets = {
    users           = aws_dynamodb_table.users.arn
    rooms           = aws_dynamodb_table.rooms.arn
    rooms_by_user   = "${aws_dynamodb_table.rooms.arn}/index/byUser"
    connections     = aws_dynamodb_table.connections.arn
    messages        = aws_dynamodb_table.messages.arn
    messages_stream = "${aws_dynamodb_table.messages.arn}/stream/*"
    limits          = aws_dynamodb_table.limits.arn
    stream_dlq      = aws_sqs_queue.stream_dlq.arn
    room_purge      = aws_sqs_queue.job["room_purge"].arn
    fanout          = aws_sqs_queue.job["fanout"].arn
    signing_key     = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter${local.jwt_secret_parameter_name}"
    connections_api = "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage_name}/POST/@connections/*"
    # DeleteConnection is the DELETE method on the same path: a grant of its own.
    close_connections = "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage_name}/DELETE/@connections/*"
    user_pool         = local.cognito ? aws_cognito_user_pool.users[0].arn : ""
    media_bucket      = aws_s3_bucket.media.arn
    media_objects     = "${aws_s3_bucket.media.arn}/rooms/*"
  }

  # identity_provider = "cognito": SignUp and InitiateAuth are public Cognito APIs (the app
  # client id authorises them, IAM does not), so the REST function needs two grants only, on
  # its own pool: AdminConfirmSignUp, to confirm a fresh account so that it can log in at once
  # (the chat collects no e-mail to verify), and AdminUserGlobalSignOut for POST
  # /auth/logout-all. Nothing else may call Cognito.
  cognito_access = {
    rest = { user_pool = ["cognito-idp:AdminConfirmSignUp", "cognito-idp:AdminUserGlobalSignOut"] }
  }

  function_access = {
    rest = {
      # signup (conditional put), login and direct rooms' peer (get), tickets (put), every
      # token check (get: the token record), logout and log out everywhere (conditional update)
      users = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      # membership checks (BatchGetItem of META + MEMBER), members and requests of a room,
      # live rooms of GET /rooms (BatchGetItem), POST /rooms/direct (transaction of Puts; a
      # conditional Put brings back a member who left)
      rooms = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query"]
      # GET /rooms: the rooms I belong to
      rooms_by_user = ["dynamodb:Query"]
      # online flags (Query ROOM#), a direct room's members' connections subscribed (Query
      # USER#, UpdateItem META, PutItem ROOM#), gone connections removed (GetItem, batch)
      connections = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
      ]
      # history pages; GET /rooms' unread counts and newest message; search pages
      messages = ["dynamodb:Query"]
      # login failures (BatchGetItem before the password check, UpdateItem per failure),
      # sign-ups per source (UpdateItem)
      limits = ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
      # the JWT signing key, read once per container
      signing_key = ["ssm:GetParameter"]
      # roomAdded to the other user of a new direct room
      connections_api = ["execute-api:ManageConnections"]
      # log out everywhere closes the user's connections (DeleteConnection)
      close_connections = ["execute-api:ManageConnections"]
    }
    authorizer = {
      # redeem a single-use ticket: one conditional delete, then its token's record (get), so
      # a logout since the ticket was issued holds
      users = ["dynamodb:DeleteItem", "dynamodb:GetItem"]
    }
    connections = {
      # register / remove a connection and its index items; a user's connections; 410 clean-up
      connections = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem"]
      # the rooms of the connecting user (presence, subscriptions)
      rooms_by_user = ["dynamodb:Query"]
      # presence events to the user's rooms
      connections_api = ["execute-api:ManageConnections"]
    }
    rooms = {
      # openDirect: the other user exists
      users = ["dynamodb:GetItem"]
      # create (transaction: Put META + Put MEMBER), join request (ConditionCheck + Put),
      # approve (Delete REQUEST + Put MEMBER), reject (Delete), leave/remove (transaction:
      # Delete MEMBER + the room's index items), markRead and deleteRoom (conditional
      # UpdateItem), membership checks (BatchGetItem), reads (Get, Query)
      rooms = [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
      ]
      # subscribe a member's open connections (Query USER#, UpdateItem META, PutItem ROOM#),
      # unsubscribe on leave/remove (DeleteItem ROOM# in the transaction, UpdateItem META),
      # online flags (Query ROOM#), remove gone connections (GetItem, BatchWriteItem)
      connections = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
      ]
      # getMessages; markRead checks the message exists
      messages = ["dynamodb:Query", "dynamodb:GetItem"]
      # joinRoom's cool-down after a rejection: read by joinRoom, set by rejectJoin
      limits = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      # deleteRoom asks for the purge job
      room_purge = ["sqs:SendMessage"]
      # joinRequest, joinApproved, joinRejected, memberJoined, roomAdded, memberLeft,
      # removedFromRoom, roomDeleted, read events
      connections_api = ["execute-api:ManageConnections"]
    }
    send_message = {
      # membership check: META and MEMBER# in one BatchGetItem (GetItem when throttled)
      rooms = ["dynamodb:GetItem", "dynamodb:BatchGetItem"]
      # store a message (conditional put); edit, delete and react read it, then change it with
      # one conditional update; delivery is the stream processor's job
      messages = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
      # typing: the once-per-2-seconds claim (conditional PutItem of a TYPING# item), the room's
      # connections (Query), gone connections removed (GetItem, BatchWriteItem)
      connections = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem"]
      # the per-user message bucket: one conditional UpdateItem (two inside a burst)
      limits = ["dynamodb:UpdateItem"]
      # sendMessage is a one-way route: an `error` frame goes back to the sender's connection
      connections_api = ["execute-api:ManageConnections"]
    }
    stream_processor = {
      # a room's live connections (Query ROOM#); 410 Gone removes a connection (GetItem + batch)
      connections = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem"]
      # which rooms of the batch are deleted (one BatchGetItem of their META items); a large
      # room handed to the fan-out workers is marked so it stays with them (UpdateItem)
      rooms = ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
      # the event source mapping polls the stream with the function's role
      messages_stream = [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
      ]
      # records that exhaust their retries: the mapping's on-failure destination
      stream_dlq = ["sqs:SendMessage"]
      # rooms past var.fanout_chunk_threshold: their chunks go to the fan-out workers
      fanout = ["sqs:SendMessage"]
      # message frames
      connections_api = ["execute-api:ManageConnections"]
    }
    fanout_worker = {
      # 410 Gone removes a connection (GetItem, then its items in one batch)
      connections = ["dynamodb:GetItem", "dynamodb:BatchWriteItem"]
      # the event source mapping reads the queue with the function's role
      fanout = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      # message frames
      connections_api = ["execute-api:ManageConnections"]
    }
    room_purge = {
      # the tombstone (GetItem), member and request items (Query, batch delete), then the
      # tombstone itself (DeleteItem)
      rooms = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"]
      # the room's connection index items
      connections = ["dynamodb:Query", "dynamodb:BatchWriteItem"]
      # the room's messages, a page at a time
      messages = ["dynamodb:Query", "dynamodb:BatchWriteItem"]
      # the event source mapping reads the queue with the function's role; a run that stops
      # short sends the request again (SendMessage)
      room_purge = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
      ]
    }
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.lambda_functions

  name               = "${local.name}-${replace(each.key, "_", "-")}"
  description        = "Execution role of ${local.name}-${replace(each.key, "_", "-")}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.lambda_functions

  # Its own log group only (Terraform creates the group, so no logs:CreateLogGroup).
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = merge(
      lookup(local.function_access, each.key, {}),
      { for target, actions in try(local.cognito_access[each.key], {}) : target => actions if local.cognito },
      try(local.media_access[each.key], {}), # terraform/media.tf
    )

    content {
      sid       = replace(title(replace(statement.key, "_", " ")), " ", "")
      actions   = statement.value
      resources = [local.access_targets[statement.key]]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.lambda_functions

  name   = "least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}
