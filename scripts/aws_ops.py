"""The AWS calls deploy.sh and cleanup.sh make, with boto3 (which honours AWS_PROFILE,
AWS_REGION and AWS_ENDPOINT_URL like any AWS tool): `python scripts/aws_ops.py COMMAND ARGS...`.

Errors go to stderr prefixed with $AWS_OPS_CALLER (the calling script's name) and exit 1.
"""

import json
import mimetypes
import os
import secrets
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError


def fail(message):
    print(f"{os.environ.get('AWS_OPS_CALLER', 'aws_ops')}: {message}", file=sys.stderr)
    sys.exit(1)


def identity():
    try:
        session = boto3.session.Session()
        if not session.region_name:
            fail("no AWS region: set AWS_REGION (or a region in your AWS_PROFILE)")
        who = session.client("sts").get_caller_identity()
    except (NoCredentialsError, NoRegionError) as e:
        fail(
            f"no usable AWS credentials ({e}): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    except (ClientError, BotoCoreError) as e:
        fail(f"the AWS credentials do not work: {e}")
    print(f"{who['Account']} {session.region_name} {who['Arn']}")


def api_gateway_logging_role():
    """The role API Gateway logs with in this account and region: '' if none is set or the one
    set no longer exists (a removed stack leaves the setting behind)."""
    arn = boto3.client("apigateway").get_account().get("cloudwatchRoleArn") or ""
    if arn:
        try:
            boto3.client("iam").get_role(RoleName=arn.rsplit("/", 1)[-1])
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchEntity":
                raise
            arn = ""
    print(arn)


def signing_key(name, project, environment):
    ssm = boto3.client("ssm")
    try:
        ssm.get_parameter(Name=name)
        print(f"JWT signing key {name}: exists, kept")
        return
    except ClientError as e:
        if e.response["Error"]["Code"] != "ParameterNotFound":
            raise
    ssm.put_parameter(
        Name=name,
        Description=f"JWT signing key (HS256) of {project}-{environment}; created by deploy.sh",
        Value=secrets.token_urlsafe(48),
        Type="SecureString",
        Overwrite=False,
        Tags=[
            {"Key": "Project", "Value": project},
            {"Key": "Environment", "Value": environment},
            {"Key": "ManagedBy", "Value": "deploy.sh"},
        ],
    )
    print(f"JWT signing key {name}: created (SecureString, 64 random characters)")


def plan_values(plan_json):
    """The signing key's name and the project name, as the plan has them."""
    with open(plan_json, encoding="utf-8") as handle:
        plan = json.load(handle)
    key = plan.get("planned_values", {}).get("outputs", {}).get("jwt_secret_parameter_name", {})
    project = plan.get("variables", {}).get("project_name", {})
    if not key.get("value") or not project.get("value"):
        fail("the plan has no jwt_secret_parameter_name output or project_name variable")
    print(key["value"], project["value"])


CACHE = {"index.html": "no-cache", "config.js": "no-cache, no-store, max-age=0"}


def upload(outputs_json, frontend):
    with open(outputs_json, encoding="utf-8") as handle:
        outputs = {k: v["value"] for k, v in json.load(handle).items()}
    bucket = outputs["site_bucket"]
    s3 = boto3.client("s3")
    config = "window.CHAT_CONFIG = {{ restUrl: {}, wsUrl: {} }};\n".format(
        json.dumps(outputs["rest_api_url"]), json.dumps(outputs["websocket_url"])
    )
    wanted = {"config.js"}
    count = 0
    for folder, dirs, files in os.walk(frontend):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file in sorted(files):
            path = os.path.join(folder, file)
            key = os.path.relpath(path, frontend).replace(os.sep, "/")
            if key == "config.js" or file.startswith("."):
                continue  # config.js comes from the outputs, never from a local file
            content_type = mimetypes.guess_type(file)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type in (
                "application/javascript",
                "application/json",
            ):
                content_type += "; charset=utf-8"
            with open(path, "rb") as body:
                s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    CacheControl=CACHE.get(key, "public, max-age=300"),
                )
            wanted.add(key)
            count += 1
    s3.put_object(
        Bucket=bucket,
        Key="config.js",
        Body=config.encode("utf-8"),
        ContentType="application/javascript; charset=utf-8",
        CacheControl=CACHE["config.js"],
    )
    # Files removed from frontend/ leave the site too (their old versions expire by lifecycle).
    stale = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stale += [{"Key": o["Key"]} for o in page.get("Contents", []) if o["Key"] not in wanted]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": stale[start : start + 1000]})
    boto3.client("cloudfront").create_invalidation(
        DistributionId=outputs["cloudfront_distribution_id"],
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"deploy-{time.time_ns()}",
        },
    )
    print(
        f"s3://{bucket}: {count} files and config.js uploaded, {len(stale)} stale removed; CloudFront invalidated"
    )
    print(config, end="")


def empty_bucket(bucket):
    """Deletes every object version and delete marker, so destroy can remove the bucket."""
    s3 = boto3.client("s3")
    removed = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if doomed:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
                removed += len(doomed)
    except ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchBucket":
            print(f"s3://{bucket}: already gone")
            return
        raise
    print(f"s3://{bucket}: {removed} object versions deleted")


def delete_parameter(name):
    try:
        boto3.client("ssm").delete_parameter(Name=name)
        print(f"JWT signing key {name}: deleted")
    except ClientError as e:
        if e.response["Error"]["Code"] != "ParameterNotFound":
            raise
        print(f"JWT signing key {name}: not there")


commands = {
    "identity": identity,
    "api-gateway-logging-role": api_gateway_logging_role,
    "signing-key": signing_key,
    "plan-values": plan_values,
    "upload": upload,
    "empty-bucket": empty_bucket,
    "delete-parameter": delete_parameter,
}
commands[sys.argv[1]](*sys.argv[2:])
