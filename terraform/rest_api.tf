# The REST API: one {proxy+} resource (and the root) proxied to the rest function, which routes by
# method and path, authenticates with the bearer JWT and answers CORS (OPTIONS included) itself.

locals {
  rest_function = aws_lambda_function.function[local.rest_api_function]
}

resource "aws_api_gateway_rest_api" "rest" {
  name        = "${local.name}-rest"
  description = "Chat REST API: accounts, tickets, rooms, history, members"
  tags        = local.tags

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  # checkov:skip=CKV_AWS_237:The API is never replaced in place (its id is in every client's URL); its deployment is create_before_destroy.
}

resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.rest.id
  parent_id   = aws_api_gateway_rest_api.rest.root_resource_id
  path_part   = "{proxy+}"
}

locals {
  rest_resources = {
    root  = aws_api_gateway_rest_api.rest.root_resource_id
    proxy = aws_api_gateway_resource.proxy.id
  }
}

resource "aws_api_gateway_method" "any" {
  for_each = local.rest_resources

  rest_api_id   = aws_api_gateway_rest_api.rest.id
  resource_id   = each.value
  http_method   = "ANY"
  authorization = "NONE"

  # checkov:skip=CKV_AWS_59:Authentication is the function's: signup and login must be public, every other call needs a valid bearer JWT (HS256, issuer-pinned) checked in chat.handlers.rest; OPTIONS must be public for CORS.
  # checkov:skip=CKV2_AWS_53:Request validation is the function's: every body is parsed and validated (types, sizes) before any table is touched, with the protocol's error codes.
}

resource "aws_api_gateway_integration" "any" {
  for_each = local.rest_resources

  rest_api_id             = aws_api_gateway_rest_api.rest.id
  resource_id             = each.value
  http_method             = aws_api_gateway_method.any[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = local.rest_function.invoke_arn
}

# API Gateway's own errors (throttling, 5xx before the function) carry CORS headers too, so the
# browser shows the real error instead of an opaque CORS failure.
resource "aws_api_gateway_gateway_response" "cors" {
  for_each = toset(["DEFAULT_4XX", "DEFAULT_5XX"])

  rest_api_id   = aws_api_gateway_rest_api.rest.id
  response_type = each.key

  response_parameters = {
    "gatewayresponse.header.Access-Control-Allow-Origin"  = "'${var.cors_allow_origin}'"
    "gatewayresponse.header.Access-Control-Allow-Headers" = "'Authorization, Content-Type'"
  }
}

resource "aws_api_gateway_deployment" "rest" {
  rest_api_id = aws_api_gateway_rest_api.rest.id
  description = "Chat REST API"

  # A new deployment whenever a resource, method, integration or gateway response changes.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy.id,
      { for k, m in aws_api_gateway_method.any : k => m.id },
      { for k, i in aws_api_gateway_integration.any : k => [i.id, i.uri] },
      { for k, r in aws_api_gateway_gateway_response.cors : k => r.response_parameters },
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "rest_access" {
  name              = "/aws/apigateway/${local.name}-rest/access"
  retention_in_days = var.log_retention_days
  tags              = local.tags

  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed KMS key adds cost and a key policy for no change in who can read the logs.
  # checkov:skip=CKV_AWS_338:Retention is a variable (30 days by default); access logs are operational here.
}

# API Gateway writes REST execution logs (level ERROR) to this group; created here so it has a
# retention and goes away with the stack.
resource "aws_cloudwatch_log_group" "rest_execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.rest.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags

  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed KMS key adds cost and a key policy for no change in who can read the logs.
  # checkov:skip=CKV_AWS_338:Retention is a variable (30 days by default); execution logs are operational here.
}


resource "aws_api_gateway_stage" "rest" {
  rest_api_id   = aws_api_gateway_rest_api.rest.id
  deployment_id = aws_api_gateway_deployment.rest.id
  stage_name    = var.stage_name
  description   = "Chat REST stage"
  tags          = local.tags

  # Method, path and status; no query string, no headers (the Authorization header holds the JWT).
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.rest_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTimeEpoch"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      path               = "$context.path"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      sourceIp           = "$context.identity.sourceIp"
      integrationStatus  = "$context.integration.status"
      integrationLatency = "$context.integration.latency"
      error              = "$context.error.message"
    })
  }

  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.rest_execution]

  # checkov:skip=CKV_AWS_73:X-Ray tracing is off to keep the per-request cost down; the function logs one JSON line per request with its duration.
  # checkov:skip=CKV_AWS_120:No API cache: every response depends on the caller's token (rooms, history), and a cache cluster costs from about $14/month.
  # checkov:skip=CKV2_AWS_29:WAF is optional (waf_rate_limit_per_5_minutes, terraform/waf.tf; off by default: $6 a month plus $0.60 per million requests); the per-user limits and stage throttling stand without it.
  # checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to an HTTP backend; the backend here is Lambda, invoked through IAM.
  # checkov:skip=CKV2_AWS_4:The logging level is set for every method by aws_api_gateway_method_settings.rest.
  # checkov:skip=CKV2_AWS_77:The optional web ACL (terraform/waf.tf) holds a per source IP rate rule only, no Log4j managed rule group: nothing behind this API runs Java.
}

resource "aws_api_gateway_method_settings" "rest" {
  rest_api_id = aws_api_gateway_rest_api.rest.id
  stage_name  = aws_api_gateway_stage.rest.stage_name
  method_path = "*/*"

  settings {
    throttling_rate_limit  = var.rest_throttling.rate_limit
    throttling_burst_limit = var.rest_throttling.burst_limit
    logging_level          = "ERROR"
    # Full request/response logging would write passwords and tokens to CloudWatch.
    data_trace_enabled = false
    metrics_enabled    = false
    caching_enabled    = false
  }

  # checkov:skip=CKV_AWS_225:No API cache: responses are per caller (see the stage).
  # checkov:skip=CKV_AWS_308:Caching is off, so there is no cache to encrypt.
}

resource "aws_lambda_permission" "rest" {
  statement_id  = "AllowRestApi"
  action        = "lambda:InvokeFunction"
  function_name = local.rest_function.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.rest.execution_arn}/${var.stage_name}/*/*"
}

# API Gateway writes execution and access logs with one role per account and region. deploy.sh
# keeps an existing role that another stack set (manage_api_gateway_account = false).
data "aws_iam_policy_document" "api_gateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${local.name}-apigw-logs"
  description        = "API Gateway writes execution and access logs to CloudWatch"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume.json
  tags               = local.tags
}

# What AWS's AmazonAPIGatewayPushToCloudWatchLogs grants, limited to this account and region.
data "aws_iam_policy_document" "api_gateway_logs" {
  statement {
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
    ]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  name   = "push-to-cloudwatch-logs"
  role   = aws_iam_role.api_gateway_logs[0].id
  policy = data.aws_iam_policy_document.api_gateway_logs.json
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  # Destroy leaves the region's setting as it is (pointing at the deleted role): API Gateway has
  # no call to unset it. deploy.sh treats a setting whose role no longer exists as unset.
  cloudwatch_role_arn = aws_iam_role.api_gateway_logs[0].arn

  depends_on = [aws_iam_role_policy.api_gateway_logs]
}
