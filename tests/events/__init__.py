"""API Gateway and DynamoDB Streams event samples, in the shapes AWS documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of tests/events/<name>.json."""
    return copy.deepcopy(json.loads((HERE / f"{name}.json").read_text()))
