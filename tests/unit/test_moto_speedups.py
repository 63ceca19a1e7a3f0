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
    memoize_moto_attribute_aliases()
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
