"""Media through the running local cloud: a presigned POST to the local cloud's S3 endpoint
(`/s3`, which checks the POST policy as S3 does and forwards to moto), the attachment checked
by the send function, the download's 302 to a presigned GET."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from localcloud.terraform import load
from localcloud.testing import RunningLocalCloud, running_local_cloud
from tests.integration.chat_client import Api, Socket
from tests.integration.conftest import NO_LIMITS, TERRAFORM_DIR, run
from tests.integration.test_rooms_and_messages import admit, connect, create_room

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n" + b"x" * 100
FOREIGN_ORIGIN = "http://evil.example"
BUCKET = "chat-local-media"


async def preflight(
    session: aiohttp.ClientSession, url: str, origin: str, method: str
) -> tuple[int, CIMultiDictProxy[str]]:
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    async with session.options(url, headers=headers) as response:
        await response.read()
        return response.status, response.headers


def site_origins(cloud: RunningLocalCloud) -> list[str]:
    """Every origin the local cloud serves its page from (config.js follows the Host)."""
    port = urlsplit(cloud.base_url).port
    return list(
        dict.fromkeys([cloud.base_url, f"http://127.0.0.1:{port}", f"http://localhost:{port}"])
    )


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


async def attach_refused(sender: Socket, room_id: str, upload_id: str, request_id: str) -> bool:
    """Whether a sendMessage attaching the upload is refused as invalid_input."""
    await sender.send(
        {
            "action": "sendMessage",
            "roomId": room_id,
            "attachments": [upload_id],
            "requestId": request_id,
        }
    )
    error = await sender.next_of("error", requestId=request_id)
    return bool(error["code"] == "invalid_input")


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
            assert body["url"] == f"{cloud.base_url}/s3/{BUCKET}"  # loopback
            # terraform/media.tf's first rule: uploads (POST) from the site's origin only.
            status, allowed = await preflight(session, body["url"], cloud.base_url, "POST")
            assert status == 200
            assert allowed["Access-Control-Allow-Origin"] == cloud.base_url
            assert allowed["Access-Control-Allow-Methods"] == "POST"
            assert allowed["Access-Control-Expose-Headers"] == "ETag"
            assert allowed["Access-Control-Max-Age"] == "600"
            # Another site's page may not upload: S3 refuses the preflight, allowing nothing.
            status, refused = await preflight(session, body["url"], FOREIGN_ORIGIN, "POST")
            assert status == 403
            assert "Access-Control-Allow-Origin" not in refused
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
            assert location.startswith(f"{cloud.base_url}/s3/{BUCKET}/rooms/")
            # media.tf's second rule: downloads (GET, HEAD) from any origin, `Origin: null`
            # after the API's cross-origin redirect among them; the URL is the credential.
            for origin in ("null", FOREIGN_ORIGIN):
                status, open_to_all = await preflight(session, location, origin, "GET")
                assert status == 200
                assert open_to_all["Access-Control-Allow-Origin"] == "*"
                assert open_to_all["Access-Control-Allow-Methods"] == "GET, HEAD"
            async with session.get(location, headers={"Origin": "null"}) as download:
                assert download.status == 200
                assert await download.read() == PDF
                assert download.headers["Content-Type"] == "application/pdf"
                assert download.headers["Content-Disposition"].startswith("attachment;")
                assert download.headers["Access-Control-Allow-Origin"] == "*"
                assert download.headers["Access-Control-Expose-Headers"] == (
                    "Content-Length, Content-Type, Content-Disposition"
                )

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
            assert await attach_refused(alice, room_id, big["uploadId"], "big")
            status, page = await api.call("GET", f"/rooms/{room_id}/messages", token=bob_token)
            assert [m.get("attachments", []) for m in page["messages"]][-1][0]["uploadId"] == (
                body["uploadId"]
            )
            assert len(page["messages"]) == 1
            for socket in (alice, bob, carol):
                await socket.close()

    run(scenario())


def test_the_media_buckets_cors_is_what_media_tf_declares_for_the_local_site(
    cloud: RunningLocalCloud,
) -> None:
    """The emulator's bucket holds the rules terraform/media.tf declares, with the local site's
    origins where a deployment has its site's (var.media_cors_origin); no second list."""
    held = cloud.client("s3").get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    declared = load(TERRAFORM_DIR, NO_LIMITS).media_cors_rules(site_origins(cloud))
    assert held == [rule.to_s3() for rule in declared]
    assert [r["AllowedOrigins"] for r in held] == [site_origins(cloud), ["*"]]


UPLOAD_TTL_SECONDS = 1


@pytest.fixture(scope="module")
def short_upload_cloud() -> Iterator[RunningLocalCloud]:
    """The stack with upload forms valid one second (terraform's media_upload_ttl_seconds)."""
    with running_local_cloud(
        terraform_dir=TERRAFORM_DIR,
        variables={**NO_LIMITS, "media_upload_ttl_seconds": str(UPLOAD_TTL_SECONDS)},
    ) as running:
        yield running


def policy_expiry(form: dict) -> float:
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    return datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")).timestamp()


def test_an_expired_upload_form_is_refused_like_s3_refuses_it(
    short_upload_cloud: RunningLocalCloud,
) -> None:
    """A real form from POST /rooms/{roomId}/uploads, used after it expired: 403 AccessDenied,
    nothing stored, and the upload cannot be attached."""
    cloud = short_upload_cloud

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            alice, alice_token = await connect(api, cloud, "alice")
            room_id = await create_room(alice, "late")
            declared = {"filename": "late.pdf", "contentType": "application/pdf"}
            status, form = await api.call(
                "POST", f"/rooms/{room_id}/uploads", {**declared, "size": len(PDF)}, alice_token
            )
            assert status == 201, form
            expiry = policy_expiry(form)
            assert expiry <= time.time() + UPLOAD_TTL_SECONDS  # the variable reached the signer
            while time.time() <= expiry + 0.5:  # waiting for the expiry, not timing anything
                await asyncio.sleep(0.25)
            fields = form["fields"]
            multipart = aiohttp.FormData()
            for name, value in fields.items():
                multipart.add_field(name, value)
            multipart.add_field("file", PDF, filename="late.pdf", content_type="application/pdf")
            async with session.post(form["url"], data=multipart) as response:
                assert response.status == 403
                assert "Policy expired" in await response.text()
            listed = cloud.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"rooms/{room_id}/")
            assert listed.get("KeyCount", 0) == 0
            assert await attach_refused(alice, room_id, form["uploadId"], "late")
            status, page = await api.call("GET", f"/rooms/{room_id}/messages", token=alice_token)
            assert status == 200 and page["messages"] == []
            await alice.close()

    run(scenario())
