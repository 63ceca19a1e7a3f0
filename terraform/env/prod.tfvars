# prod: protect user data; keep logs for a quarter. Set alarm_topic_arn to an SNS topic your
# on-call subscribes to, e.g. alarm_topic_arn = "arn:aws:sns:eu-west-1:123456789012:chat-alarms".
environment         = "prod"
deletion_protection = true
log_retention_days  = 90
bcrypt_rounds       = 12
websocket_throttling = {
  rate_limit  = 2000
  burst_limit = 5000
}
rest_throttling = {
  rate_limit  = 500
  burst_limit = 1000
}
