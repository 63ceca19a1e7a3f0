"""Media through the running local cloud: a presigned POST to the local cloud's S3 endpoint
(`/s3`, which checks the POST policy as S3 does and forwards to moto), the attachment checked
by the send function, the download's 302 to a presigned GET."""

from __future__ import annotations

import aiohttp
import boto3
import pytest
from botocore.config import Config

from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import Api
from tests.integration.conftest import run
from tests.integration.test_rooms_and_messages import admit, connect, create_room

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n" + b"x" * 100


async def post_file(
    session: aiohttp.ClientSession, body: dict, data: bytes, content_type: str, origin: str
) -> int:
    form = aiohttp.FormData()
    for key, value in body["fields"].items():
        form.add_field(key, value)
    form.add_field("file", data, filename="f", content_type=content_type)
    async with session.post(body["url"], data=form, headers={"Origin": origin}) as response:
        await response.read()
        return response.status


def test_upload_attach_and_download_through_the_local_s3(cloud: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            alice, alice_token = await connect(api, cloud, "alice")
            bob, bob_token = await connect(api, cloud, "bob")
            carol, carol_token = await connect(api, cloud, "carol")
            room_id = await create_room(alice, "files")
            await admit(alice, bob, room_id)

            declared = {"filename": "report.pdf", "contentType": "application/pdf"}
            status, body = await api.call(
                "POST", f"/rooms/{room_id}/uploads", {**declared, "size": len(PDF)}, alice_token
            )
            assert status == 201, body
            assert body["url"] == f"{cloud.base_url}/s3/chat-local-media"  # loopback
            # The bucket answers the site's origin (CORS preflight of the browser's POST).
            async with session.options(
                body["url"],
                headers={
                    "Origin": cloud.base_url,
                    "Access-Control-Request-Method": "POST",
                },
            ) as preflight:
                assert preflight.headers.get("Access-Control-Allow-Origin") in (
                    cloud.base_url,
                    "*",
                )
            assert await post_file(session, body, PDF, "application/pdf", cloud.base_url) in (
                200,
                204,
            )

            await alice.send(
                {"action": "sendMessage", "roomId": room_id, "attachments": [body["uploadId"]]}
            )
            frame = await bob.next_of("message")
            assert frame["message"]["attachments"] == [
                {"uploadId": body["uploadId"], "size": len(PDF), **declared}
            ]

            path = f"/rooms/{room_id}/uploads/{body['uploadId']}"
            headers = {"Authorization": f"Bearer {bob_token}"}
            async with session.get(
                cloud.rest_url + path, headers=headers, allow_redirects=False
            ) as response:
                assert response.status == 302
                location = response.headers["Location"]
            assert location.startswith(f"{cloud.base_url}/s3/chat-local-media/rooms/")
            async with session.get(location) as download:
                assert download.status == 200
                assert await download.read() == PDF
                assert download.headers["Content-Type"] == "application/pdf"
                assert download.headers["Content-Disposition"].startswith("attachment;")

            status, reply = await api.call("GET", path, token=carol_token)
            assert status == 403 and reply["error"]["code"] == "forbidden"
            status, reply = await api.call(
                "POST", f"/rooms/{room_id}/uploads", {**declared, "size": 3}, carol_token
            )
            assert status == 403

            # Bigger than declared, or of another type: refused by the POST policy (403), as on
            # S3; nothing is stored, so attaching it is refused as never uploaded.
            status, big = await api.call(
                "POST", f"/rooms/{room_id}/uploads", {**declared, "size": 10}, alice_token
            )
            assert status == 201
            assert await post_file(session, big, PDF, "application/pdf", cloud.base_url) == 403
            fields = {**big["fields"], "Content-Type": "text/html"}
            assert (
                await post_file(
                    session, {**big, "fields": fields}, PDF[:10], "text/html", cloud.base_url
                )
                == 403
            )
            await alice.send(
                {
                    "action": "sendMessage",
                    "roomId": room_id,
                    "attachments": [big["uploadId"]],
                    "requestId": "big",
                }
            )
            error = await alice.next_of("error", requestId="big")
            assert error["code"] == "invalid_input"
            status, page = await api.call("GET", f"/rooms/{room_id}/messages", token=bob_token)
            assert [m.get("attachments", []) for m in page["messages"]][-1][0]["uploadId"] == (
                body["uploadId"]
            )
            assert len(page["messages"]) == 1
            for socket in (alice, bob, carol):
                await socket.close()

    run(scenario())


def test_an_expired_upload_form_is_refused_like_s3_refuses_it(cloud: RunningLocalCloud) -> None:
    """A form signed as the REST function signs it, but whose policy expired a minute ago (the
    real one lasts 5 minutes; no test waits that long): 403 AccessDenied, nothing stored."""
    s3 = boto3.client(
        "s3",
        endpoint_url=f"{cloud.base_url}/s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    key = "rooms/nowhere/" + "0" * 32
    post = s3.generate_presigned_post(
        Bucket="chat-local-media",
        Key=key,
        Fields={"Content-Type": "image/png"},
        Conditions=[["content-length-range", 3, 3], {"Content-Type": "image/png"}],
        ExpiresIn=-60,
    )

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            form = aiohttp.FormData()
            for name, value in post["fields"].items():
                form.add_field(name, value)
            form.add_field("file", b"abc", filename="a.png", content_type="image/png")
            async with session.post(post["url"], data=form) as response:
                assert response.status == 403
                assert "Policy expired" in await response.text()
            async with session.get(f"{cloud.base_url}/s3/chat-local-media/{key}") as response:
                assert response.status == 404

    run(scenario())
