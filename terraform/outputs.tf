output "site_url" {
  description = "The chat client (CloudFront, HTTPS): the custom domain when site_domain_name is set."
  value       = "https://${local.site_host}"
}

output "cloudfront_domain_name" {
  description = "The distribution's own *.cloudfront.net name: the target of site_domain_name's DNS record (CNAME, or a Route 53 alias)."
  value       = aws_cloudfront_distribution.site.domain_name
}

output "site_content_security_policy" {
  description = "The Content-Security-Policy the site's response headers policy sends (site_security_headers_policy)."
  value       = local.site_content_security_policy
}

output "waf_web_acl_arn" {
  description = "The REST API's AWS WAF web ACL (waf_rate_limit_per_5_minutes > 0), or null."
  value       = local.waf ? aws_wafv2_web_acl.rest[0].arn : null
}

output "rest_api_url" {
  description = "Base URL of the REST API (the stage's invoke URL): the client's restUrl."
  value       = aws_api_gateway_stage.rest.invoke_url
}

output "websocket_url" {
  description = "URL of the WebSocket API (wss://, the stage's invoke URL): the client's wsUrl."
  value       = aws_apigatewayv2_stage.websocket.invoke_url
}

output "websocket_management_endpoint" {
  description = "The Management API endpoint the functions post frames to (WS_MANAGEMENT_ENDPOINT)."
  value       = local.websocket_management_endpoint
}

output "table_names" {
  description = "DynamoDB table names by role (users, rooms, connections, messages, limits)."
  value = {
    users       = aws_dynamodb_table.users.name
    rooms       = aws_dynamodb_table.rooms.name
    connections = aws_dynamodb_table.connections.name
    messages    = aws_dynamodb_table.messages.name
    limits      = aws_dynamodb_table.limits.name
  }
}

output "function_names" {
  description = "Lambda function names by key of local.lambda_functions."
  value       = { for key, fn in aws_lambda_function.function : key => fn.function_name }
}

output "media_bucket" {
  description = "S3 bucket holding uploaded files (private; presigned URLs only; cleanup.sh empties it)."
  value       = aws_s3_bucket.media.bucket
}

output "site_bucket" {
  description = "S3 bucket holding the client's files (deploy.sh uploads to it; cleanup.sh empties it)."
  value       = aws_s3_bucket.site.bucket
}

output "cloudfront_distribution_id" {
  description = "CloudFront distribution id (deploy.sh invalidates it after an upload)."
  value       = aws_cloudfront_distribution.site.id
}

output "jwt_secret_parameter_name" {
  description = "SSM SecureString with the JWT signing key (created by deploy.sh, deleted by cleanup.sh)."
  value       = local.jwt_secret_parameter_name
}

output "stream_dlq_url" {
  description = "SQS queue receiving stream records that failed delivery after their retries."
  value       = aws_sqs_queue.stream_dlq.url
}

output "rest_api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.rest.id
}

output "websocket_api_id" {
  description = "Id of the WebSocket API."
  value       = aws_apigatewayv2_api.websocket.id
}

output "identity_provider" {
  description = "builtin or cognito (var.identity_provider)."
  value       = var.identity_provider
}

output "cognito_user_pool_id" {
  description = "The Cognito user pool (identity_provider = \"cognito\"), or null."
  value       = local.cognito ? aws_cognito_user_pool.users[0].id : null
}

output "cognito_client_id" {
  description = "The pool's app client (no secret) the REST function signs users up and in with, or null."
  value       = local.cognito ? aws_cognito_user_pool_client.api[0].id : null
}

output "cognito_issuer" {
  description = "The `iss` of the pool's tokens; its JWKS is <issuer>/.well-known/jwks.json. Null in the builtin mode."
  value       = local.cognito ? local.cognito_issuer : null
}
