"""The media bucket's browser-facing S3 endpoint: `/s3/<bucket>` on the local cloud's origin.

moto's S3 stores whatever a presigned POST sends: it checks neither the policy's expiration nor
its conditions (content-length-range, Content-Type, the pinned fields). S3 refuses those with
403 AccessDenied, and so does this endpoint before it forwards the form to moto. Presigned GETs
and HEADs are forwarded as they are. The handlers presign for this address
(`MEDIA_ENDPOINT_URL`) and make their own calls (HeadObject, tagging) to moto directly.

CORS is answered here too, from the bucket's rules as terraform/media.tf declares them
(Topology.media_cors_rules). moto 5.2.5 applies every rule to a preflight rather than the first
that matches: with media.tf's two rules, a preflight for GET from any origin but the site's is
refused by the POST rule, and one for POST from the site gets the GET rule's methods. S3 takes
the first rule whose origin, method and requested headers all match, and refuses the preflight
(403) when none does; on other requests it adds that rule's headers or none.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

from localcloud.terraform import CorsRule

# Form fields S3 does not require a policy condition for.
_UNCONDITIONED = {"policy", "x-amz-signature", "file", "x-ignore-"}
_REQUEST_HEADERS = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
# moto's own CORS headers are left out: this endpoint sets them (see the module docstring).
_FORWARDED_HEADERS = (
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


def _error(status: int, code: str, message: str) -> web.Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


def _denied(message: str) -> web.Response:
    return _error(403, "AccessDenied", message)


_CORS_REFUSED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)


def _wildcard(pattern: str, value: str) -> bool:
    """S3's CORS patterns: `*` alone matches anything, else one `*` stands for any text."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), value) is not None


def cors_rule_for(
    rules: Sequence[CorsRule], origin: str, method: str, requested_headers: Sequence[str] = ()
) -> CorsRule | None:
    """The first rule that admits the request, as S3 picks it: the origin matches one of its
    origins, the method is one of its methods, and every requested header one of its headers."""
    for rule in rules:
        if (
            method in rule.allowed_methods
            and any(_wildcard(o, origin) for o in rule.allowed_origins)
            and all(
                any(_wildcard(a.lower(), h.lower()) for a in rule.allowed_headers)
                for h in requested_headers
            )
        ):
            return rule
    return None


def cors_headers(
    rule: CorsRule, origin: str, requested_headers: Sequence[str] = ()
) -> dict[str, str]:
    """What S3 answers for a request the rule admits: `*` for a rule open to any origin (no
    credentials then), the origin itself otherwise."""
    headers = {
        "Access-Control-Allow-Methods": ", ".join(rule.allowed_methods),
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    if "*" in rule.allowed_origins:
        headers["Access-Control-Allow-Origin"] = "*"
    else:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Credentials"] = "true"
    if requested_headers:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested_headers)
    if rule.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    return headers


class S3Gateway:
    def __init__(
        self,
        endpoint: str,
        cors: Mapping[str, Sequence[CorsRule]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.cors = cors  # bucket => its CORS rules
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

    async def preflight(self, request: web.Request) -> web.Response:
        """A CORS preflight (OPTIONS), answered from the bucket's rules as S3 answers it."""
        origin = request.headers.get("Origin")
        method = request.headers.get("Access-Control-Request-Method")
        if not origin:
            return _error(
                400, "BadRequest", "Insufficient information. Origin request header needed."
            )
        if not method:
            return _error(400, "BadRequest", "Invalid Access-Control-Request-Method: null")
        requested = [
            h.strip().lower()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        rules = self.cors.get(request.match_info["bucket"], ())
        rule = cors_rule_for(rules, origin, method, requested)
        if rule is None:
            return _error(403, "AccessForbidden", _CORS_REFUSED)
        return web.Response(status=200, headers=cors_headers(rule, origin, requested))

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """A presigned GET or HEAD, passed to moto as it came."""
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
        origin = request.headers.get("Origin")
        rules = self.cors.get(request.match_info["bucket"], ())
        if origin and (rule := cors_rule_for(rules, origin, request.method)):
            result.headers.update(cors_headers(rule, origin))
        return result
