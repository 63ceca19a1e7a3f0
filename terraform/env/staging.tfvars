# staging: production settings at a smaller scale.
environment        = "staging"
log_retention_days = 14
