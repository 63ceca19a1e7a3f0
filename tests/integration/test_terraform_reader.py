"""How the local cloud reads Terraform: python-hcl2's source-form values evaluated, tables
built as Terraform's provider would create them, clear errors for what it cannot serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.hcl import Unresolved, evaluate
from localcloud.terraform import TerraformError, load
from tests.integration.conftest import TERRAFORM_DIR

pytestmark = pytest.mark.integration


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
    assert topology.stream.filter_patterns == ({"eventName": ["INSERT"]},)
    assert topology.environment["MESSAGES_TABLE"] == messages.name
    assert "WS_MANAGEMENT_ENDPOINT" in topology.unresolved_environment
    for function in topology.functions.values():
        assert function.handler.startswith("chat.handlers.")
    assert topology.parse_seconds < 2


def test_a_route_naming_an_unknown_function_is_refused(tmp_path: Path) -> None:
    for path in TERRAFORM_DIR.glob("*.tf"):
        (tmp_path / path.name).write_text(path.read_text())
    locals_tf = tmp_path / "locals.tf"
    locals_tf.write_text(
        locals_tf.read_text().replace(
            'sendMessage = { function = "send_message"', 'sendMessage = { function = "nope"'
        )
    )
    with pytest.raises(TerraformError, match="names function 'nope', not in lambda_functions"):
        load(tmp_path)


def test_tfvars_and_var_overrides_apply_as_in_terraform(tmp_path: Path) -> None:
    for path in TERRAFORM_DIR.glob("*.tf"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "terraform.tfvars").write_text('environment = "qa"\n')
    assert load(tmp_path).tables["users"].name.endswith("-qa-users")
    (tmp_path / "z.auto.tfvars").write_text('environment = "auto"\n')
    assert load(tmp_path).tables["users"].name.endswith("-auto-users")
    assert load(tmp_path, {"environment": "cli"}).tables["users"].name.endswith("-cli-users")
