"""The REST handler with API Gateway's own event shape: routing, CORS, encodings."""

from __future__ import annotations

import base64
import json

from tests.events import load_event
from tests.unit.harness import Harness, LambdaContext


def test_unknown_paths_are_404_and_wrong_methods_405(chat: Harness) -> None:
    status, body = chat.rest("GET", "/nope")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = chat.rest("GET", "/auth/signup")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"


def test_preflight_requests_get_cors_headers(chat: Harness) -> None:
    event = load_event("rest_api_proxy")
    event["httpMethod"] = "OPTIONS"
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 204
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response["headers"]["Access-Control-Allow-Headers"]


def test_base64_bodies_are_decoded(chat: Harness) -> None:
    event = load_event("rest_api_proxy")
    event["path"] = "/auth/signup"
    event["body"] = base64.b64encode(
        json.dumps({"username": "alice", "password": "long enough"}).encode()
    ).decode()
    event["isBase64Encoded"] = True
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 201


def test_a_body_that_is_not_utf8_is_401_without_a_token_and_400_with_one(chat: Harness) -> None:
    """Found by Schemathesis (tests/integration/test_fuzz_rest.py): the body was decoded before
    the token was checked, so a call without a token got 400 for its body instead of 401."""
    token = chat.signup_and_login("alice")
    event = load_event("rest_api_proxy")
    event.update(path="/rooms/direct", body=base64.b64encode(b"\x00\xe1").decode())
    event["isBase64Encoded"] = True
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "unauthorized"
    event["headers"]["Authorization"] = f"Bearer {token}"
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_input"


def test_every_error_has_the_documented_shape(chat: Harness) -> None:
    response = chat.modules["rest"].lambda_handler(load_event("rest_api_proxy"), LambdaContext())
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(response["body"])
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}


def test_an_unexpected_exception_is_a_500_without_details(chat: Harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def explode(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(chat.modules["rest"].accounts, "signup", explode)
    status, body = chat.rest(
        "POST", "/auth/signup", {"username": "alice", "password": "long enough"}
    )
    assert status == 500
    assert body["error"]["code"] == "internal"
    assert "secret" not in body["error"]["message"]
