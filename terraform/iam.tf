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
    stream_dlq      = aws_sqs_queue.stream_dlq.arn
    signing_key     = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter${local.jwt_secret_parameter_name}"
    connections_api = "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage_name}/POST/@connections/*"
    user_pool       = local.cognito ? aws_cognito_user_pool.users[0].arn : ""
  }

  # identity_provider = "cognito": SignUp and InitiateAuth are public Cognito APIs (the app
  # client id authorises them, IAM does not), so the REST function needs one grant only:
  # AdminConfirmSignUp on its own pool, to confirm a fresh account so that it can log in at once
  # (the chat collects no e-mail to verify). Nothing else may call Cognito.
  cognito_access = { rest = { user_pool = ["cognito-idp:AdminConfirmSignUp"] } }

  function_access = {
    rest = {
      # signup (conditional put), login (get), tickets (put)
      users = ["dynamodb:GetItem", "dynamodb:PutItem"]
      # membership checks, room META, members and requests of a room
      rooms = ["dynamodb:GetItem", "dynamodb:Query"]
      # GET /rooms: the rooms I belong to
      rooms_by_user = ["dynamodb:Query"]
      # GET /rooms/{id}/members: who is online (the room's connections)
      connections = ["dynamodb:Query"]
      # GET /rooms/{id}/messages: history pages
      messages = ["dynamodb:Query"]
      # the JWT signing key, read once per container
      signing_key = ["ssm:GetParameter"]
    }
    authorizer = {
      # redeem a single-use ticket: one conditional delete
      users = ["dynamodb:DeleteItem"]
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
      # create (transaction: Put META + Put MEMBER), join request (ConditionCheck + Put),
      # approve (Delete REQUEST + Put MEMBER), reject (Delete), reads (Get, Query)
      rooms = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
      ]
      # subscribe a member's open connections (Query USER#, UpdateItem META, PutItem ROOM#),
      # online flags (Query ROOM#), remove gone connections (GetItem, BatchWriteItem)
      connections = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
      ]
      # getMessages
      messages = ["dynamodb:Query"]
      # joinRequest, joinApproved, joinRejected, memberJoined events
      connections_api = ["execute-api:ManageConnections"]
    }
    send_message = {
      # membership check (MEMBER#, then META to tell 404 from 403)
      rooms = ["dynamodb:GetItem"]
      # store the message (conditional put); delivery is the stream processor's job
      messages = ["dynamodb:PutItem"]
      # sendMessage is a one-way route: an `error` frame goes back to the sender's connection
      connections_api = ["execute-api:ManageConnections"]
    }
    stream_processor = {
      # a room's live connections (Query ROOM#); 410 Gone removes a connection (GetItem + batch)
      connections = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem"]
      # the event source mapping polls the stream with the function's role
      messages_stream = [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
      ]
      # records that exhaust their retries: the mapping's on-failure destination
      stream_dlq = ["sqs:SendMessage"]
      # message frames
      connections_api = ["execute-api:ManageConnections"]
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
