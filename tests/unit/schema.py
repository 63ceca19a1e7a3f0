"""The tables as terraform/dynamodb.tf declares them, read by the same code the local cloud uses,
so the test schema is the deployed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localcloud.terraform import load

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"


def table_definitions(name_prefix: str = "test") -> dict[str, dict[str, Any]]:
    """terraform resource name => CreateTable arguments, named <prefix>-<resource name>."""
    tables = load(TERRAFORM_DIR).tables
    return {
        key: {**table.create_table_kwargs(), "TableName": f"{name_prefix}-{key}"}
        for key, table in tables.items()
    }
