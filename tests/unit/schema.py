"""The tables as terraform/dynamodb.tf declares them, read by the same code the local cloud uses,
so the test schema is the deployed one."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from localcloud.terraform import load

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"


def table_definitions(name_prefix: str = "test") -> dict[str, dict[str, Any]]:
    """terraform resource name => CreateTable arguments, named <prefix>-<resource name>.

    Terraform is read once per process (parsing it took ~0.6 s, most of a unit test's time);
    each call returns its own copy, so a caller may change what it gets."""
    return copy.deepcopy(_table_definitions(name_prefix))


@lru_cache
def _table_definitions(name_prefix: str) -> dict[str, dict[str, Any]]:
    tables = load(TERRAFORM_DIR).tables
    return {
        key: {**table.create_table_kwargs(), "TableName": f"{name_prefix}-{key}"}
        for key, table in tables.items()
    }


@lru_cache
def route_functions() -> dict[str, str]:
    """WebSocket route key => the function serving it, as terraform/locals.tf declares."""
    return {key: route.function for key, route in load(TERRAFORM_DIR).routes.items()}
