# Background jobs through SQS: local.queue_mappings names each queue and its consumer:
# room_purge, which deletes a deleted room's messages, memberships and index items in bounded
# runs (lambda/chat/purge.py), and fanout (FIFO), a large room's chunks of connections
# (lambda/chat/fanout.py, Chunking). A run that fails or times out becomes visible again and resumes;
# after max_receive_count attempts the request lands in the job's dead-letter queue.

resource "aws_sqs_queue" "job_dlq" {
  for_each = local.queue_mappings

  name                      = "${local.name}-${replace(each.key, "_", "-")}-dlq${each.value.fifo ? ".fifo" : ""}"
  fifo_queue                = each.value.fifo
  message_retention_seconds = 1209600 # 14 days: time to look and re-drive
  sqs_managed_sse_enabled   = true
  tags                      = local.tags

  # checkov:skip=CKV_AWS_27:Encrypted with SQS-managed keys (SSE-SQS); purge requests hold a room id, fan-out chunks the frames API Gateway receives anyway, for at most the retention.
}

resource "aws_sqs_queue" "job" {
  for_each = local.queue_mappings

  name                       = "${local.name}-${replace(each.key, "_", "-")}${each.value.fifo ? ".fifo" : ""}"
  fifo_queue                 = each.value.fifo
  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  message_retention_seconds  = 345600 # 4 days
  sqs_managed_sse_enabled    = true
  tags                       = local.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.job_dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })

  # checkov:skip=CKV_AWS_27:Encrypted with SQS-managed keys (SSE-SQS); purge requests hold a room id, fan-out chunks the frames API Gateway receives anyway, for at most the retention.
}

resource "aws_lambda_event_source_mapping" "job" {
  for_each = local.queue_mappings

  event_source_arn        = aws_sqs_queue.job[each.key].arn
  function_name           = aws_lambda_function.function[each.value.function].arn
  batch_size              = each.value.batch_size
  function_response_types = ["ReportBatchItemFailures"]

  depends_on = [aws_iam_role_policy.function]
}

resource "aws_cloudwatch_metric_alarm" "job_dlq" {
  for_each = local.queue_mappings

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}-dlq-depth"
  alarm_description   = "A ${each.key} job gave up after its retries (runbook: docs/deploy.md, Alarms, DLQ)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.job_dlq[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}
