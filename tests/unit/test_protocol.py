"""chat.protocol is the one home of the wire format: every frame it builds is documented in
docs/protocol.md and handled by the browser client, and no other module builds frames."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROTOCOL_SOURCE = (REPO / "lambda/chat/protocol.py").read_text()
FRAME_TYPES = sorted(set(re.findall(r'"type": "(\w+)"', PROTOCOL_SOURCE)))


def test_the_protocol_module_builds_every_frame_the_docs_list() -> None:
    assert len(FRAME_TYPES) >= 14


@pytest.mark.parametrize("frame_type", FRAME_TYPES)
def test_every_frame_type_is_documented(frame_type: str) -> None:
    docs = (REPO / "docs/protocol.md").read_text()
    assert re.search(rf"`{frame_type}[` ]", docs), f"docs/protocol.md does not list {frame_type}"


@pytest.mark.parametrize("frame_type", FRAME_TYPES)
def test_every_frame_type_is_handled_by_the_browser_client(frame_type: str) -> None:
    client = "\n".join(p.read_text() for p in sorted((REPO / "frontend/js").rglob("*.js")))
    assert f'"{frame_type}"' in client, f"frontend/js does not handle {frame_type}"


def test_no_other_module_builds_frames() -> None:
    builders = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "lambda/chat").rglob("*.py")
        if path.name != "protocol.py" and re.search(r'"type":\s*"', path.read_text())
    ]
    assert builders == []
