"""lambda/chat/openapi.json: valid OpenAPI 3.1, in step with the REST function's ROUTES both ways,
holding the real limits of chat.validation and the stack's defaults, and served at
GET /openapi.json. tests/integration/test_fuzz_rest.py runs Schemathesis from it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from chat import validation
from chat.errors import ChatError
from localcloud import terraform
from tests.events import load_event
from tests.unit.harness import Harness, LambdaContext

REPO = Path(__file__).resolve().parents[2]
DESCRIPTION_PATH = REPO / "lambda" / "chat" / "openapi.json"
DESCRIPTION: dict[str, Any] = json.loads(DESCRIPTION_PATH.read_text("utf-8"))
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in DESCRIPTION["paths"].items()
        for method in item
        if method in METHODS
    }


def template(pattern: re.Pattern[str]) -> str:
    """A ROUTES pattern as an OpenAPI path: `(?P<roomId>[^/]+)` becomes `{roomId}`."""
    path = re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", pattern.pattern).replace("\\.", ".")
    assert not set(path) & set("()[]+*?\\"), f"a route the description cannot name: {path}"
    return path


def schema_of(reference: dict[str, Any]) -> dict[str, Any]:
    """A bare `$ref` (#/components/...) followed to what it names; anything else as it is."""
    while set(reference) == {"$ref"}:
        node: Any = DESCRIPTION
        for part in reference["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        reference = node
    return reference


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in DESCRIPTION["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_description_is_valid_openapi_3_1() -> None:
    assert DESCRIPTION["openapi"].startswith("3.1.")
    validate(DESCRIPTION)


def test_every_route_is_documented_and_everything_documented_is_routed(chat: Harness) -> None:
    routed = {(method, template(pattern)) for method, pattern, _ in chat.modules["rest"].ROUTES}
    assert routed - documented() == set(), "routes missing from openapi.json"
    assert documented() - routed == set(), "openapi.json documents what is not routed"


def test_every_path_parameter_is_declared_and_required() -> None:
    for path, item in DESCRIPTION["paths"].items():
        named = set(re.findall(r"{(\w+)}", path))
        for method in (m for m in item if m in METHODS):
            parameters = [schema_of(p) for p in item.get("parameters", [])] + [
                schema_of(p) for p in item[method].get("parameters", [])
            ]
            declared = {p["name"] for p in parameters if p["in"] == "path"}
            assert declared == named, (method, path)
            assert all(p["required"] for p in parameters if p["in"] == "path")


def test_every_error_response_pins_its_code_and_the_shared_shape() -> None:
    """Each documented 4xx names one code of chat.errors (never `internal`), in
    {"error": {"code", "message", "retryAfter"?}}; 429 also requires Retry-After."""
    codes = {cls.code for cls in _subclasses(ChatError)} - {"internal"}
    error_of = schema_of({"$ref": "#/components/schemas/ErrorOf"})
    assert error_of["additionalProperties"] is False
    detail = schema_of(error_of["properties"]["error"])
    assert set(detail["properties"]) == {"code", "message", "retryAfter"}
    for path, method, operation in operations():
        for status, reference in operation["responses"].items():
            if not status.startswith("4"):
                continue
            response = schema_of(reference)
            schema = schema_of(response["content"]["application/json"]["schema"])
            assert schema["$ref"] == "#/components/schemas/ErrorOf", (method, path, status)
            code = schema["properties"]["error"]["properties"]["code"]["const"]
            assert code in codes, (method, path, status, code)
            if status == "429":
                assert response["headers"]["Retry-After"]["required"] is True
                assert schema["properties"]["error"]["required"] == ["retryAfter"]


def test_operations_need_the_bearer_token_except_login_signup_and_the_description() -> None:
    assert DESCRIPTION["security"] == [{"bearer": []}]
    assert DESCRIPTION["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    public = {(method, path) for path, method, op in operations() if op.get("security") == []}
    assert public == {("post", "/auth/signup"), ("post", "/auth/login"), ("get", "/openapi.json")}
    for path, method, operation in operations():
        if (method, path) not in public:
            assert "401" in operation["responses"], (method, path)


def test_the_description_holds_the_real_limits() -> None:
    """The patterns and bounds are chat.validation's, and the media limits the stack's defaults."""
    schemas = DESCRIPTION["components"]["schemas"]
    assert schemas["Username"]["pattern"] == f"^{validation.USERNAME_RE.pattern}$"
    assert schemas["RoomId"]["pattern"] == f"^{validation.ROOM_ID_RE.pattern}$"
    assert schemas["MessageIdInput"]["pattern"] == f"^{validation.MESSAGE_ID_RE.pattern}$"
    assert schemas["UploadId"]["pattern"] == f"^{validation.UPLOAD_ID_RE.pattern}$"
    credentials = DESCRIPTION["components"]["requestBodies"]["Credentials"]
    password = credentials["content"]["application/json"]["schema"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (
        validation.PASSWORD_MIN,
        validation.PASSWORD_MAX,
    )
    message = schemas["Message"]["properties"]
    assert message["text"]["maxLength"] == validation.MESSAGE_TEXT_MAX
    assert message["attachments"]["maxItems"] == validation.MAX_ATTACHMENTS
    assert message["clientMessageId"]["maxLength"] == validation.CLIENT_MESSAGE_ID_MAX

    paths = DESCRIPTION["paths"]
    history = {
        p["name"]: p["schema"] for p in paths["/rooms/{roomId}/messages"]["get"]["parameters"]
    }
    assert (history["limit"]["maximum"], history["limit"]["default"]) == (
        validation.HISTORY_LIMIT_MAX,
        validation.HISTORY_LIMIT_DEFAULT,
    )
    search = {p["name"]: p["schema"] for p in paths["/rooms/{roomId}/search"]["get"]["parameters"]}
    assert search["q"]["maxLength"] == validation.SEARCH_QUERY_MAX
    assert (search["limit"]["maximum"], search["limit"]["default"]) == (
        validation.SEARCH_LIMIT_MAX,
        validation.SEARCH_LIMIT_DEFAULT,
    )

    upload = paths["/rooms/{roomId}/uploads"]["post"]["requestBody"]["content"]
    fields = upload["application/json"]["schema"]["properties"]
    assert fields["filename"]["maxLength"] == validation.FILENAME_MAX
    defaults = terraform.load(REPO / "terraform", {}).variables
    assert fields["contentType"]["enum"] == defaults["media_content_types"]
    assert fields["size"]["maximum"] == defaults["media_max_bytes"]


def test_the_description_is_served_cacheable_without_a_token(chat: Harness) -> None:
    event = load_event("rest_api_proxy")
    event.update(httpMethod="GET", path="/openapi.json", body=None)
    event["headers"].pop("Authorization", None)
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 200
    assert response["headers"]["Cache-Control"] == "public, max-age=300"
    assert response["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(response["body"]) == DESCRIPTION


def test_a_wrong_method_is_405_with_an_allow_header(chat: Harness) -> None:
    event = load_event("rest_api_proxy")
    event.update(httpMethod="DELETE", path="/rooms/direct", body=None)
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST, OPTIONS"
    assert json.loads(response["body"])["error"]["code"] == "method_not_allowed"


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for child in cls.__subclasses__() for s in _subclasses(child))]
