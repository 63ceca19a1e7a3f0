terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # State: the local backend, one workspace per environment (deploy.sh selects it), so dev,
  # staging and prod never share a state file. For a team, add a remote backend here, e.g.
  #   backend "s3" { bucket = "...", key = "chat/terraform.tfstate", region = "...", use_lockfile = true }
  # and workspaces keep one state object per environment under it (docs/deploy.md).
}

# Region and credentials come from the standard AWS environment (AWS_PROFILE, AWS_REGION,
# AWS_ENDPOINT_URL, ...) unless var.aws_region is set.
provider "aws" {
  region = var.aws_region
}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
