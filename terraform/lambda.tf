# The functions named in local.lambda_functions: python3.12 on arm64, the project's code in one
# package (build/function.zip holds `chat/`), bcrypt, PyJWT and cryptography in a layer built for arm64 by
# scripts/build_lambda.sh. Environment from local.lambda_environment.

resource "aws_lambda_layer_version" "deps" {
  layer_name               = "${local.name}-deps"
  description              = "bcrypt, PyJWT and cryptography for python3.12 on arm64"
  filename                 = var.layer_zip
  source_code_hash         = filebase64sha256(var.layer_zip)
  compatible_runtimes      = ["python3.12"]
  compatible_architectures = ["arm64"]
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.lambda_functions

  name              = "/aws/lambda/${local.name}-${replace(each.key, "_", "-")}"
  retention_in_days = var.log_retention_days
  tags              = local.tags

  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed KMS key adds $1/month per key and a key policy to maintain, for no change in who can read the logs (IAM decides that).
  # checkov:skip=CKV_AWS_338:Retention is a variable (30 days by default); chat request logs are operational, not audit records, and keeping them a year would only add cost.
}

resource "aws_lambda_function" "function" {
  for_each = local.lambda_functions

  function_name    = "${local.name}-${replace(each.key, "_", "-")}"
  description      = each.value.description
  role             = aws_iam_role.function[each.key].arn
  runtime          = "python3.12"
  architectures    = ["arm64"]
  handler          = each.value.handler
  memory_size      = each.value.memory_size
  timeout          = each.value.timeout
  filename         = var.function_zip
  source_code_hash = filebase64sha256(var.function_zip)
  layers           = [aws_lambda_layer_version.deps.arn]

  environment {
    variables = local.lambda_environment
  }

  tags = local.tags

  # Its log group (/aws/lambda/<name>, with a retention) and its permissions exist before the
  # function can run; otherwise Lambda would create the group itself, with no retention.
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function]

  # checkov:skip=CKV_AWS_50:X-Ray tracing is off by default to keep the per-message cost down; the functions log one JSON line per request with its duration. Turn it on per function when investigating.
  # checkov:skip=CKV_AWS_115:No reserved concurrency: a new account has 10 units of concurrency in total and Lambda refuses reservations that leave less than 10 unreserved; the API stages' throttling bounds concurrency instead.
  # checkov:skip=CKV_AWS_116:No dead-letter queue: every function is invoked synchronously (API Gateway) or by the stream's event source mapping, which has its own on-failure SQS destination; Lambda DLQs only apply to asynchronous invocations.
  # checkov:skip=CKV_AWS_117:Not in a VPC: the functions reach only AWS APIs (DynamoDB, SSM, the Management API); a VPC would add NAT gateway or endpoint costs and cold-start latency for no network boundary this stack needs.
  # checkov:skip=CKV_AWS_173:The environment holds names and settings, no secrets (the JWT key is in SSM); Lambda encrypts environment variables at rest with an AWS managed key by default.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signing step in the build; the package is built and deployed by the same trusted pipeline (deploy.sh).
}
