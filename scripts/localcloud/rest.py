"""The REST API: `/api/*` as an API Gateway REST API (v1) with one `{proxy+}` resource and a
Lambda proxy integration."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from localcloud import events
from localcloud.functions import FunctionError

if TYPE_CHECKING:
    from localcloud.app import LocalCloud

log = logging.getLogger("localcloud")

# API Gateway's payload limit for REST APIs.
MAX_BODY_BYTES = 10 * 1024 * 1024
PREFIX = "/api"


def _gateway_error(status: int, message: str, error_type: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


class RestGateway:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.resource_id = events.api_id()[:6]

    def event(self, request: web.Request, body: bytes) -> dict[str, Any]:
        cloud = self.cloud
        path = request.path[len(PREFIX) :] or "/"
        now = time.time()
        headers, multi_headers = events.header_maps(
            request.headers, events.forwarded_headers(request.remote, cloud.port)
        )
        query, multi_query = events.query_maps(request.query)
        text: str | None = None
        is_base64 = False
        if body:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = base64.b64encode(body).decode("ascii")
                is_base64 = True
        proxy = path.lstrip("/")
        return {
            "resource": "/{proxy+}" if proxy else "/",
            "path": path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": {"proxy": proxy} if proxy else None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": self.resource_id,
                "resourcePath": "/{proxy+}" if proxy else "/",
                "httpMethod": request.method,
                "extendedRequestId": events.aws_id(),
                "requestTime": events.request_time(now),
                "path": f"/{cloud.stage}{path}",
                "accountId": events.ACCOUNT_ID,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "stage": cloud.stage,
                "domainPrefix": cloud.api_id,
                "requestTimeEpoch": events.epoch_ms(now),
                "requestId": str(uuid.uuid4()),
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": request.remote or "",
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": request.headers.get("User-Agent", ""),
                    "user": None,
                },
                "domainName": request.host,
                "apiId": cloud.api_id,
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        cloud = self.cloud
        function = cloud.topology.rest_function
        if function is None:
            return _gateway_error(
                403, "Missing Authentication Token", "MissingAuthenticationTokenException"
            )
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _gateway_error(413, "Request Too Long", "RequestTooLongException")
        body = await request.read()
        if len(body) > MAX_BODY_BYTES:
            return _gateway_error(413, "Request Too Long", "RequestTooLongException")
        event = self.event(request, body)
        outcome = "ok"
        try:
            result, _, _ = await cloud.invoker.invoke(function, event)
            response = self.response(result)
        except FunctionError as e:
            outcome = f"error: {e}"
            response = _gateway_error(502, "Internal server error", "InternalServerErrorException")
        except ValueError as e:
            outcome = f"malformed Lambda proxy response: {e}"
            log.error("rest %s %s: %s", request.method, event["path"], outcome)
            response = _gateway_error(502, "Internal server error", "InternalServerErrorException")
        log.info(
            "rest %s %s -> %d fn=%s %.1fms %s",
            request.method,
            event["path"],
            response.status,
            function,
            (time.monotonic() - started) * 1000,
            outcome,
        )
        return response

    @staticmethod
    def response(result: Any) -> web.Response:
        """A Lambda proxy integration result, as API Gateway turns it into HTTP."""
        if not isinstance(result, dict):
            raise ValueError(f"expected an object, got {type(result).__name__}")
        status = result.get("statusCode")
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"statusCode {status!r}")
        response = web.Response(status=status)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(name, str(value))
        for name, value in (result.get("headers") or {}).items():
            response.headers[name] = str(value)
        body = result.get("body")
        if body is not None and not isinstance(body, str):
            raise ValueError(f"body must be a string, got {type(body).__name__}")
        if body:
            if result.get("isBase64Encoded"):
                try:
                    response.body = base64.b64decode(body)
                except binascii.Error as e:
                    raise ValueError("isBase64Encoded body is not base64") from e
            else:
                response.body = body.encode("utf-8")
        if "Content-Type" not in response.headers:
            response.headers["Content-Type"] = "application/json"
        return response
