"""The REST API (API Gateway REST API, one {proxy+} resource): accounts, tickets and reads."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from chat import protocol, validation
from chat.accounts import AccountService, TicketService
from chat.config import Settings
from chat.errors import (
    ChatError,
    InvalidCredentialsError,
    InvalidInputError,
    MethodNotAllowedError,
    NotFoundError,
    as_busy,
)
from chat.media import MediaService
from chat.messages import MessageService
from chat.rooms import RoomService
from chat.runtime import (
    Stores,
    configure_logging,
    identity_provider,
    limiter,
    notifier,
    optional_media_service,
)

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings)
# builtin or Cognito accounts (IDENTITY_PROVIDER): the routes below do not tell them apart.
# The Management API: roomAdded (POST /rooms/direct), DeleteConnection (log out everywhere).
events = notifier(settings, stores)
accounts = AccountService(
    identity_provider(settings, stores, time.time), stores.users, time.time, events
)
tickets = TicketService(stores.users, time.time, settings.ticket_ttl_seconds)
# Reads, and POST /rooms/direct, which tells the other user (roomAdded).
rooms = RoomService(
    stores.rooms, stores.connections, stores.messages, events, time.time, users=stores.users
)
messages = MessageService(stores.rooms, stores.messages, time.time)
media = optional_media_service(settings, stores, time.time)
limits = limiter(settings, time.time)
log = logging.getLogger("chat.rest")


@dataclass(frozen=True)
class Document:
    """A fixed body served as it is, cacheable, unlike every other answer (`no-store`)."""

    text: str
    cache_control: str


# The OpenAPI description of the routes below (lambda/chat/openapi.json, in the function's
# package), read once per container and served compact at GET /openapi.json. Read as a package
# resource, so the package works unpacked (Lambda) and straight from its zip (the infra test).
OPENAPI = Document(
    json.dumps(
        json.loads(resources.files("chat").joinpath("openapi.json").read_text("utf-8")),
        separators=(",", ":"),
    ),
    "public, max-age=300",
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: str | None
    # requestContext.identity.sourceIp: API Gateway's view of the client (REST API, v1 events).
    source_ip: str = ""
    # A base64 body that is not UTF-8: refused when a handler reads the body, so that, as for
    # any other bad body, a call without a valid token is 401 before its body is looked at.
    undecodable: bool = False

    def json(self) -> dict[str, Any]:
        if self.undecodable:
            raise InvalidInputError("The request body is not valid UTF-8 JSON.")
        return validation.parse_json_object(self.body)

    def user(self) -> str:
        return accounts.authenticate(self.headers.get("authorization"))


Response = tuple[int, dict[str, Any] | Document]


def openapi(request: Request) -> Response:
    return 200, OPENAPI


def signup(request: Request) -> Response:
    payload = request.json()
    limits.signup(request.source_ip)
    username = accounts.signup(validation.username(payload), validation.password(payload))
    return 201, {"username": username}


def login(request: Request) -> Response:
    payload = request.json()
    # Malformed credentials cannot match any account; they get the same answer as wrong ones
    # only when well-formed, so a client learns about typos in the form, not about accounts.
    username, password = validation.username(payload), validation.password(payload)
    # Checked before the password, so a blocked pair learns nothing, even from a right password;
    # unknown usernames are counted exactly like known ones.
    limits.login_allowed(username, request.source_ip)
    try:
        session = accounts.login(username, password)
    except InvalidCredentialsError:
        limits.login_failed(username, request.source_ip)
        raise
    return 200, {
        "token": session.token,
        "expiresAt": _iso(session.expires_at),
        "username": session.username,
    }


def logout(request: Request) -> Response:
    accounts.logout(request.headers.get("authorization"))
    return 204, {}


def logout_all(request: Request) -> Response:
    closed = accounts.logout_everywhere(request.headers.get("authorization"))
    return 200, {"closedConnections": closed}


def me(request: Request) -> Response:
    return 200, {"username": request.user()}


def ticket(request: Request) -> Response:
    value, expires_at = tickets.issue(accounts.caller(request.headers.get("authorization")))
    return 201, {"ticket": value, "expiresAt": _iso(expires_at)}


def list_rooms(request: Request) -> Response:
    return 200, protocol.rooms_body(rooms.list_for(request.user()))


def open_direct(request: Request) -> Response:
    username = request.user()
    room, created = rooms.open_direct(username, validation.username(request.json()))
    return (201 if created else 200), protocol.direct_room_body(room, username)


def room_messages(request: Request) -> Response:
    username = request.user()
    room_id = validation.room_id(request.params)
    limit, before, after = validation.history_query(request.query)
    messages, has_more = rooms.history(room_id, username, limit, before, after)
    return 200, protocol.history_body(messages, has_more)


def room_search(request: Request) -> Response:
    username = request.user()
    room_id = validation.room_id(request.params)
    words, limit, cursor = validation.search_query(request.query)
    return 200, protocol.search_body(*messages.search(room_id, username, words, limit, cursor))


def room_members(request: Request) -> Response:
    username = request.user()
    return 200, protocol.members_body(*rooms.members(validation.room_id(request.params), username))


def _media() -> MediaService:
    if media is None:
        raise NotFoundError("Uploads are not enabled here.")
    return media


def create_upload(request: Request) -> Response:
    username = request.user()
    room_id = validation.room_id(request.params)
    filename, content_type, size = validation.upload_request(request.json())
    upload = _media().create_upload(room_id, username, filename, content_type, size)
    return 201, protocol.upload_body(upload)


def download_upload(request: Request) -> Response:
    username = request.user()
    room_id = validation.room_id(request.params)
    upload_id = validation.upload_id(request.params)
    return 302, {"location": _media().download_url(room_id, upload_id, username)}


# Every route is in openapi.json and everything there is routed (tests/unit/test_openapi.py).
ROUTES: list[tuple[str, re.Pattern[str], Callable[[Request], Response]]] = [
    ("GET", re.compile(r"/openapi\.json"), openapi),
    ("POST", re.compile(r"/auth/signup"), signup),
    ("POST", re.compile(r"/auth/login"), login),
    ("POST", re.compile(r"/auth/logout"), logout),
    ("POST", re.compile(r"/auth/logout-all"), logout_all),
    ("GET", re.compile(r"/me"), me),
    ("POST", re.compile(r"/auth/ticket"), ticket),
    ("GET", re.compile(r"/rooms"), list_rooms),
    ("POST", re.compile(r"/rooms/direct"), open_direct),
    ("GET", re.compile(r"/rooms/(?P<roomId>[^/]+)/messages"), room_messages),
    ("GET", re.compile(r"/rooms/(?P<roomId>[^/]+)/members"), room_members),
    ("GET", re.compile(r"/rooms/(?P<roomId>[^/]+)/search"), room_search),
    ("POST", re.compile(r"/rooms/(?P<roomId>[^/]+)/uploads"), create_upload),
    ("GET", re.compile(r"/rooms/(?P<roomId>[^/]+)/uploads/(?P<uploadId>[^/]+)"), download_upload),
]


def _iso(epoch_seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def _cors_headers() -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": settings.cors_allow_origin,
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Max-Age": "600",
    }


def _response(status: int, body: dict[str, Any] | Document | None) -> dict[str, Any]:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": body.cache_control if isinstance(body, Document) else "no-store",
        "X-Content-Type-Options": "nosniff",
        **_cors_headers(),
    }
    if isinstance(body, Document):
        text = body.text
    else:
        text = "" if body is None else json.dumps(body, ensure_ascii=False)
    return {"statusCode": status, "headers": headers, "body": text}


def _redirect(location: str) -> dict[str, Any]:
    """A download: 302 to the presigned GET, never cached (it expires in minutes)."""
    response = _response(302, None)
    response["headers"]["Location"] = location
    return response


def _error(error: ChatError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        body["retryAfter"] = retry_after
    response = _response(error.status, {"error": body})
    if retry_after is not None:
        response["headers"]["Retry-After"] = str(retry_after)
    if isinstance(error, MethodNotAllowedError):
        response["headers"]["Allow"] = ", ".join(error.allowed)
    return response


def _request(event: dict[str, Any]) -> Request:
    body = event.get("body")
    undecodable = False
    if body is not None and event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            body, undecodable = None, True
    return Request(
        method=str(event.get("httpMethod", "GET")).upper(),
        path="/" + str(event.get("path") or "/").strip("/"),
        params={},
        query={
            k: v for k, v in (event.get("queryStringParameters") or {}).items() if v is not None
        },
        headers={k.lower(): v for k, v in (event.get("headers") or {}).items() if v is not None},
        body=body,
        source_ip=str(
            ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or ""
        ),
        undecodable=undecodable,
    )


def _route(request: Request) -> Response:
    allowed = []
    for method, pattern, handler in ROUTES:
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        allowed.append(method)
        if method == request.method:
            params = {k: v for k, v in match.groupdict().items()}
            return handler(Request(**{**request.__dict__, "params": params}))
    if allowed:
        # RFC 9110: a 405 lists what the resource does allow (OPTIONS: the CORS preflight).
        raise MethodNotAllowedError([*allowed, "OPTIONS"])
    raise NotFoundError("There is no such endpoint.")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    status = 500
    request: Request | None = None
    try:
        request = _request(event)
        if request.method == "OPTIONS":
            status = 204
            return _response(204, None)
        status, body = _route(request)
        if status == 302 and isinstance(body, dict):
            return _redirect(str(body["location"]))
        return _response(status, body if status != 204 else None)
    except ChatError as e:
        status = e.status
        return _error(e)
    except Exception as e:
        busy = as_busy(e)
        if busy is not None:
            status = busy.status
            log.warning("request throttled")
            return _error(busy)
        log.exception("request failed")
        return _error(ChatError())
    finally:
        log.info(
            "rest request",
            extra={
                "method": request.method if request else None,
                "path": request.path if request else None,
                "status": status,
                "durationMs": round((time.perf_counter() - started) * 1000, 1),
            },
        )
