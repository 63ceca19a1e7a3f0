"""The real ./deploy.sh and ./cleanup.sh against a moto server on loopback.

deploy.sh runs as a user runs it (the standard AWS environment points it at moto); then the AWS
APIs are read back and compared with what the local cloud reads from terraform/: the tables with
their keys, indexes, stream and TTL; every route with its handler; the $connect authorizer; the
stream mapping with its settings; the functions, their environment and roles; config.js in the
bucket. A second deploy.sh must change nothing but what moto cannot keep. Then cleanup.sh --yes,
and nothing may be left, in moto or on disk.

Two deviations from a real deployment, passed the way a user passes extra Terraform arguments:
`-var site_bucket_require_tls=false`, because moto's endpoint is plain http and moto applies the
bucket policy's deny-without-TLS statement to it; and `-var site_security_headers_policy=false`,
because moto's CloudFront has no response headers policies (CreateResponseHeadersPolicy is not
implemented, moto 5.2.5). That policy is proven by a plan in the deployed workspace instead, with
every id known: Terraform would create it with the CSP the stack outputs and attach it to both
behaviours. The cognito deployment turns the optional WAF on (moto implements wafv2 and its
association with a REST API stage); the builtin one keeps the default, no WAF.

Runs once per identity provider (`--identity builtin` and `cognito`), both deployed at once, each
to its own moto server; the whole file took 459 s at load average 2 (another test run beside it),
where the two cycles one after the other had taken 337 s for the builtin one alone.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.motoserver import REGION
from localcloud.terraform import Topology, load
from tests.infra.conftest import REPO, TERRAFORM_DIR, logged_moto_server, run, terraform_env

pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]

EXTRA_TF_ARGS = [
    "--",
    "-var",
    "site_bucket_require_tls=false",
    "-var",
    "site_security_headers_policy=false",
]
WAF_LIMIT = 1000  # the cognito deployment's waf_rate_limit_per_5_minutes


def extra_tf_args(identity: str) -> list[str]:
    waf = ["-var", f"waf_rate_limit_per_5_minutes={WAF_LIMIT}"] if identity == "cognito" else []
    return [*EXTRA_TF_ARGS, *waf]


@dataclass
class Deployment:
    env_name: str
    env: dict[str, str]
    endpoint: str
    build_dir: Path
    topology: Topology
    outputs: dict[str, Any]
    state: dict[str, Any]
    deploy_stdout: str
    cleaned: bool = False

    @property
    def identity(self) -> str:
        return str(self.topology.variables["identity_provider"])

    @property
    def tf_args(self) -> list[str]:
        return extra_tf_args(self.identity)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def resources(self, rtype: str) -> list[dict[str, Any]]:
        found = []
        modules = [self.state["values"]["root_module"]]
        for module in modules:
            found += [r for r in module.get("resources", []) if r["type"] == rtype]
        return found


def script_env(endpoint: str, tmp: Path) -> dict[str, str]:
    env = terraform_env(tmp / "tf-data")
    for name in list(env):
        if name.startswith("AWS_") and name != "AWS_CA_BUNDLE":
            del env[name]
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        BUILD_DIR=str(tmp / "build"),
    )
    return env


IDENTITIES = ("builtin", "cognito")


def _deploy(identity: str, endpoint: str, tmp: Path, lambda_build: Path) -> Deployment:
    env = script_env(endpoint, tmp)
    build_dir = Path(env["BUILD_DIR"])
    build_dir.mkdir()
    # The layer was built once for this session; deploy.sh finds it up to date.
    for name in ("layer.zip", "layer.requirements"):
        (build_dir / name).write_bytes((lambda_build / name).read_bytes())
    env_name = "it" + secrets.token_hex(4)
    deployment = Deployment(
        env_name=env_name,
        env=env,
        endpoint=endpoint,
        build_dir=build_dir,
        topology=load(TERRAFORM_DIR, {"environment": env_name, "identity_provider": identity}),
        outputs={},
        state={},
        deploy_stdout="",
    )
    try:
        deploy = run(
            ["./deploy.sh", "--env", env_name, "--identity", identity, *extra_tf_args(identity)],
            env=env,
            timeout=600,
        )
        outputs = json.loads((build_dir / f"{env_name}.outputs.json").read_text())
        deployment.outputs = {k: v["value"] for k, v in outputs.items()}
        deployment.state = json.loads(
            run(
                ["terraform", f"-chdir={TERRAFORM_DIR}", "show", "-json"],
                env=dict(env, TF_WORKSPACE=env_name),
            ).stdout
        )
        deployment.deploy_stdout = deploy.stdout
    except BaseException:  # pytest.fail is a BaseException: a half-made deployment is cleaned too
        _clean_up(deployment)
        raise
    return deployment


def _clean_up(deployment: Deployment) -> None:
    if not deployment.cleaned:  # a failed test must not leave a workspace behind
        run(
            ["./cleanup.sh", "--env", deployment.env_name, "--yes", *deployment.tf_args],
            env=deployment.env,
            timeout=600,
            check=False,
        )


@pytest.fixture(scope="module")
def deployments(
    lambda_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Deployment | BaseException]]:
    """Both identity providers deploy at the same time, each to its own moto server (so that
    cleanup can prove its server empty): the applies are most of this file's time, and they
    spend it waiting on moto and Terraform, two processes that use both cores."""
    with ExitStack() as servers:
        started: dict[str, Deployment | BaseException] = {}
        with ThreadPoolExecutor(len(IDENTITIES)) as pool:
            futures = {
                identity: pool.submit(
                    _deploy,
                    identity,
                    servers.enter_context(logged_moto_server(tmp_path_factory)),
                    tmp_path_factory.mktemp(f"deploy-{identity}"),
                    lambda_build,
                )
                for identity in IDENTITIES
            }
            for identity, future in futures.items():
                try:
                    started[identity] = future.result()
                except BaseException as e:
                    started[identity] = e
        try:
            yield started
        finally:
            for deployment in started.values():
                if isinstance(deployment, Deployment):
                    _clean_up(deployment)


@pytest.fixture(scope="module", params=IDENTITIES)
def deployment(
    request: pytest.FixtureRequest, deployments: dict[str, Deployment | BaseException]
) -> Deployment:
    """One deployment per identity provider (deploy.sh --identity), each cleaned up by its last
    test: every test below runs against both."""
    started = deployments[request.param]
    if isinstance(started, BaseException):
        raise started
    return started


def test_deploy_prints_the_urls_and_creates_the_signing_key(deployment: Deployment) -> None:
    out = deployment.deploy_stdout
    assert f"site:      {deployment.outputs['site_url']}" in out
    assert f"REST API:  {deployment.outputs['rest_api_url']}" in out
    assert f"WebSocket: {deployment.outputs['websocket_url']}" in out
    assert deployment.outputs["websocket_url"].startswith("wss://")
    assert deployment.outputs["rest_api_url"].startswith("https://")
    name = deployment.outputs["jwt_secret_parameter_name"]
    assert name == f"/chat/{deployment.env_name}/jwt-signing-key"
    parameter = deployment.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert len(parameter["Value"]) >= 32
    # Terraform names the key and grants access to it; its value never enters the state.
    assert parameter["Value"] not in json.dumps(deployment.state)


def test_tables_have_the_keys_indexes_stream_and_ttl_the_local_cloud_uses(
    deployment: Deployment,
) -> None:
    dynamodb = deployment.client("dynamodb")
    assert set(deployment.topology.tables) == {
        "users",
        "rooms",
        "connections",
        "messages",
        "limits",
    }
    for table in deployment.topology.tables.values():
        assert table.name == deployment.outputs["table_names"][table.key]
        description = dynamodb.describe_table(TableName=table.name)["Table"]
        expected = table.create_table_kwargs()
        assert description["KeySchema"] == expected["KeySchema"]
        assert {
            a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]
        } == table.attributes
        assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        indexes = {
            i["IndexName"]: (i["KeySchema"], i["Projection"]["ProjectionType"])
            for i in description.get("GlobalSecondaryIndexes", [])
        }
        assert indexes == {
            i["IndexName"]: (i["KeySchema"], i["Projection"]["ProjectionType"])
            for i in expected.get("GlobalSecondaryIndexes", [])
        }
        stream = description.get("StreamSpecification", {})
        if table.stream_view_type:
            assert stream == {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
        else:
            assert not stream.get("StreamEnabled")
        ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if table.ttl_attribute:
            assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": table.ttl_attribute}
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"
        assert description["SSEDescription"]["Status"] == "ENABLED"
    assert deployment.topology.tables["messages"].stream_view_type == "NEW_IMAGE"


def test_functions_are_python312_arm64_with_the_layer_and_terraform_environment(
    deployment: Deployment,
) -> None:
    lam = deployment.client("lambda")
    names = deployment.outputs["function_names"]
    assert set(names) == set(deployment.topology.functions)
    ws_api = deployment.outputs["websocket_api_id"]
    for key, function in deployment.topology.functions.items():
        config = lam.get_function_configuration(FunctionName=names[key])
        assert config["Runtime"] == "python3.12"
        assert config["Architectures"] == ["arm64"]
        assert config["Handler"] == function.handler
        assert config["MemorySize"] == function.memory_size
        assert config["Timeout"] == function.timeout
        assert len(config["Layers"]) == 1 and ":layer:chat-" in config["Layers"][0]["Arn"]
        variables = config["Environment"]["Variables"]
        for name, value in deployment.topology.environment.items():
            assert variables[name] == value, name
        assert variables["WS_MANAGEMENT_ENDPOINT"] == (
            f"https://{ws_api}.execute-api.us-east-1.amazonaws.com/{deployment.topology.stage}"
        )
    logs = deployment.client("logs")
    groups = {
        g["logGroupName"]: g.get("retentionInDays")
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    }
    for name in names.values():
        assert groups.get(f"/aws/lambda/{name}"), f"no log group with a retention for {name}"


def _role_policy(deployment: Deployment, function_key: str) -> str:
    iam = deployment.client("iam")
    role = (
        deployment.client("lambda")
        .get_function_configuration(
            FunctionName=deployment.outputs["function_names"][function_key]
        )["Role"]
        .rsplit("/", 1)[-1]
    )
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return json.dumps(
        [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names]
    )


def test_each_function_has_its_own_least_privilege_role(deployment: Deployment) -> None:
    send = _role_policy(deployment, "send_message")
    # The message writes are one-way: they post errors to the sender (and typing to the room),
    # so they may POST to connections (never GET or DELETE them); they write messages and the
    # typing limiter's item, and delete nothing.
    assert "/POST/@connections/*" in send and "/DELETE/" not in send and "/GET/" not in send
    assert "dynamodb:PutItem" in send and "-messages" in send
    assert "dynamodb:DeleteItem" not in send and "dynamodb:Scan" not in send
    assert "ssm:GetParameter" not in send
    for poster in ("stream_processor", "rooms", "connections", "send_message"):
        assert "execute-api:ManageConnections" in _role_policy(deployment, poster)
    rest = _role_policy(deployment, "rest")
    assert "ssm:GetParameter" in rest and deployment.outputs["jwt_secret_parameter_name"] in rest
    # Log out everywhere closes the user's connections: the REST function alone may DELETE them.
    assert "/DELETE/@connections/*" in rest and "/GET/" not in rest
    for key in set(deployment.topology.functions) - {"rest"}:
        assert "/DELETE/@connections/*" not in _role_policy(deployment, key), key
    authorizer = _role_policy(deployment, "authorizer")
    assert "dynamodb:DeleteItem" in authorizer and "-users" in authorizer
    assert "-messages" not in authorizer and "-rooms" not in authorizer
    for key in deployment.topology.functions:
        policy = _role_policy(deployment, key)
        assert '"*"' not in policy and '"dynamodb:*"' not in policy, key


def test_the_identity_provider_is_wired_as_its_mode_says(deployment: Deployment) -> None:
    cognito = deployment.client("cognito-idp")
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    outputs = deployment.outputs
    assert outputs["identity_provider"] == deployment.identity
    assert f"accounts:  {deployment.identity}" in deployment.deploy_stdout
    rest_config = deployment.client("lambda").get_function_configuration(
        FunctionName=outputs["function_names"]["rest"]
    )
    variables = rest_config["Environment"]["Variables"]
    rest = _role_policy(deployment, "rest")
    if deployment.identity == "builtin":
        # Nothing Cognito exists or is granted.
        assert pools == [] and outputs.get("cognito_user_pool_id") is None
        assert (
            variables["COGNITO_USER_POOL_ID"] == "" and variables["IDENTITY_PROVIDER"] == "builtin"
        )
        for key in deployment.topology.functions:
            assert "cognito-idp" not in _role_policy(deployment, key), key
        return
    pool_id = outputs["cognito_user_pool_id"]
    assert [p["Id"] for p in pools] == [pool_id]
    assert f"(user pool {pool_id})" in deployment.deploy_stdout
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["Name"] == f"chat-{deployment.env_name}-users"
    assert pool["MfaConfiguration"] == "OFF"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    app = cognito.describe_user_pool_client(
        UserPoolId=pool_id, ClientId=outputs["cognito_client_id"]
    )["UserPoolClient"]
    assert "ClientSecret" not in app
    assert "ALLOW_USER_PASSWORD_AUTH" in app["ExplicitAuthFlows"]
    assert variables["IDENTITY_PROVIDER"] == "cognito"
    assert variables["COGNITO_USER_POOL_ID"] == pool_id
    assert variables["COGNITO_CLIENT_ID"] == outputs["cognito_client_id"]
    assert (
        variables["COGNITO_ISSUER"]
        == outputs["cognito_issuer"]
        == (f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}")
    )
    # Only the REST function may call Cognito, and only AdminConfirmSignUp and
    # AdminUserGlobalSignOut (log out everywhere) on its own pool.
    assert "cognito-idp:AdminConfirmSignUp" in rest and pool["Arn"] in rest
    actions = [
        action
        for document in json.loads(rest)
        for statement in document["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]
    assert sorted(a for a in actions if a.startswith("cognito-idp:")) == [
        "cognito-idp:AdminConfirmSignUp",
        "cognito-idp:AdminUserGlobalSignOut",
    ]
    for key in set(deployment.topology.functions) - {"rest"}:
        assert "cognito-idp" not in _role_policy(deployment, key), key


def test_every_websocket_route_reaches_its_handler(deployment: Deployment) -> None:
    apigw = deployment.client("apigatewayv2")
    api_id = deployment.outputs["websocket_api_id"]
    api = apigw.get_api(ApiId=api_id)
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    integrations = {i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api_id)["Items"]}
    routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == set(deployment.topology.routes)
    names = deployment.outputs["function_names"]
    for key, expected in deployment.topology.routes.items():
        route = routes[key]
        integration = integrations[route["Target"].removeprefix("integrations/")]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert f":function:{names[expected.function]}/" in integration["IntegrationUri"], key
        if expected.reply:
            assert route.get("RouteResponseSelectionExpression") == "$default", key
        else:
            assert not route.get("RouteResponseSelectionExpression"), key
        assert route.get("AuthorizationType", "NONE") == (
            "CUSTOM" if expected.authorizer else "NONE"
        )
    # Two-way routes have their $default route response (moto has no GetRouteResponses: the ids
    # come from the state).
    responses = deployment.resources("aws_apigatewayv2_route_response")
    replying = {k for k, r in deployment.topology.routes.items() if r.reply}
    assert {r["index"] for r in responses} == replying
    for response in responses:
        got = apigw.get_route_response(
            ApiId=api_id,
            RouteId=response["values"]["route_id"],
            RouteResponseId=response["values"]["id"],
        )
        assert got["RouteResponseKey"] == "$default"
        assert response["values"]["route_id"] == routes[response["index"]]["RouteId"]


def test_connect_runs_the_ticket_authorizer(deployment: Deployment) -> None:
    apigw = deployment.client("apigatewayv2")
    api_id = deployment.outputs["websocket_api_id"]
    routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
    authorized = [k for k, r in deployment.topology.routes.items() if r.authorizer]
    assert authorized == ["$connect"]
    authorizer = apigw.get_authorizer(ApiId=api_id, AuthorizerId=routes["$connect"]["AuthorizerId"])
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.ticket"]
    assert deployment.topology.authorizer is not None
    function = deployment.outputs["function_names"][deployment.topology.authorizer.function]
    assert f":function:{function}/" in authorizer["AuthorizerUri"]
    assert not authorizer.get("AuthorizerResultTtlInSeconds")


def test_the_websocket_stage_throttles_and_logs_no_ticket(deployment: Deployment) -> None:
    apigw = deployment.client("apigatewayv2")
    stage = apigw.get_stage(
        ApiId=deployment.outputs["websocket_api_id"], StageName=deployment.topology.stage
    )
    settings = stage["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert not settings.get("DataTraceEnabled")
    log_format = stage["AccessLogSettings"]["Format"]
    fields = json.loads(log_format)
    assert "connectionId" in fields and "routeKey" in fields
    for secret_bearing in ("querystring", "ticket", "token", "body", "Authorization"):
        assert secret_bearing.lower() not in log_format.lower(), secret_bearing


def test_the_rest_api_proxies_everything_to_the_rest_function(deployment: Deployment) -> None:
    apigw = deployment.client("apigateway")
    api_id = deployment.outputs["rest_api_id"]
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert set(resources) == {"/", "/{proxy+}"}
    function = deployment.outputs["function_names"][deployment.topology.rest_function]
    for resource in resources.values():
        integration = apigw.get_integration(
            restApiId=api_id, resourceId=resource["id"], httpMethod="ANY"
        )
        assert integration["type"] == "AWS_PROXY"
        assert f":function:{function}/" in integration["uri"]
    stage = apigw.get_stage(restApiId=api_id, stageName=deployment.topology.stage)
    log_format = stage["accessLogSettings"]["format"]
    assert "requestId" in json.loads(log_format)
    for secret_bearing in ("querystring", "authorization", "header", "body"):
        assert secret_bearing not in log_format.lower(), secret_bearing


@pytest.mark.parametrize("key", ["room_purge", "fanout"])
def test_each_job_queue_feeds_its_function(deployment: Deployment, key: str) -> None:
    queue = deployment.topology.queues[key]
    function = deployment.outputs["function_names"][queue.function]
    sqs = deployment.client("sqs")
    base = f"chat-{deployment.env_name}-{key.replace('_', '-')}"
    suffix = ".fifo" if queue.fifo else ""
    url = sqs.get_queue_url(QueueName=f"{base}{suffix}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["VisibilityTimeout"]) == queue.visibility_timeout_seconds
    assert (attributes.get("FifoQueue") == "true") == queue.fifo
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{base}-dlq{suffix}")
    assert int(redrive["maxReceiveCount"]) == queue.max_receive_count
    [mapping] = [
        m
        for m in deployment.client("lambda").list_event_source_mappings()["EventSourceMappings"]
        if m["FunctionArn"].endswith(f":function:{function}")
    ]
    assert mapping["EventSourceArn"] == attributes["QueueArn"]
    assert mapping["BatchSize"] == queue.batch_size
    # The functions find the queue through their environment.
    environment = deployment.client("lambda").get_function_configuration(FunctionName=function)[
        "Environment"
    ]["Variables"]
    [variable] = queue.url_variables
    assert environment[variable].endswith(f"/{base}{suffix}")


def test_the_stream_mapping_has_the_settings_from_locals(deployment: Deployment) -> None:
    stream = deployment.topology.stream
    assert stream is not None
    lam = deployment.client("lambda")
    function = deployment.outputs["function_names"][stream.function]
    mappings = [
        m
        for m in lam.list_event_source_mappings()["EventSourceMappings"]
        if m["FunctionArn"].endswith(f":function:{function}")
    ]
    assert len(mappings) == 1
    mapping = mappings[0]
    table = deployment.topology.tables[stream.table or "messages"]
    stream_arn = deployment.client("dynamodb").describe_table(TableName=table.name)["Table"][
        "LatestStreamArn"
    ]
    assert mapping["EventSourceArn"] == stream_arn
    assert mapping["BatchSize"] == stream.batch_size
    # A window of 0 is the default: the provider does not send it, and moto then omits it.
    assert (
        mapping.get("MaximumBatchingWindowInSeconds", 0)
        == stream.maximum_batching_window_in_seconds
    )
    assert mapping["MaximumRetryAttempts"] == stream.maximum_retry_attempts
    assert mapping["MaximumRecordAgeInSeconds"] == stream.maximum_record_age_in_seconds
    assert mapping["BisectBatchOnFunctionError"] is stream.bisect_batch_on_function_error
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns == list(stream.filter_patterns)
    # New messages and changes to them (edits, deletes, reactions) reach the processor.
    assert patterns == [{"eventName": ["INSERT", "MODIFY"]}]
    dlq = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert dlq.endswith(f":chat-{deployment.env_name}-stream-dlq")
    attributes = deployment.client("sqs").get_queue_attributes(
        QueueUrl=deployment.outputs["stream_dlq_url"], AttributeNames=["QueueArn"]
    )["Attributes"]
    assert attributes["QueueArn"] == dlq


def test_the_site_bucket_is_private_and_holds_the_client_and_its_config(
    deployment: Deployment,
) -> None:
    s3 = deployment.client("s3")
    bucket = deployment.outputs["site_bucket"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    principals = [s["Principal"] for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert principals == [{"Service": "cloudfront.amazonaws.com"}]
    config = s3.get_object(Bucket=bucket, Key="config.js")
    assert config["Body"].read().decode() == (
        f'window.CHAT_CONFIG = {{ restUrl: "{deployment.outputs["rest_api_url"]}", '
        f'wsUrl: "{deployment.outputs["websocket_url"]}" }};\n'
    )
    assert "no-store" in config["CacheControl"]
    index = s3.get_object(Bucket=bucket, Key="index.html")
    assert index["Body"].read() == (REPO / "frontend" / "index.html").read_bytes()
    assert index["ContentType"].startswith("text/html")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    local = {
        p.relative_to(REPO / "frontend").as_posix()
        for p in (REPO / "frontend").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    assert keys == (local - {"config.js"}) | {"config.js"}


def test_the_media_bucket_is_private_versioned_encrypted_and_expires_unattached_uploads(
    deployment: Deployment,
) -> None:
    s3 = deployment.client("s3")
    bucket = deployment.outputs["media_bucket"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    [sse] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    unattached = rules["expire-unattached-uploads"]
    assert unattached["Filter"]["Tag"] == {"Key": "media", "Value": "incoming"}
    assert unattached["Expiration"]["Days"] == 1
    rest = rules["expire-noncurrent-and-abort-incomplete"]
    assert rest["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    assert rest["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    # The provider keeps cors_rule blocks as a set: they come back in either order.
    cors = {
        tuple(sorted(r["AllowedMethods"])): r
        for r in s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    }
    assert set(cors) == {("POST",), ("GET", "HEAD")}
    assert cors[("POST",)]["AllowedOrigins"] == [deployment.outputs["site_url"].rstrip("/")]
    # Reads follow the API's redirect (Origin: null); the presigned URL is their credential.
    assert cors[("GET", "HEAD")]["AllowedOrigins"] == ["*"]
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    # The functions name it; only these three may touch it, each with what it needs.
    variables = deployment.client("lambda").get_function_configuration(
        FunctionName=deployment.outputs["function_names"]["rest"]
    )["Environment"]["Variables"]
    assert variables["MEDIA_BUCKET"] == bucket
    grants = {
        key: json.loads(_role_policy(deployment, key)) for key in deployment.topology.functions
    }
    media = {
        key: sorted(
            action
            for document in documents
            for statement in document["Statement"]
            if any(bucket in r for r in _list(statement["Resource"]))
            for action in _list(statement["Action"])
        )
        for key, documents in grants.items()
    }
    assert media == {
        **{key: [] for key in deployment.topology.functions},
        "rest": ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
        "send_message": ["s3:GetObject", "s3:PutObjectTagging"],
        "room_purge": ["s3:DeleteObject", "s3:ListBucket"],
    }


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_site_is_served_by_cloudfront_over_https_through_origin_access_control(
    deployment: Deployment,
) -> None:
    cloudfront = deployment.client("cloudfront")
    distribution = cloudfront.get_distribution(Id=deployment.outputs["cloudfront_distribution_id"])
    config = distribution["Distribution"]["DistributionConfig"]
    assert config["Enabled"] is True
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    origin = config["Origins"]["Items"][0]
    assert origin["DomainName"].startswith(deployment.outputs["site_bucket"] + ".s3.")
    controls = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [c["Name"] for c in controls] == [f"chat-{deployment.env_name}-site"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_the_site_csp_lets_the_client_reach_this_stacks_apis_and_bucket_only(
    deployment: Deployment,
) -> None:
    """The CSP Terraform builds (an output, so it is read back after apply) is the one the local
    cloud builds from the same local.site_csp, with this stack's origins in connect-src: the
    REST and WebSocket stages of config.js, and every host boto3 presigns media URLs for."""
    csp = deployment.outputs["site_content_security_policy"]
    bucket = deployment.outputs["media_bucket"]
    # The presigner as chat.runtime.media_service makes it on AWS (no endpoint, virtual hosts).
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "virtual"},
            ignore_configured_endpoint_urls=True,
        ),
    )
    upload = _origin(s3.generate_presigned_post(bucket, "rooms/r/u")["url"])
    download = _origin(
        s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "rooms/r/u"})
    )
    assert upload == download == f"https://{bucket}.s3.amazonaws.com"
    origins = [
        _origin(deployment.outputs["rest_api_url"]),
        _origin(deployment.outputs["websocket_url"]),
        f"https://{bucket}.s3.{REGION}.amazonaws.com",
        upload,
    ]
    assert csp == deployment.topology.content_security_policy(origins)
    directives = {d.split(" ")[0]: d.split(" ")[1:] for d in csp.split("; ")}
    assert directives["connect-src"] == ["'self'", *origins]
    assert directives["script-src"] == directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == directives["object-src"] == ["'none'"]
    assert "unsafe" not in csp and "*" not in csp


def _plan(deployment: Deployment, *variables: str) -> dict[str, Any]:
    """`terraform plan` in the deployment's workspace with deploy.sh's variables and these, as
    JSON: what Terraform would change, every id of the deployed stack known."""
    build = deployment.build_dir
    args = [
        "-var",
        f"environment={deployment.env_name}",
        "-var",
        f"function_zip={build}/function.zip",
        "-var",
        f"layer_zip={build}/layer.zip",
        "-var",
        "manage_api_gateway_account=true",
        "-var",
        f"identity_provider={deployment.identity}",
        *deployment.tf_args[1:],
        *variables,
    ]
    env = dict(deployment.env, TF_WORKSPACE=deployment.env_name)
    plan = build / "check.tfplan"
    chdir = f"-chdir={TERRAFORM_DIR}"
    run(["terraform", chdir, "plan", "-input=false", "-no-color", f"-out={plan}", *args], env=env)
    try:
        return json.loads(run(["terraform", chdir, "show", "-json", str(plan)], env=env).stdout)
    finally:
        plan.unlink()


def test_the_response_headers_policy_would_send_that_csp_on_every_behaviour(
    deployment: Deployment,
) -> None:
    plan = _plan(deployment, "-var", "site_security_headers_policy=true")
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    policy = changes["aws_cloudfront_response_headers_policy.site[0]"]
    assert policy["actions"] == ["create"]
    [headers] = policy["after"]["security_headers_config"]
    [csp] = headers["content_security_policy"]
    assert csp == {
        "content_security_policy": deployment.outputs["site_content_security_policy"],
        "override": True,
    }
    [hsts] = headers["strict_transport_security"]
    assert hsts["access_control_max_age_sec"] == 31536000 and hsts["override"] is True
    assert headers["content_type_options"] == [{"override": True}]
    assert headers["frame_options"] == [{"frame_option": "DENY", "override": True}]
    assert headers["referrer_policy"] == [{"referrer_policy": "no-referrer", "override": True}]
    # Both behaviours switch to it (its id is only known once it exists).
    distribution = changes["aws_cloudfront_distribution.site"]
    assert distribution["actions"] == ["update"]
    behaviours = [
        *distribution["after_unknown"]["default_cache_behavior"],
        *distribution["after_unknown"]["ordered_cache_behavior"],
    ]
    assert [b.get("response_headers_policy_id") for b in behaviours] == [True, True]
    # The policy is all it adds; nothing else of the stack changes.
    assert {a for a, c in changes.items() if c["actions"] != ["no-op"]} <= {
        "aws_cloudfront_response_headers_policy.site[0]",
        "aws_cloudfront_distribution.site",
        # moto loses these (see test_a_second_deploy_keeps_the_key_and_changes_nothing_moto_keeps)
        "data.aws_iam_policy_document.site",
        "aws_s3_bucket_policy.site",
        *(f'aws_sqs_queue.job["{key}"]' for key in deployment.topology.queues),
    }


def test_the_waf_is_on_the_rest_stage_only_when_asked_for(deployment: Deployment) -> None:
    wafv2 = deployment.client("wafv2")
    acls = wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]
    stage = [r for r in deployment.resources("aws_api_gateway_stage")][0]["values"]["arn"]
    if deployment.identity != "cognito":  # the default: no web ACL, nothing associated
        assert acls == [] and deployment.outputs.get("waf_web_acl_arn") is None  # null: left out
        assert not deployment.resources("aws_wafv2_web_acl_association")
        return
    assert [a["Name"] for a in acls] == [f"chat-{deployment.env_name}-rest"]
    acl = wafv2.get_web_acl_for_resource(ResourceArn=stage)["WebACL"]
    assert acl["ARN"] == deployment.outputs["waf_web_acl_arn"]
    [rule] = acl["Rules"]
    assert rule["Statement"] == {
        "RateBasedStatement": {
            "Limit": WAF_LIMIT,
            "EvaluationWindowSec": 300,
            "AggregateKeyType": "IP",
        }
    }
    block = rule["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429
    body = json.loads(acl["CustomResponseBodies"][block["CustomResponseBodyKey"]]["Content"])
    assert body["error"]["code"] == "rate_limited" and body["error"]["retryAfter"] == 300
    headers = {h["Name"]: h["Value"] for h in block["ResponseHeaders"]}
    assert headers == {"Access-Control-Allow-Origin": "*", "Retry-After": "300"}
    # Only the REST stage: WAF cannot be put on an API Gateway v2 (WebSocket) API.
    [association] = deployment.resources("aws_wafv2_web_acl_association")
    assert association["values"]["resource_arn"] == stage


def test_alarms_watch_errors_throttles_iterator_age_and_the_dlq(deployment: Deployment) -> None:
    alarms = deployment.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=f"chat-{deployment.env_name}-"
    )["MetricAlarms"]
    metrics = {(a["Namespace"], a["MetricName"]) for a in alarms}
    assert metrics == {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    errors = [a for a in alarms if a["MetricName"] == "Errors"]
    assert len(errors) == len(deployment.topology.functions)


def test_a_second_deploy_keeps_the_key_and_changes_nothing_moto_keeps(
    deployment: Deployment,
) -> None:
    name = deployment.outputs["jwt_secret_parameter_name"]
    ssm = deployment.client("ssm")
    before = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    again = run(
        ["./deploy.sh", "--env", deployment.env_name, *deployment.tf_args],
        env=deployment.env,
        timeout=600,
    )
    assert f"JWT signing key {name}: exists, kept" in again.stdout
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == before
    log = (deployment.build_dir / f"{deployment.env_name}.terraform.log").read_text()
    changed = sorted(
        line.strip().removeprefix("# ").split(" ")[0]
        for line in log.splitlines()
        if line.strip().startswith("# ") and (" will be " in line or " must be " in line)
    )
    # moto drops the distribution's origin access control id, so Terraform sets it again; the
    # bucket policy names the distribution, so Terraform re-reads it after that update.
    assert "aws_cloudfront_distribution.site" in changed
    expected = {
        "aws_cloudfront_distribution.site",
        "data.aws_iam_policy_document.site",
        "aws_s3_bucket_policy.site",
        # moto answers a queue's RedrivePolicy as json.dumps does (a space after each separator)
        # where SQS answers it compact; Terraform reports "whitespace changes" and updates it.
        *(f'aws_sqs_queue.job["{key}"]' for key in deployment.topology.queues),
    }
    # On failure, show what Terraform wanted to change in the others.
    plan = [
        line
        for line in log.splitlines()
        if line.strip().startswith(("~", "+", "-", "# "))
        and not any(name in line for name in expected)
    ]
    assert set(changed) <= expected, "\n".join(plan[:80])
    assert "0 added" in again.stdout and "0 destroyed" in again.stdout


def test_cleanup_removes_every_trace(deployment: Deployment) -> None:
    env_name = deployment.env_name
    refused = subprocess.run(
        ["./cleanup.sh", "--env", env_name],
        cwd=REPO,
        env=deployment.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert deployment.client("dynamodb").list_tables()["TableNames"], "refusal must delete nothing"

    result = run(
        ["./cleanup.sh", "--env", env_name, "--yes", *deployment.tf_args],
        env=deployment.env,
        timeout=600,
    )
    deployment.cleaned = True
    assert "Destroy complete!" in result.stdout
    client = deployment.client
    assert client("dynamodb").list_tables()["TableNames"] == []
    assert client("lambda").list_functions()["Functions"] == []
    assert client("lambda").list_layers()["Layers"] == []
    assert client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert client("apigateway").get_rest_apis()["items"] == []
    assert client("apigatewayv2").get_apis()["Items"] == []
    assert client("s3").list_buckets()["Buckets"] == []
    assert client("sqs").list_queues().get("QueueUrls", []) == []
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert client("logs").describe_log_groups()["logGroups"] == []
    assert client("iam").list_roles()["Roles"] == []
    assert client("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    assert (
        client("cloudfront")
        .list_origin_access_controls()["OriginAccessControlList"]
        .get("Items", [])
        == []
    )
    with pytest.raises(ClientError, match="ParameterNotFound"):
        client("ssm").get_parameter(Name=deployment.outputs["jwt_secret_parameter_name"])
    assert client("ssm").describe_parameters()["Parameters"] == []
    assert client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] == []
    assert client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] == []
    # On disk: no workspace (state) and no build output.
    assert not (TERRAFORM_DIR / "terraform.tfstate.d" / env_name).exists()
    workspaces = run(
        ["terraform", f"-chdir={TERRAFORM_DIR}", "workspace", "list"], env=deployment.env
    ).stdout
    assert env_name not in workspaces
    assert not deployment.build_dir.exists()
    assert os.environ.get("TF_WORKSPACE") is None
