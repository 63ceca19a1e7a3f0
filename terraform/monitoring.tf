# Alarms: function errors and throttles, the stream's delivery lag (IteratorAge) and the DLQ.
# Each has a runbook in docs/deploy.md ("Alarms"). Notifications go to var.alarm_topic_arn.

locals {
  alarm_actions = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.lambda_functions

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}-errors"
  alarm_description   = "${aws_lambda_function.function[each.key].function_name} raised unhandled errors (runbook: docs/deploy.md, Alarms, function errors)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.function[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = local.lambda_functions

  alarm_name          = "${local.name}-${replace(each.key, "_", "-")}-throttles"
  alarm_description   = "${aws_lambda_function.function[each.key].function_name} was throttled (runbook: docs/deploy.md, Alarms, throttles)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.function[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "stream_iterator_age" {
  alarm_name          = "${local.name}-stream-iterator-age"
  alarm_description   = "Messages are delivered late: the stream processor lags the Messages stream (runbook: docs/deploy.md, Alarms, IteratorAge)."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.function[local.stream_mapping.function].function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.iterator_age_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "stream_dlq" {
  alarm_name          = "${local.name}-stream-dlq-depth"
  alarm_description   = "Stream records gave up after their retries: some messages were stored but not delivered live (runbook: docs/deploy.md, Alarms, DLQ)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.stream_dlq.name }
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
