"""The media bucket's browser-facing S3 endpoint: `/s3/<bucket>` on the local cloud's origin.

moto's S3 stores whatever a presigned POST sends: it checks neither the policy's expiration nor
its conditions (content-length-range, Content-Type, the pinned fields). S3 refuses those with
403 AccessDenied, and so does this endpoint before it forwards the form to moto. Presigned GETs
and HEADs are forwarded as they are. The handlers presign for this address
(`MEDIA_ENDPOINT_URL`) and make their own calls (HeadObject, tagging) to moto directly.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

# Form fields S3 does not require a policy condition for.
_UNCONDITIONED = {"policy", "x-amz-signature", "file", "x-ignore-"}
_REQUEST_HEADERS = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
_FORWARDED_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Vary",
    "Content-Type",
    "Content-Length",
    "Content-Disposition",
    "ETag",
    "Last-Modified",
    "Location",
)


class PolicyError(ValueError):
    """A POST that S3 would refuse: the reason, as S3 words it."""


def check_policy(fields: Mapping[str, str], bucket: str, size: int, now: float) -> None:
    """Raises PolicyError unless the form's policy admits it: not expired, every condition met,
    every field covered by a condition (the S3 POST rules)."""
    try:
        policy = json.loads(base64.b64decode(fields["policy"], validate=True))
        expiration = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
        conditions = list(policy["conditions"])
    except (KeyError, ValueError, TypeError, binascii.Error) as e:
        raise PolicyError("Invalid Policy: the policy is missing or malformed.") from e
    if now > expiration.timestamp():
        raise PolicyError("Invalid according to Policy: Policy expired.")
    values = {k.lower(): v for k, v in fields.items()}
    values["bucket"] = bucket
    covered = {"bucket"}
    for condition in conditions:
        covered |= _check_condition(condition, values, size)
    for name in values:
        if name not in covered and name not in _UNCONDITIONED and not name.startswith("x-ignore-"):
            raise PolicyError(f"Invalid according to Policy: Extra input fields: {name}")


def _check_condition(condition: Any, values: Mapping[str, str], size: int) -> set[str]:
    """Raises PolicyError unless the condition holds; the field names it covers."""
    if isinstance(condition, dict):
        for name, expected in condition.items():
            if values.get(name.lower()) != expected:
                raise PolicyError(f"Invalid according to Policy: Policy Condition failed: {name}")
        return {name.lower() for name in condition}
    if isinstance(condition, list) and condition and condition[0] == "content-length-range":
        low, high = int(condition[1]), int(condition[2])
        if size > high:
            raise PolicyError("Your proposed upload exceeds the maximum allowed size.")
        if size < low:
            raise PolicyError("Your proposed upload is smaller than the minimum allowed size.")
        return set()
    if isinstance(condition, list) and len(condition) == 3:
        operator, name, expected = condition
        name = str(name).lstrip("$").lower()
        actual = values.get(name)
        if (operator == "eq" and actual != expected) or (
            operator == "starts-with" and not str(actual or "").startswith(str(expected))
        ):
            raise PolicyError(f"Invalid according to Policy: Policy Condition failed: {name}")
        return {name}
    raise PolicyError("Invalid Policy: a condition is malformed.")


def _denied(message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    )
    return web.Response(status=403, text=body, content_type="application/xml")


class S3Gateway:
    def __init__(self, endpoint: str, clock: Callable[[], float] = time.time) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, request: web.Request) -> web.StreamResponse:
        bucket = request.match_info["bucket"]
        fields: dict[str, str] = {}
        file: tuple[str, bytes, str] | None = None
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.name == "file":
                data = bytes(await part.read())
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                file = (part.filename or "file", data, content_type)
                break  # S3 ignores fields after the file
            fields[part.name] = await part.text()
        if file is None:
            return _denied("POST requires exactly one file upload per request.")
        try:
            check_policy(fields, bucket, len(file[1]), self.clock())
        except PolicyError as e:
            return _denied(str(e))
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        form.add_field("file", file[1], filename=file[0], content_type=file[2])
        headers = {k: request.headers[k] for k in _REQUEST_HEADERS if k in request.headers}
        url = f"{self.endpoint}/{bucket}"
        async with self._client().post(url, data=form, headers=headers) as response:
            return await self._relay(response, request)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """A presigned GET or HEAD, or a CORS preflight, passed to moto as it came (moto answers
        CORS with the bucket's rules)."""
        path = request.path.removeprefix("/s3")
        url = f"{self.endpoint}{path}"
        if request.query_string:
            url += f"?{request.query_string}"
        headers = {k: request.headers[k] for k in _REQUEST_HEADERS if k in request.headers}
        async with self._client().request(request.method, url, headers=headers) as response:
            return await self._relay(response, request)

    async def _relay(
        self, response: aiohttp.ClientResponse, request: web.Request
    ) -> web.StreamResponse:
        body = await response.read()
        headers: dict[str, Any] = {
            k: response.headers[k] for k in _FORWARDED_HEADERS if k in response.headers
        }
        for name in ("Content-Length", "Content-Type"):
            headers.pop(name, None)
        result = web.Response(
            status=response.status,
            body=body if request.method != "HEAD" else None,
            headers=headers,
        )
        if "Content-Type" in response.headers:
            result.headers["Content-Type"] = response.headers["Content-Type"]
        return result
