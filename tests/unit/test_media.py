"""Media: presigned uploads, attachments checked in the bucket, downloads (docs/protocol.md).

The browser's POST goes to moto's S3 in-process (moto answers `requests` too). moto does not
enforce a POST policy (content-length-range, Content-Type, expiry: checked below), so the
checks that matter on AWS are pinned here as the policy the form carries, and the send
function's HeadObject check (the declared size is kept as x-amz-meta-size) is what refuses a
file bigger than declared whatever the emulator accepted.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from moto.core.models import (
    RESPONSES_METHODS,
    CallbackResponse,
    backend_index,
    botocore_stubber,
    responses_mock,
)

from tests.unit.harness import Harness
from tests.unit.test_rooms import create_room, error_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
BUCKET = "test-media"


@pytest.fixture(autouse=True)
def browser_http(aws: None) -> None:
    """moto answers `requests` (the browser's POST and GET here) through `responses`; the
    session's per-test moto reset drops those routes, so they are put back (as mock_aws does
    when it starts)."""
    for method in RESPONSES_METHODS:
        for _, pattern in backend_index.backend_url_patterns:
            responses_mock.add(
                CallbackResponse(
                    method=method, url=pattern, callback=botocore_stubber.process_prepared_request
                )
            )


@pytest.fixture
def room(chat: Harness, people: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """alice's room with bob in it; carol is not a member."""
    a, b = people["alice"][1], people["bob"][1]
    room_id = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room_id})
    chat.send(a, "alice", {"action": "approveJoin", "roomId": room_id, "username": "bob"})
    chat.frames(a), chat.frames(b), chat.frames(people["carol"][1])
    return {"id": room_id, **people}


def ask_upload(
    chat: Harness, token: str, room_id: str, body: Any, raw: str | None = None
) -> tuple[int, dict[str, Any]]:
    return chat.rest("POST", f"/rooms/{room_id}/uploads", body, token=token, raw_body=raw)


def upload(
    chat: Harness,
    token: str,
    room_id: str,
    data: bytes = PNG,
    filename: str = "shot.png",
    content_type: str = "image/png",
    declared: int | None = None,
) -> str:
    """An upload asked for and POSTed to the bucket as a browser would; its id."""
    size = len(data) if declared is None else declared
    status, body = ask_upload(
        chat, token, room_id, {"filename": filename, "contentType": content_type, "size": size}
    )
    assert status == 201, body
    response = requests.post(
        body["url"],
        data=body["fields"],
        files={"file": (filename, data, content_type)},
        timeout=10,
    )
    assert response.status_code in (200, 204), response.text
    return str(body["uploadId"])


def objects() -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def send(chat: Harness, room: dict[str, Any], frame: dict[str, Any], who: str = "alice") -> None:
    chat.send(room[who][1], who, {"action": "sendMessage", "roomId": room["id"], **frame})


def delivered(chat: Harness, connection: str) -> list[dict[str, Any]]:
    chat.pump()
    return [f["message"] for f in chat.frames(connection) if f["type"] == "message"]


def policy_of(fields: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(fields["policy"]))  # type: ignore[no-any-return]


# -- upload --------------------------------------------------------------------------------------


def test_upload_is_a_presigned_post_pinning_key_size_type_and_five_minutes(
    chat: Harness, room: dict[str, Any]
) -> None:
    token = room["alice"][0]
    status, body = ask_upload(
        chat,
        token,
        room["id"],
        {"filename": "ünï shot.png", "contentType": "image/png", "size": 32},
    )
    assert status == 201
    assert set(body) == {"uploadId", "url", "fields", "expiresAt"}
    fields = body["fields"]
    assert fields["key"] == f"rooms/{room['id']}/{body['uploadId']}"
    policy = policy_of(fields)
    conditions = policy["conditions"]
    assert ["content-length-range", 32, 32] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"key": fields["key"]} in conditions
    assert {"bucket": BUCKET} in conditions
    assert fields["Content-Type"] == "image/png"
    assert fields["x-amz-meta-size"] == "32"
    # Unattached until a message names it: the lifecycle rule expires `incoming` objects.
    assert {"tagging": fields["tagging"]} in conditions
    assert "<Key>media</Key><Value>incoming</Value>" in fields["tagging"]
    # The policy and the reply expire together, five minutes from now.
    assert policy["expiration"][:19] == body["expiresAt"][:19]
    # Nothing is stored until the browser POSTs: no object, no item.
    assert objects() == []


def test_upload_attach_and_download_round_trip(chat: Harness, room: dict[str, Any]) -> None:
    upload_id = upload(chat, room["alice"][0], room["id"], filename="ünï shot.png")
    send(chat, room, {"text": "", "attachments": [upload_id], "clientMessageId": "c1"})
    [message] = delivered(chat, room["bob"][1])
    assert message["text"] == ""
    assert message["attachments"] == [
        {
            "uploadId": upload_id,
            "filename": "ünï shot.png",
            "contentType": "image/png",
            "size": len(PNG),
        }
    ]
    tags = boto3.client("s3").get_object_tagging(
        Bucket=BUCKET, Key=f"rooms/{room['id']}/{upload_id}"
    )["TagSet"]
    assert tags == [{"Key": "media", "Value": "attached"}]
    status, page = chat.rest("GET", f"/rooms/{room['id']}/messages", token=room["bob"][0])
    assert status == 200 and page["messages"][0]["attachments"] == message["attachments"]

    event = chat.rest("GET", f"/rooms/{room['id']}/uploads/{upload_id}", token=room["bob"][0])
    assert event[0] == 302
    location = _location(chat, room["bob"][0], room["id"], upload_id)
    query = parse_qs(urlparse(location).query)
    assert query["response-content-type"] == ["image/png"]
    assert query["response-content-disposition"][0].startswith("inline;")
    assert "X-Amz-Expires" in query or "Expires" in query
    got = requests.get(location, timeout=10)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["Content-Type"] == "image/png"


def _location(chat: Harness, token: str, room_id: str, upload_id: str) -> str:
    """The Location header of a download (Harness.rest returns only status and body)."""
    from tests.events import load_event
    from tests.unit.harness import LambdaContext

    event = load_event("rest_api_proxy")
    path = f"/rooms/{room_id}/uploads/{upload_id}"
    event.update(httpMethod="GET", path=path, body=None, queryStringParameters=None)
    event["headers"]["Authorization"] = f"Bearer {token}"
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 302, response
    assert response["headers"]["Cache-Control"] == "no-store"
    return str(response["headers"]["Location"])


def test_download_of_a_pdf_is_an_attachment_and_text_is_never_html(
    chat: Harness, room: dict[str, Any]
) -> None:
    token = room["alice"][0]
    pdf = upload(chat, token, room["id"], b"%PDF-1.4 x", "report.pdf", "application/pdf")
    query = parse_qs(urlparse(_location(chat, token, room["id"], pdf)).query)
    assert query["response-content-disposition"][0].startswith('attachment; filename="report.pdf"')
    assert query["response-content-type"] == ["application/pdf"]
    note = upload(chat, token, room["id"], b"<script>x</script>", "a.html", "text/plain")
    query = parse_qs(urlparse(_location(chat, token, room["id"], note)).query)
    assert query["response-content-type"] == ["text/plain; charset=utf-8"]
    assert query["response-content-disposition"][0].startswith("attachment;")


BAD_UPLOADS = [
    ({"contentType": "image/png", "size": 3}, "invalid_input"),
    ({"filename": "a.png", "size": 3}, "invalid_input"),
    ({"filename": "a.png", "contentType": "image/png"}, "invalid_input"),
    ({"filename": "a.png", "contentType": "image/png", "size": "3"}, "invalid_input"),
    ({"filename": "a.png", "contentType": "image/png", "size": 0}, "invalid_input"),
    ({"filename": "a.png", "contentType": "image/png", "size": True}, "invalid_input"),
    ({"filename": "a.png", "contentType": "image/png", "size": 3.5}, "invalid_input"),
    ({"filename": "", "contentType": "image/png", "size": 3}, "invalid_input"),
    ({"filename": "../a.png", "contentType": "image/png", "size": 3}, "invalid_input"),
    ({"filename": "a\u202e.png", "contentType": "image/png", "size": 3}, "invalid_input"),
    ({"filename": "x" * 256, "contentType": "image/png", "size": 3}, "invalid_input"),
    ({"filename": 7, "contentType": "image/png", "size": 3}, "invalid_input"),
    ({"filename": "a.png", "contentType": "image png", "size": 3}, "invalid_input"),
    ({"filename": "a.html", "contentType": "text/html", "size": 3}, "invalid_input"),
    ({"filename": "a.svg", "contentType": "image/svg+xml", "size": 3}, "invalid_input"),
    ({"filename": "a.exe", "contentType": "application/x-msdownload", "size": 3}, "invalid_input"),
    (
        {"filename": "big.png", "contentType": "image/png", "size": 10 * 1024 * 1024 + 1},
        "too_large",
    ),
]


@pytest.mark.parametrize(("body", "code"), BAD_UPLOADS)
def test_bad_upload_requests_are_refused_and_store_nothing(
    chat: Harness, room: dict[str, Any], body: dict[str, Any], code: str
) -> None:
    before = chat.snapshot()
    status, reply = ask_upload(chat, room["alice"][0], room["id"], body)
    assert reply["error"]["code"] == code and status in (400, 413)
    assert chat.snapshot() == before and objects() == []


def test_upload_at_exactly_the_limit_is_accepted(chat: Harness, room: dict[str, Any]) -> None:
    body = {"filename": "max.zip", "contentType": "application/zip", "size": 10 * 1024 * 1024}
    assert ask_upload(chat, room["alice"][0], room["id"], body)[0] == 201


@pytest.mark.parametrize("raw", ["", "[]", "not json"])
def test_upload_with_a_body_that_is_not_an_object_is_invalid(
    chat: Harness, room: dict[str, Any], raw: str
) -> None:
    status, reply = ask_upload(chat, room["alice"][0], room["id"], None, raw=raw)
    assert status == 400 and reply["error"]["code"] == "invalid_input"


def test_upload_for_a_room_you_are_not_in_is_forbidden(chat: Harness, room: dict[str, Any]) -> None:
    body = {"filename": "a.png", "contentType": "image/png", "size": 3}
    before = chat.snapshot()
    status, reply = ask_upload(chat, room["carol"][0], room["id"], body)
    assert status == 403 and reply["error"]["code"] == "forbidden"
    status, reply = ask_upload(chat, room["carol"][0], "no-such-room", body)
    assert status == 404
    assert chat.rest("POST", f"/rooms/{room['id']}/uploads", body)[0] == 401
    assert chat.snapshot() == before and objects() == []


def test_limits_come_from_the_environment(
    aws: None, monkeypatch: pytest.MonkeyPatch, people: dict[str, tuple[str, str]]
) -> None:
    monkeypatch.setenv("MEDIA_MAX_BYTES", "100")
    monkeypatch.setenv("MEDIA_CONTENT_TYPES", "application/pdf")
    chat = Harness()
    a = chat.connect(people["alice"][0])
    room_id = create_room(chat, a)
    token = people["alice"][0]
    pdf = {"filename": "a.pdf", "contentType": "application/pdf", "size": 100}
    assert ask_upload(chat, token, room_id, pdf)[0] == 201
    assert ask_upload(chat, token, room_id, {**pdf, "size": 101})[1]["error"]["code"] == (
        "too_large"
    )
    png = {"filename": "a.png", "contentType": "image/png", "size": 3}
    assert ask_upload(chat, token, room_id, png)[1]["error"]["code"] == "invalid_input"


# -- attach ----------------------------------------------------------------------------------


def _refused(chat: Harness, room: dict[str, Any], frame: dict[str, Any]) -> str:
    before = chat.snapshot()["test-messages"]
    send(chat, room, {**frame, "requestId": "s"})
    [error] = chat.frames(room["alice"][1])
    assert chat.snapshot()["test-messages"] == before
    chat.pump()
    assert delivered(chat, room["bob"][1]) == []
    return error_of(error)


def test_attaching_an_id_never_uploaded_is_invalid(chat: Harness, room: dict[str, Any]) -> None:
    status, body = ask_upload(
        chat,
        room["alice"][0],
        room["id"],
        {"filename": "a.png", "contentType": "image/png", "size": 3},
    )
    assert status == 201  # asked for, never POSTed
    assert _refused(chat, room, {"text": "", "attachments": [body["uploadId"]]}) == "invalid_input"
    assert _refused(chat, room, {"text": "", "attachments": ["0" * 32]}) == "invalid_input"


def test_attaching_an_upload_of_another_room_is_invalid(
    chat: Harness, room: dict[str, Any]
) -> None:
    other = create_room(chat, room["bob"][1], "bob", "Elsewhere")
    chat.frames(room["bob"][1])
    upload_id = upload(chat, room["bob"][0], other)
    assert _refused(chat, room, {"text": "x", "attachments": [upload_id]}) == "invalid_input"


def test_a_file_bigger_than_declared_is_refused_at_attach(
    chat: Harness, room: dict[str, Any]
) -> None:
    # S3 refuses this POST (content-length-range); moto's S3 does not, and the send function
    # refuses the object whatever the emulator let in: its size is not the declared one.
    upload_id = upload(chat, room["alice"][0], room["id"], data=PNG + b"more", declared=len(PNG))
    assert _refused(chat, room, {"text": "", "attachments": [upload_id]}) == "invalid_input"


def test_an_object_of_a_disallowed_type_is_refused_at_attach(
    chat: Harness, room: dict[str, Any]
) -> None:
    upload_id = "ab" * 16
    boto3.client("s3").put_object(
        Bucket=BUCKET,
        Key=f"rooms/{room['id']}/{upload_id}",
        Body=b"<html>",
        ContentType="text/html",
        Metadata={"size": "6", "filename": "x.html"},
    )
    assert _refused(chat, room, {"text": "", "attachments": [upload_id]}) == "invalid_input"


@pytest.mark.parametrize(
    "attachments",
    [
        "not-a-list",
        [7],
        ["nope"],
        ["A" * 32],
        [None],
    ],
)
def test_malformed_attachments_are_invalid(
    chat: Harness, room: dict[str, Any], attachments: Any
) -> None:
    assert _refused(chat, room, {"text": "x", "attachments": attachments}) == "invalid_input"


def test_more_than_four_attachments_or_a_repeat_is_invalid(
    chat: Harness, room: dict[str, Any]
) -> None:
    ids = [upload(chat, room["alice"][0], room["id"]) for _ in range(5)]
    assert _refused(chat, room, {"text": "", "attachments": ids}) == "invalid_input"
    assert _refused(chat, room, {"text": "", "attachments": [ids[0], ids[0]]}) == "invalid_input"
    send(chat, room, {"attachments": ids[:4]})  # four, and no text at all
    [message] = delivered(chat, room["bob"][1])
    assert [a["uploadId"] for a in message["attachments"]] == ids[:4]


def test_text_is_still_required_without_attachments(chat: Harness, room: dict[str, Any]) -> None:
    assert _refused(chat, room, {"text": ""}) == "invalid_input"
    assert _refused(chat, room, {"text": "", "attachments": []}) == "invalid_input"
    upload_id = upload(chat, room["alice"][0], room["id"])
    # With attachments, text that is there follows the usual rules.
    assert _refused(chat, room, {"text": "  ", "attachments": [upload_id]}) == "invalid_input"


def test_a_non_member_cannot_attach(chat: Harness, room: dict[str, Any]) -> None:
    upload_id = upload(chat, room["alice"][0], room["id"])
    before = chat.snapshot()["test-messages"]
    send(chat, room, {"text": "", "attachments": [upload_id]}, who="carol")
    [error] = chat.frames(room["carol"][1])
    assert error_of(error) == "forbidden"
    assert chat.snapshot()["test-messages"] == before


# -- download ----------------------------------------------------------------------------------


def test_download_as_a_non_member_is_forbidden(chat: Harness, room: dict[str, Any]) -> None:
    upload_id = upload(chat, room["alice"][0], room["id"])
    path = f"/rooms/{room['id']}/uploads/{upload_id}"
    status, reply = chat.rest("GET", path, token=room["carol"][0])
    assert status == 403 and reply["error"]["code"] == "forbidden"
    assert chat.rest("GET", path)[0] == 401


def test_download_of_a_missing_or_malformed_upload(chat: Harness, room: dict[str, Any]) -> None:
    token = room["alice"][0]
    status, reply = chat.rest("GET", f"/rooms/{room['id']}/uploads/{'0' * 32}", token=token)
    assert status == 404 and reply["error"]["code"] == "not_found"
    status, reply = chat.rest("GET", f"/rooms/{room['id']}/uploads/nope", token=token)
    assert status == 400 and reply["error"]["code"] == "invalid_input"


# -- room delete -------------------------------------------------------------------------------


def test_deleting_a_room_purges_its_files_only(chat: Harness, room: dict[str, Any]) -> None:
    mine = upload(chat, room["alice"][0], room["id"])
    other = create_room(chat, room["bob"][1], "bob", "Elsewhere")
    kept = upload(chat, room["bob"][0], other)
    ack = chat.send(room["alice"][1], "alice", {"action": "deleteRoom", "roomId": room["id"]})
    assert ack == {"type": "roomDeletedAck", "roomId": room["id"]}
    assert chat.run_purge_jobs() >= 1
    assert objects() == [f"rooms/{other}/{kept}"]
    assert mine not in "".join(objects())
