# The topology of the system as plain data. Terraform's resources consume these maps with
# for_each, and the local cloud (scripts/localcloud) reads this same file at start-up, so a
# function, route or stream setting added here is served locally with no second list in Python.
# Keep every entry of a map the same shape: the local cloud and Terraform both rely on it.
locals {
  name = "${var.project_name}-${var.environment}"

  tags = merge(
    {
      Project     = var.project_name
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )

  # One Lambda function per key. `handler` is module.function inside the `chat` package.
  lambda_functions = {
    rest = {
      handler     = "chat.handlers.rest.lambda_handler"
      description = "REST API: signup, login, me, WebSocket tickets, rooms, history, members"
      # bcrypt at cost 12 is CPU-bound and Lambda gives CPU in proportion to memory.
      memory_size = 1024
      timeout     = 10
    }
    authorizer = {
      handler     = "chat.handlers.authorizer.lambda_handler"
      description = "WebSocket $connect REQUEST authorizer: consumes a single-use ticket"
      memory_size = 256
      timeout     = 5
    }
    connections = {
      handler     = "chat.handlers.connections.lambda_handler"
      description = "WebSocket $connect and $disconnect: stores and removes connections"
      memory_size = 256
      timeout     = 10
    }
    rooms = {
      handler     = "chat.handlers.rooms.lambda_handler"
      description = "WebSocket room actions: rooms, direct rooms, joins, leaving, deletion, reads"
      memory_size = 256
      timeout     = 10
    }
    send_message = {
      handler     = "chat.handlers.send_message.lambda_handler"
      description = "WebSocket message writes: send, edit, delete, react (one item each); typing"
      memory_size = 256
      timeout     = 5
    }
    stream_processor = {
      handler     = "chat.handlers.stream_processor.lambda_handler"
      description = "Messages stream consumer: fans each message out to its room's connections"
      memory_size = 512
      timeout     = 60
    }
    fanout_worker = {
      handler     = "chat.handlers.fanout_worker.lambda_handler"
      description = "Fan-out queue consumer: posts a large room's chunk of connections their frames"
      memory_size = 512
      timeout     = 60
    }
    room_purge = {
      handler     = "chat.handlers.room_purge.lambda_handler"
      description = "Room-purge queue consumer: deletes a deleted room's messages and items"
      memory_size = 256
      # A run stops itself 3 s before this and asks for another (chat/purge.py).
      timeout = 60
    }
  }

  # The REST API is one proxy resource; the rest function routes by method and path.
  rest_api_function = "rest"

  # WebSocket route key => the function that serves it. `authorizer` marks the route that runs
  # the REQUEST authorizer first; `reply` makes the function's returned body the direct reply
  # to the client (a two-way route with a $default route response).
  websocket_routes = {
    "$connect"    = { function = "connections", authorizer = true, reply = false }
    "$disconnect" = { function = "connections", authorizer = false, reply = false }
    "$default"    = { function = "rooms", authorizer = false, reply = true }
    createRoom    = { function = "rooms", authorizer = false, reply = true }
    joinRoom      = { function = "rooms", authorizer = false, reply = true }
    approveJoin   = { function = "rooms", authorizer = false, reply = true }
    rejectJoin    = { function = "rooms", authorizer = false, reply = true }
    getMessages   = { function = "rooms", authorizer = false, reply = true }
    getMembers    = { function = "rooms", authorizer = false, reply = true }
    openDirect    = { function = "rooms", authorizer = false, reply = true }
    leaveRoom     = { function = "rooms", authorizer = false, reply = true }
    removeMember  = { function = "rooms", authorizer = false, reply = true }
    deleteRoom    = { function = "rooms", authorizer = false, reply = true }
    markRead      = { function = "rooms", authorizer = false, reply = true }
    ping          = { function = "rooms", authorizer = false, reply = true }
    # One-way: success has no reply (the stored message arrives as `message`, echoing the
    # clientMessageId); errors are posted to the sender's connection by the function.
    sendMessage   = { function = "send_message", authorizer = false, reply = false }
    editMessage   = { function = "send_message", authorizer = false, reply = false }
    deleteMessage = { function = "send_message", authorizer = false, reply = false }
    react         = { function = "send_message", authorizer = false, reply = false }
    typing        = { function = "send_message", authorizer = false, reply = false }
  }

  websocket_authorizer_function = "authorizer"

  # SQS queue => the function that consumes it (terraform/queues.tf). The local cloud reads this
  # map too and polls the same queues.
  queue_mappings = {
    room_purge = {
      function   = "room_purge"
      batch_size = 1
      # Longer than the function's timeout, as SQS event sources require.
      visibility_timeout_seconds = 120
      max_receive_count          = 5
      fifo                       = false
    }
    # Rooms past var.fanout_chunk_threshold connections: the stream processor sends chunks of
    # connections here, one FIFO message group per (room, hash bucket of the connection id), so
    # each connection's frames keep their order across stream batches.
    fanout = {
      function                   = "fanout_worker"
      batch_size                 = 1
      visibility_timeout_seconds = 120
      max_receive_count          = 5
      fifo                       = true
    }
  }

  # The Messages stream => stream_processor mapping.
  stream_mapping = {
    function                           = "stream_processor"
    batch_size                         = 100
    maximum_batching_window_in_seconds = 0
    maximum_retry_attempts             = 5
    maximum_record_age_in_seconds      = 3600
    bisect_batch_on_function_error     = true
    # New messages (INSERT) and changes to them (MODIFY: edits, deletes, reactions) fan out;
    # the purge job's deletes (REMOVE) never invoke the processor.
    filter_patterns = [jsonencode({ eventName = ["INSERT", "MODIFY"] })]
  }

  # The environment every function gets. Endpoints are never read from events, so the same
  # code runs on AWS, on LocalStack and in the local cloud.
  lambda_environment = {
    USERS_TABLE            = aws_dynamodb_table.users.name
    ROOMS_TABLE            = aws_dynamodb_table.rooms.name
    CONNECTIONS_TABLE      = aws_dynamodb_table.connections.name
    MESSAGES_TABLE         = aws_dynamodb_table.messages.name
    JWT_SECRET_PARAMETER   = local.jwt_secret_parameter_name
    JWT_ISSUER             = var.jwt_issuer
    JWT_TTL_SECONDS        = tostring(var.jwt_ttl_seconds)
    BCRYPT_ROUNDS          = tostring(var.bcrypt_rounds)
    WS_MANAGEMENT_ENDPOINT = local.websocket_management_endpoint
    LOG_LEVEL              = var.log_level
    CORS_ALLOW_ORIGIN      = var.cors_allow_origin
    # builtin | cognito (terraform/cognito.tf); the three below are empty in the builtin mode.
    IDENTITY_PROVIDER    = var.identity_provider
    COGNITO_USER_POOL_ID = local.cognito ? aws_cognito_user_pool.users[0].id : ""
    COGNITO_CLIENT_ID    = local.cognito ? aws_cognito_user_pool_client.api[0].id : ""
    COGNITO_ISSUER       = local.cognito_issuer
    ROOM_PURGE_QUEUE_URL = aws_sqs_queue.job["room_purge"].url
    FANOUT_QUEUE_URL     = aws_sqs_queue.job["fanout"].url
    # Rooms of more connections than this are fanned out by the fan-out workers.
    FANOUT_CHUNK_THRESHOLD = tostring(var.fanout_chunk_threshold)
    FANOUT_BUCKETS         = "64"
    # A deleted room's tombstone outlives its purge by this long, so a send racing the
    # delete is purged too (longer than send_message's timeout).
    ROOM_PURGE_GRACE_SECONDS = "60"
    # terraform/media.tf: the bucket and the upload limits (docs/protocol.md, "Media")
    MEDIA_BUCKET             = aws_s3_bucket.media.bucket
    MEDIA_MAX_BYTES          = tostring(var.media_max_bytes)
    MEDIA_CONTENT_TYPES      = join(",", var.media_content_types)
    MEDIA_UPLOAD_TTL_SECONDS = tostring(var.media_upload_ttl_seconds)

    # Abuse limits (terraform/variables.tf, rate_limit*): the limits table and each limit.
    LIMITS_TABLE                         = aws_dynamodb_table.limits.name
    RATE_LIMITS_ENABLED                  = tostring(var.rate_limits_enabled)
    RATE_LIMIT_MESSAGES_PER_SECOND       = tostring(var.rate_limit_messages_per_second)
    RATE_LIMIT_MESSAGES_BURST            = tostring(var.rate_limit_messages_burst)
    RATE_LIMIT_LOGIN_FAILURES_PER_SOURCE = tostring(var.rate_limit_login_failures_per_source)
    RATE_LIMIT_LOGIN_FAILURES_PER_USER   = tostring(var.rate_limit_login_failures_per_user)
    RATE_LIMIT_LOGIN_WINDOW_SECONDS      = tostring(var.rate_limit_login_window_seconds)
    RATE_LIMIT_SIGNUPS_PER_HOUR          = tostring(var.rate_limit_signups_per_hour)
    RATE_LIMIT_JOIN_COOLDOWN_SECONDS     = tostring(var.rate_limit_join_cooldown_seconds)
    RATE_LIMIT_TYPING_WINDOW_SECONDS     = tostring(var.rate_limit_typing_window_seconds)
  }

  # The SSM SecureString with the JWT signing key (deploy.sh creates it; Terraform only names it).
  jwt_secret_parameter_name = (
    var.jwt_secret_parameter_name != ""
    ? var.jwt_secret_parameter_name
    : "/${var.project_name}/${var.environment}/jwt-signing-key"
  )

  # Built from the API id rather than the stage so the functions do not depend on the stage
  # (which depends on the functions). A custom domain overrides it.
  websocket_management_endpoint = (
    var.websocket_management_endpoint != ""
    ? var.websocket_management_endpoint
    : "https://${aws_apigatewayv2_api.websocket.id}.execute-api.${data.aws_region.current.name}.amazonaws.com/${var.stage_name}"
  )
}
