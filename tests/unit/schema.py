"""Create the tables in moto from terraform/dynamodb.tf, so the test schema is the deployed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def table_definitions(name_prefix: str = "test") -> dict[str, dict[str, Any]]:
    """terraform resource name => CreateTable arguments."""
    with open(TERRAFORM_DIR / "dynamodb.tf") as f:
        parsed = hcl2.load(f)
    tables: dict[str, dict[str, Any]] = {}
    for block in parsed.get("resource", []):
        for rtype, resources in block.items():
            if _unquote(rtype) != "aws_dynamodb_table":
                continue
            for rname, body in resources.items():
                rname = _unquote(rname)
                keys = [{"AttributeName": _unquote(body["hash_key"]), "KeyType": "HASH"}]
                if "range_key" in body:
                    keys.append({"AttributeName": _unquote(body["range_key"]), "KeyType": "RANGE"})
                args: dict[str, Any] = {
                    "TableName": f"{name_prefix}-{rname}",
                    "KeySchema": keys,
                    "AttributeDefinitions": [
                        {"AttributeName": _unquote(a["name"]), "AttributeType": _unquote(a["type"])}
                        for a in body.get("attribute", [])
                    ],
                    "BillingMode": "PAY_PER_REQUEST",
                }
                gsis = []
                for g in body.get("global_secondary_index", []):
                    schema = [{"AttributeName": _unquote(g["hash_key"]), "KeyType": "HASH"}]
                    if "range_key" in g:
                        schema.append(
                            {"AttributeName": _unquote(g["range_key"]), "KeyType": "RANGE"}
                        )
                    gsis.append(
                        {
                            "IndexName": _unquote(g["name"]),
                            "KeySchema": schema,
                            "Projection": {"ProjectionType": _unquote(g["projection_type"])},
                        }
                    )
                if gsis:
                    args["GlobalSecondaryIndexes"] = gsis
                if body.get("stream_enabled") is True:
                    args["StreamSpecification"] = {
                        "StreamEnabled": True,
                        "StreamViewType": _unquote(body["stream_view_type"]),
                    }
                tables[rname] = args
    return tables
