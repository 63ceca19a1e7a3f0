# The Messages table's stream drives delivery: local.stream_mapping says how it is polled.

resource "aws_sqs_queue" "stream_dlq" {
  name                      = "${local.name}-stream-dlq"
  message_retention_seconds = 1209600 # 14 days, SQS's maximum: time to read and replay
  sqs_managed_sse_enabled   = true
  tags                      = local.tags

  # checkov:skip=CKV_AWS_27:Encrypted with SQS-managed keys (SSE-SQS); the queue holds stream record pointers (shard, sequence numbers), not message text.
}

resource "aws_lambda_event_source_mapping" "messages" {
  event_source_arn                   = aws_dynamodb_table.messages.stream_arn
  function_name                      = aws_lambda_function.function[local.stream_mapping.function].arn
  starting_position                  = "LATEST"
  batch_size                         = local.stream_mapping.batch_size
  maximum_batching_window_in_seconds = local.stream_mapping.maximum_batching_window_in_seconds
  maximum_retry_attempts             = local.stream_mapping.maximum_retry_attempts
  maximum_record_age_in_seconds      = local.stream_mapping.maximum_record_age_in_seconds
  bisect_batch_on_function_error     = local.stream_mapping.bisect_batch_on_function_error
  function_response_types            = ["ReportBatchItemFailures"]

  # Records that still fail after the retries (or grow too old) are described here.
  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.stream_dlq.arn
    }
  }

  filter_criteria {
    dynamic "filter" {
      for_each = local.stream_mapping.filter_patterns

      content {
        pattern = filter.value
      }
    }
  }

  # The function's role must allow reading the stream and sending to the queue first.
  depends_on = [aws_iam_role_policy.function]
}
