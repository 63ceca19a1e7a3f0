"""Media through the running local cloud: a presigned POST to the local S3 (moto's, on
loopback), the attachment checked by the send function, the download's 302 to a presigned GET.

moto's S3 does not enforce a POST policy (content-length-range, Content-Type, expiry): a file
bigger than declared is stored, and refused when a message names it (its size is not the
declared one), so nothing is stored for the message."""

from __future__ import annotations

import aiohttp
import pytest

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
            assert body["url"].startswith("http://127.0.0.1:")  # the browser reaches it
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
            assert location.startswith("http://127.0.0.1:")
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

            # Bigger than declared: the emulator stores it; the send function refuses it.
            status, big = await api.call(
                "POST", f"/rooms/{room_id}/uploads", {**declared, "size": 10}, alice_token
            )
            assert status == 201
            await post_file(session, big, PDF, "application/pdf", cloud.base_url)
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
