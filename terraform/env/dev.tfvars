# dev: a developer's or the team's shared test stack. Cheap, short log retention, easy to remove.
environment        = "dev"
log_retention_days = 7
