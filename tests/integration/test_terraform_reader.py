"""How the local cloud reads Terraform: python-hcl2's source-form values evaluated, tables
built as Terraform's provider would create them, clear errors for what it cannot serve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from localcloud.hcl import Unresolved, evaluate
from localcloud.terraform import TerraformError, _Stack, load
from tests.integration.conftest import TERRAFORM_DIR

pytestmark = pytest.mark.integration


def copy_of_terraform(tmp_path: Path) -> Path:
    for path in TERRAFORM_DIR.glob("*.tf"):
        (tmp_path / path.name).write_text(path.read_text())
    return tmp_path


def resolver(path: list[str]) -> object:
    values = {("var", "name"): "chat", ("var", "n"): 12, ("var", "empty"): ""}
    if tuple(path) in values:
        return values[tuple(path)]
    raise Unresolved(".".join(path))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"plain"', "plain"),
        ('"a\\"quoted\\" \\n"', 'a"quoted" \n'),
        ('"${var.name}-users"', "chat-users"),
        ('"$${literal}"', "${literal}"),
        ("${var.n}", 12),
        ("${tostring(var.n)}", "12"),
        ('${jsonencode({eventName = ["INSERT"]})}', '{"eventName":["INSERT"]}'),
        ('${var.empty != "" ? var.empty : "fallback"}', "fallback"),
        ("${merge({a = 1}, {b = 2})}", {"a": 1, "b": 2}),
        (42, 42),
        (True, True),
        ({'"$connect"': {"function": '"connections"'}}, {"$connect": {"function": "connections"}}),
    ],
)
def test_values_are_evaluated_from_python_hcl2_source_form(raw: object, expected: object) -> None:
    assert evaluate(raw, resolver) == expected


def test_values_only_apply_knows_are_unresolved() -> None:
    with pytest.raises(Unresolved):
        evaluate('"https://${aws_apigatewayv2_api.websocket.id}.example"', resolver)


def test_the_stack_is_read_from_terraform() -> None:
    topology = load(TERRAFORM_DIR)
    messages = topology.tables["messages"]
    assert messages.stream_view_type == "NEW_IMAGE"
    assert (messages.hash_key, messages.range_key) == ("roomId", "messageId")
    rooms = topology.tables["rooms"].create_table_kwargs()
    assert rooms["GlobalSecondaryIndexes"][0]["IndexName"] == "byUser"
    assert topology.tables["connections"].ttl_attribute == "ttl"
    assert topology.stream is not None
    assert topology.stream.filter_patterns == ({"eventName": ["INSERT", "MODIFY"]},)
    assert topology.environment["MESSAGES_TABLE"] == messages.name
    assert "WS_MANAGEMENT_ENDPOINT" in topology.unresolved_environment
    for function in topology.functions.values():
        assert function.handler.startswith("chat.handlers.")


def test_a_route_naming_an_unknown_function_is_refused(tmp_path: Path) -> None:
    locals_tf = copy_of_terraform(tmp_path) / "locals.tf"
    locals_tf.write_text(
        re.sub(
            r'sendMessage( *)= \{ function = "send_message"',
            r'sendMessage\1= { function = "nope"',
            locals_tf.read_text(),
        )
    )
    assert '"nope"' in locals_tf.read_text()  # the edit took: the test cannot pass vacuously
    with pytest.raises(TerraformError, match="names function 'nope', not in lambda_functions"):
        load(tmp_path)


def test_tfvars_and_var_overrides_apply_as_in_terraform(tmp_path: Path) -> None:
    copy_of_terraform(tmp_path)
    (tmp_path / "terraform.tfvars").write_text('environment = "qa"\n')
    assert load(tmp_path).tables["users"].name.endswith("-qa-users")
    (tmp_path / "z.auto.tfvars").write_text('environment = "auto"\n')
    assert load(tmp_path).tables["users"].name.endswith("-auto-users")
    assert load(tmp_path, {"environment": "cli"}).tables["users"].name.endswith("-cli-users")


def test_the_websocket_locals_with_for_expressions_evaluate_to_what_terraform_deploys() -> None:
    stack = _Stack(TERRAFORM_DIR.resolve(), {})
    routes = stack.local("websocket_routes")
    assert stack.local("websocket_functions") == frozenset({"connections", "rooms", "send_message"})
    replies = stack.local("websocket_replies")
    assert replies == {key: route for key, route in routes.items() if route["reply"]}
    assert "sendMessage" not in replies and "$connect" not in replies
    assert list(replies) == sorted(replies)  # a for over a map runs in lexical key order
    topology = load(TERRAFORM_DIR)
    assert {k for k, r in topology.routes.items() if r.reply} == set(replies)
    assert stack.local_where["websocket_replies"].endswith("websocket_api.tf:7")


def test_a_route_is_two_way_when_websocket_replies_says_so(tmp_path: Path) -> None:
    """The reader takes the route responses from local.websocket_replies (the for expression
    Terraform's aws_apigatewayv2_route_response uses), not from each route's flag alone."""
    terraform = copy_of_terraform(tmp_path)
    websocket_tf = terraform / "websocket_api.tf"
    websocket_tf.write_text(
        websocket_tf.read_text().replace(
            "key => route if route.reply }", 'key => route if route.reply && key != "ping" }'
        )
    )
    routes = load(terraform).routes
    assert not routes["ping"].reply
    assert routes["createRoom"].reply


def test_a_route_whose_function_has_no_integration_is_refused(tmp_path: Path) -> None:
    terraform = copy_of_terraform(tmp_path)
    websocket_tf = terraform / "websocket_api.tf"
    websocket_tf.write_text(
        websocket_tf.read_text().replace(
            ": route.function])", ': route.function if route.function != "send_message"])'
        )
    )
    with pytest.raises(TerraformError, match=r"'send_message' has no integration.*:6\)"):
        load(terraform)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("[for x in 3 : x]", "cannot iterate over a number"),
        ('{ for key, route in local.websocket_routes : key => route if "yes" }', "true or false"),
        ("[for route in values(local.websocket_routes) : rout.function]", "'rout' is not a"),
        ("[for route in values(local.websocket_routes) : nope]", "unknown variable 'nope'"),
        ("[for x in [1] : x", "python-hcl2 cannot parse it"),
    ],
)
def test_a_bad_for_in_a_local_names_the_file_and_line(
    tmp_path: Path, expression: str, message: str
) -> None:
    terraform = copy_of_terraform(tmp_path)
    websocket_tf = terraform / "websocket_api.tf"
    text = websocket_tf.read_text()
    start = text.index("  websocket_replies")
    end = text.index("\n", start)
    websocket_tf.write_text(f"{text[:start]}  websocket_replies = {expression}{text[end:]}")
    located = re.escape(f"{websocket_tf}:7: local.websocket_replies: ") + f".*{message}"
    with pytest.raises(TerraformError, match=located if "parse" not in message else message):
        load(terraform)


def test_the_user_pool_exists_only_with_identity_provider_cognito() -> None:
    assert load(TERRAFORM_DIR).user_pool is None
    topology = load(TERRAFORM_DIR, {"identity_provider": "cognito", "environment": "dev"})
    pool = topology.user_pool
    assert pool is not None
    assert pool.name == "chat-dev-users" and pool.client_name == "chat-dev-api"
    assert "ALLOW_USER_PASSWORD_AUTH" in pool.explicit_auth_flows
    assert pool.case_sensitive is False and pool.mfa == "OFF"
    assert pool.create_pool_kwargs()["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert topology.environment["IDENTITY_PROVIDER"] == "cognito"
    # The pool's ids are only known once it exists; the local cloud makes it and fills them in.
    assert {"COGNITO_USER_POOL_ID", "COGNITO_CLIENT_ID", "COGNITO_ISSUER"} <= set(
        topology.unresolved_environment
    )


def frontend_tf_changed(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of terraform/ whose frontend.tf has `old` (which must be there) replaced."""
    directory = copy_of_terraform(tmp_path)
    frontend = directory / "frontend.tf"
    text = frontend.read_text()
    assert old in text
    frontend.write_text(text.replace(old, new))
    return directory


def test_the_site_csp_comes_from_terraform(tmp_path: Path) -> None:
    """local.site_csp is the one list of the client's sources: a change there is what the local
    cloud sends, formatted as Terraform formats it (directives in lexical order)."""
    directory = frontend_tf_changed(
        tmp_path,
        '"img-src"         = ["\'self\'", "blob:"]',
        '"img-src" = ["\'self\'", "blob:", "data:"]',
    )
    topology = load(directory)
    assert topology.site_csp["img-src"] == ("'self'", "blob:", "data:")
    assert topology.site_referrer_policy == "no-referrer"
    csp = topology.content_security_policy(["http://h:1", "ws://h:1", "http://h:1"])
    assert csp.startswith("base-uri 'none'; connect-src 'self' http://h:1 ws://h:1; default-src")
    assert "; img-src 'self' blob: data:; " in csp


def test_a_site_csp_that_is_not_lists_of_sources_is_refused(tmp_path: Path) -> None:
    directory = frontend_tf_changed(
        tmp_path, '"object-src"      = ["\'none\'"]', '"object-src" = "none"'
    )
    with pytest.raises(TerraformError, match="site_csp must map each directive to a list"):
        load(directory)


LOCAL_SITE = ["http://127.0.0.1:8000", "http://localhost:8000"]


def test_the_media_buckets_cors_rules_are_media_tfs_with_the_local_sites_origins() -> None:
    """The site's origin is given to Terraform as var.media_cors_origin, once per origin the
    local cloud serves its page from; an origin set with --var stays as it is."""
    rules = [r.to_s3() for r in load(TERRAFORM_DIR).media_cors_rules(LOCAL_SITE)]
    assert rules == [
        {
            "AllowedMethods": ["POST"],
            "AllowedOrigins": LOCAL_SITE,
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 600,
        },
        {
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedOrigins": ["*"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["Content-Length", "Content-Type", "Content-Disposition"],
            "MaxAgeSeconds": 600,
        },
    ]
    chosen = load(TERRAFORM_DIR, {"media_cors_origin": "https://chat.example.com"})
    [upload, _] = chosen.media_cors_rules(LOCAL_SITE)
    assert upload.allowed_origins == ("https://chat.example.com",)


def test_a_changed_cors_rule_in_media_tf_is_what_the_local_cloud_applies(tmp_path: Path) -> None:
    directory = copy_of_terraform(tmp_path)
    media = directory / "media.tf"
    text = media.read_text()
    old = 'allowed_methods = ["GET", "HEAD"]\n    allowed_origins = ["*"]'
    assert old in text
    media.write_text(
        text.replace(
            old, 'allowed_methods = ["GET"]\n    allowed_origins = [local.media_cors_origin]'
        )
    )
    [_, download] = load(directory).media_cors_rules(LOCAL_SITE)
    assert (download.allowed_methods, download.allowed_origins) == (("GET",), tuple(LOCAL_SITE))
