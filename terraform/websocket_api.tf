# The WebSocket API: routes by the frame's `action`, every route in local.websocket_routes, the
# REQUEST authorizer (single-use ticket) on $connect, and two-way routes for direct replies.

locals {
  # Every function that serves at least one route gets one integration.
  websocket_functions = toset([for route in values(local.websocket_routes) : route.function])
  websocket_replies   = { for key, route in local.websocket_routes : key => route if route.reply }
}

resource "aws_apigatewayv2_api" "websocket" {
  name                       = "${local.name}-ws"
  description                = "Chat WebSocket API: actions routed by body.action"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  tags                       = local.tags
}

resource "aws_apigatewayv2_integration" "websocket" {
  for_each = local.websocket_functions

  api_id                    = aws_apigatewayv2_api.websocket.id
  description               = "Lambda proxy to ${aws_lambda_function.function[each.key].function_name}"
  integration_type          = "AWS_PROXY"
  integration_method        = "POST"
  integration_uri           = aws_lambda_function.function[each.key].invoke_arn
  content_handling_strategy = "CONVERT_TO_TEXT"
}

# The ticket is in the query string; API Gateway does not cache WebSocket authorizer results, so
# every connect runs the authorizer and a ticket can be used once only.
resource "aws_apigatewayv2_authorizer" "ticket" {
  api_id           = aws_apigatewayv2_api.websocket.id
  name             = "${local.name}-ticket"
  authorizer_type  = "REQUEST"
  authorizer_uri   = aws_lambda_function.function[local.websocket_authorizer_function].invoke_arn
  identity_sources = ["route.request.querystring.ticket"]
}

resource "aws_apigatewayv2_route" "websocket" {
  for_each = local.websocket_routes

  api_id                              = aws_apigatewayv2_api.websocket.id
  route_key                           = each.key
  target                              = "integrations/${aws_apigatewayv2_integration.websocket[each.value.function].id}"
  authorization_type                  = each.value.authorizer ? "CUSTOM" : "NONE"
  authorizer_id                       = each.value.authorizer ? aws_apigatewayv2_authorizer.ticket.id : null
  route_response_selection_expression = each.value.reply ? "$default" : null

  # checkov:skip=CKV_AWS_309:Only $connect can carry an authorizer on a WebSocket API; every later frame of the connection is covered by the $connect decision (the handlers read the username from the authorizer context).
}

# Two-way routes: the function's returned body goes back to the caller as one frame.
resource "aws_apigatewayv2_route_response" "websocket" {
  for_each = local.websocket_replies

  api_id             = aws_apigatewayv2_api.websocket.id
  route_id           = aws_apigatewayv2_route.websocket[each.key].id
  route_response_key = "$default"
}

resource "aws_cloudwatch_log_group" "websocket_access" {
  name              = "/aws/apigateway/${local.name}-ws/access"
  retention_in_days = var.log_retention_days
  tags              = local.tags

  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed KMS key adds cost and a key policy for no change in who can read the logs.
  # checkov:skip=CKV_AWS_338:Retention is a variable (30 days by default); access logs are operational here.
}

# API Gateway writes WebSocket execution logs (level ERROR) to this group; created here so it has a
# retention and goes away with the stack.
resource "aws_cloudwatch_log_group" "websocket_execution" {
  name              = "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.websocket.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags

  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed KMS key adds cost and a key policy for no change in who can read the logs.
  # checkov:skip=CKV_AWS_338:Retention is a variable (30 days by default); execution logs are operational here.
}


resource "aws_apigatewayv2_stage" "websocket" {
  api_id      = aws_apigatewayv2_api.websocket.id
  name        = var.stage_name
  description = "Chat WebSocket stage"
  auto_deploy = true
  tags        = local.tags

  default_route_settings {
    throttling_rate_limit  = var.websocket_throttling.rate_limit
    throttling_burst_limit = var.websocket_throttling.burst_limit
    # Errors only; data tracing would log full frames (message text), so it stays off.
    logging_level            = "ERROR"
    data_trace_enabled       = false
    detailed_metrics_enabled = false
  }

  # One JSON line per connect, frame and disconnect. No query string (where the ticket travels)
  # and no message body are logged.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.websocket_access.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      requestTime      = "$context.requestTimeEpoch"
      connectionId     = "$context.connectionId"
      eventType        = "$context.eventType"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      sourceIp         = "$context.identity.sourceIp"
      principal        = "$context.authorizer.principalId"
      authorizeStatus  = "$context.authorize.status"
      integrationError = "$context.integration.error"
      integrationMs    = "$context.integration.latency"
      error            = "$context.error.message"
    })
  }

  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.websocket_execution]

  # checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to an HTTP backend; the backends here are Lambda functions, invoked through IAM.
}

# API Gateway may invoke each WebSocket function, from this API's stage only.
resource "aws_lambda_permission" "websocket" {
  for_each = local.websocket_functions

  statement_id  = "AllowWebSocketApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage_name}/*"
}

resource "aws_lambda_permission" "websocket_authorizer" {
  statement_id  = "AllowWebSocketAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[local.websocket_authorizer_function].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.websocket.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.ticket.id}"
}
