"""The moto speed-ups the unit tier and the local cloud's moto server share
(localcloud.motoserver) answer exactly as moto does."""

from __future__ import annotations

from typing import Any

from moto.core.serialize import AttributePickerContext, XFormedAttributePicker
from moto.core.utils import get_service_model

from localcloud.motoserver import memoize_moto_attribute_aliases


class Table:  # a class name that is a prefix of shape keys ("TableName", "TableStatus")
    class Meta:
        serialization_aliases = {"ItemCount": "count"}


def _contexts(service: str, operations: list[str]) -> list[AttributePickerContext]:
    model = get_service_model(service)
    contexts = []
    for name in operations:
        operation = model.operation_model(name)
        pending: list[tuple[Any, int]] = [(operation.output_shape, 0)]
        while pending:
            shape, depth = pending.pop()
            members = getattr(shape, "members", None) or {}
            for key, member in members.items():
                member.parent = shape  # as moto's serializer sets it while it walks
                for obj in ({}, Table(), []):
                    contexts.append(AttributePickerContext(obj, key, member, operation, model))
                if depth < 3:
                    pending.append((member, depth + 1))
                    if getattr(member, "member", None) is not None:
                        pending.append((member.member, depth + 1))
    return contexts


def test_memoized_alias_names_are_the_ones_moto_computes() -> None:
    # Applies to the moto pyproject.toml installs (the figures in docs/benchmarks.md rely on it).
    assert memoize_moto_attribute_aliases()
    memoized = XFormedAttributePicker.get_possible_keys
    original = memoized.original  # type: ignore[attr-defined]
    picker = XFormedAttributePicker()
    contexts = _contexts("dynamodb", ["DescribeTable", "Query", "BatchGetItem", "UpdateItem"])
    contexts += _contexts("sqs", ["ReceiveMessage", "GetQueueAttributes"])
    assert len(contexts) > 300
    for context in contexts:
        first = tuple(memoized(picker, context))
        again = tuple(memoized(picker, context))  # from the memo
        assert first == again == tuple(original(picker, context)), context.key


def _queries(table: Any) -> list[Any]:
    """Each page of a set of Queries that cover moto's Query paths: key conditions, order,
    limits and pagination, filters, projections, and an index (left to moto as it is)."""
    from boto3.dynamodb.conditions import Attr, Key

    asks: list[dict[str, Any]] = [
        {"KeyConditionExpression": Key("pk").eq("ROOM#a")},
        {"KeyConditionExpression": Key("pk").eq("ROOM#a") & Key("sk").begins_with("CONN#1")},
        {"KeyConditionExpression": Key("pk").eq("ROOM#a") & Key("sk").between("CONN#2", "CONN#5")},
        {"KeyConditionExpression": Key("pk").eq("ROOM#b") & Key("sk").lt("CONN#3")},
        {"KeyConditionExpression": Key("pk").eq("ROOM#a"), "ScanIndexForward": False, "Limit": 3},
        {"KeyConditionExpression": Key("pk").eq("ROOM#a"), "FilterExpression": Attr("n").gt(4)},
        {"KeyConditionExpression": Key("pk").eq("ROOM#a"), "ProjectionExpression": "sk, n"},
        {"KeyConditionExpression": Key("pk").eq("ROOM#none")},
        {"IndexName": "byN", "KeyConditionExpression": Key("g").eq("even")},
    ]
    pages = []
    for ask in asks:
        kwargs = dict(ask)
        while True:
            page = table.query(**kwargs)
            pages.append([page["Items"], page["Count"], page["ScannedCount"]])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return pages


def test_a_query_of_one_partition_answers_as_moto_does(aws: None, monkeypatch: Any) -> None:
    import boto3
    from moto.dynamodb.models.table import Table as MotoTable

    from localcloud.motoserver import query_one_partition

    assert query_one_partition()
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="speedup",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": t}
            for a, t in (("pk", "S"), ("sk", "S"), ("g", "S"), ("n", "N"))
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byN",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "n", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table = boto3.resource("dynamodb").Table("speedup")
    with table.batch_writer() as batch:
        for room in "abc":
            for n in range(9):
                g = "even" if n % 2 == 0 else "odd"
                batch.put_item(Item={"pk": f"ROOM#{room}", "sk": f"CONN#{n}", "n": n, "g": g})
    patched = _queries(table)
    monkeypatch.setattr(MotoTable, "query", MotoTable.query.original)  # type: ignore[attr-defined]
    assert _queries(table) == patched
    assert len(patched) > 9 and patched[0][1] == 9  # the paged query took several pages
