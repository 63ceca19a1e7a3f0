"""Read the stack's topology from `terraform/*.tf` with python-hcl2.

Terraform is the one truth: the functions and their handlers, the WebSocket routes, the REST
API's function, the authorizer (and its identity sources), the stream mapping, the Lambda
environment and the DynamoDB tables all come from the `.tf` files. Nothing here lists a route
or a table; this module only knows the *shape* of the `locals` maps (see terraform/locals.tf)
and of `aws_dynamodb_table` / `aws_apigatewayv2_authorizer` resources.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

from localcloud.hcl import (
    HclEvalError,
    HclSyntaxError,
    Unresolved,
    evaluate,
    evaluate_literal,
    located,
    unquote_key,
)

_OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, preserve_heredocs=False)


class TerraformError(RuntimeError):
    """The Terraform files do not describe a stack the local cloud can serve."""


@dataclass(frozen=True)
class Function:
    key: str
    handler: str  # module.function, e.g. chat.handlers.rest.lambda_handler
    memory_size: int = 128
    timeout: int = 3

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class Route:
    key: str
    function: str
    authorizer: bool = False
    reply: bool = False


@dataclass(frozen=True)
class StreamMapping:
    function: str
    table: str | None  # Terraform key of the table whose stream feeds the function
    batch_size: int = 100
    maximum_batching_window_in_seconds: float = 0
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: int = -1
    bisect_batch_on_function_error: bool = False
    filter_patterns: tuple[Any, ...] = ()
    # The SQS queue of destination_config.on_failure: where records that exhaust their retries
    # (or grow too old) are described, as Lambda does.
    on_failure_queue: str | None = None


@dataclass(frozen=True)
class QueueMapping:
    """An SQS queue and the function consuming it: an entry of local.queue_mappings, deployed
    by terraform/queues.tf as `aws_sqs_queue.job[key]` and `aws_lambda_event_source_mapping.job`."""

    key: str
    name: str
    function: str
    batch_size: int = 10
    visibility_timeout_seconds: int = 30
    max_receive_count: int = 5
    # Lambda environment variables holding the queue's URL (`aws_sqs_queue.job["key"].url`).
    url_variables: tuple[str, ...] = ()
    fifo: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None
    projection_type: str = "ALL"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    key: str  # the Terraform resource name: aws_dynamodb_table.<key>
    name: str
    hash_key: str
    range_key: str | None
    attributes: dict[str, str]
    global_indexes: tuple[Index, ...] = ()
    local_indexes: tuple[Index, ...] = ()
    stream_view_type: str | None = None
    ttl_attribute: str | None = None
    billing_mode: str = "PAY_PER_REQUEST"

    def create_table_kwargs(self) -> dict[str, Any]:
        """The DynamoDB CreateTable request Terraform's aws provider would make."""

        def key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
            schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
            if range_key:
                schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
            return schema

        def projection(index: Index) -> dict[str, Any]:
            result: dict[str, Any] = {"ProjectionType": index.projection_type}
            if index.non_key_attributes:
                result["NonKeyAttributes"] = list(index.non_key_attributes)
            return result

        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeySchema": key_schema(self.hash_key, self.range_key),
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for n, t in self.attributes.items()
            ],
        }
        throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if self.billing_mode == "PROVISIONED":
            kwargs["BillingMode"] = "PROVISIONED"
            kwargs["ProvisionedThroughput"] = throughput
        else:
            kwargs["BillingMode"] = "PAY_PER_REQUEST"
        if self.global_indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": i.name,
                    "KeySchema": key_schema(i.hash_key, i.range_key),
                    "Projection": projection(i),
                    **(
                        {"ProvisionedThroughput": throughput}
                        if self.billing_mode == "PROVISIONED"
                        else {}
                    ),
                }
                for i in self.global_indexes
            ]
        if self.local_indexes:
            kwargs["LocalSecondaryIndexes"] = [
                {
                    "IndexName": i.name,
                    "KeySchema": key_schema(self.hash_key, i.range_key),
                    "Projection": projection(i),
                }
                for i in self.local_indexes
            ]
        if self.stream_view_type:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": self.stream_view_type,
            }
        return kwargs


@dataclass(frozen=True)
class Authorizer:
    function: str
    # API Gateway's identity sources, e.g. ("route.request.querystring.ticket",). When one is
    # missing from the request, API Gateway answers 401 without invoking the authorizer.
    identity_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserPool:
    """An aws_cognito_user_pool (with count 1) and its aws_cognito_user_pool_client, as the
    CreateUserPool / CreateUserPoolClient requests Terraform's aws provider would make."""

    name: str
    password_policy: dict[str, Any]
    case_sensitive: bool
    mfa: str
    client_name: str
    explicit_auth_flows: tuple[str, ...]
    read_attributes: tuple[str, ...]
    write_attributes: tuple[str, ...]

    def create_pool_kwargs(self) -> dict[str, Any]:
        policy = {
            "MinimumLength": int(self.password_policy.get("minimum_length", 8)),
            "RequireLowercase": bool(self.password_policy.get("require_lowercase", True)),
            "RequireUppercase": bool(self.password_policy.get("require_uppercase", True)),
            "RequireNumbers": bool(self.password_policy.get("require_numbers", True)),
            "RequireSymbols": bool(self.password_policy.get("require_symbols", True)),
        }
        return {
            "PoolName": self.name,
            "Policies": {"PasswordPolicy": policy},
            "UsernameConfiguration": {"CaseSensitive": self.case_sensitive},
            "MfaConfiguration": self.mfa,
        }

    def create_client_kwargs(self, pool_id: str) -> dict[str, Any]:
        return {
            "UserPoolId": pool_id,
            "ClientName": self.client_name,
            "GenerateSecret": False,
            "ExplicitAuthFlows": list(self.explicit_auth_flows),
            "ReadAttributes": list(self.read_attributes),
            "WriteAttributes": list(self.write_attributes),
        }


@dataclass(frozen=True)
class CorsRule:
    """One `cors_rule` block of an aws_s3_bucket_cors_configuration, evaluated."""

    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None

    def to_s3(self) -> dict[str, Any]:
        """The rule as PutBucketCors takes it (the aws provider's request)."""
        rule: dict[str, Any] = {
            "AllowedMethods": list(self.allowed_methods),
            "AllowedOrigins": list(self.allowed_origins),
        }
        if self.allowed_headers:
            rule["AllowedHeaders"] = list(self.allowed_headers)
        if self.expose_headers:
            rule["ExposeHeaders"] = list(self.expose_headers)
        if self.max_age_seconds is not None:
            rule["MaxAgeSeconds"] = self.max_age_seconds
        return rule


# The variable a deployment sets when its site is not CloudFront's own domain: the local cloud
# sets it to its own origins (unless --var sets it), as terraform/media.tf's CORS takes it.
MEDIA_CORS_ORIGIN_VARIABLE = "media_cors_origin"


@dataclass
class Topology:
    directory: Path
    functions: dict[str, Function]
    routes: dict[str, Route]
    rest_function: str | None
    authorizer: Authorizer | None
    stream: StreamMapping | None
    queues: dict[str, QueueMapping]
    environment: dict[str, str]
    unresolved_environment: dict[str, str]  # name => why it could not be resolved
    tables: dict[str, Table]
    stage: str
    variables: dict[str, Any] = field(default_factory=dict)
    parse_seconds: float = 0.0
    user_pool: UserPool | None = None
    # The client's Content-Security-Policy, directive => sources (local.site_csp in
    # terraform/frontend.tf), and its Referrer-Policy (local.site_referrer_policy).
    site_csp: dict[str, tuple[str, ...]] = field(default_factory=dict)
    site_referrer_policy: str | None = None
    # The stack itself, for what depends on the local cloud's own origin (its port).
    stack: _Stack | None = field(default=None, repr=False, compare=False)

    def media_cors_rules(self, site_origins: list[str]) -> tuple[CorsRule, ...]:
        """The CORS rules of the bucket that local.lambda_environment.MEDIA_BUCKET names, as
        Terraform would make them with var.media_cors_origin set to each of the local site's
        origins (a browser may load the page from any of them), merged rule by rule. An
        origin --var sets is kept as it is."""
        if self.stack is None:
            return ()
        return _media_cors_rules(self.stack, site_origins)

    def content_security_policy(self, connect_origins: list[str]) -> str:
        """The header as terraform/frontend.tf builds it (local.site_content_security_policy):
        directives in lexical order, as Terraform iterates a map, each followed by its sources,
        connect-src with the deployment's API and media origins appended."""
        connect = list(dict.fromkeys(connect_origins))
        return "; ".join(
            " ".join(
                [
                    directive,
                    *self.site_csp[directive],
                    *(connect if directive == "connect-src" else []),
                ]
            )
            for directive in sorted(self.site_csp)
        )


# What a reference may start with besides var., local. and a declared resource type; values
# under these are only known to a real plan.
_NAMESPACES = frozenset({"data", "module", "path", "terraform", "each", "count", "self"})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_RESOURCE = re.compile(r'^resource\s+"([^"]+)"\s+"([^"]+)"')
_ATTRIBUTE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=(?!=)")


def _source_lines(text: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """The line of each `locals` attribute and of each `resource` block in a .tf file, found by
    following bracket depth line by line (strings and comments left out), for error messages."""
    local_lines: dict[str, int] = {}
    resource_lines: dict[tuple[str, str], int] = {}
    depth, in_locals = 0, False
    for number, line in enumerate(text.splitlines(), 1):
        code = _STRING.sub('""', line).split("#", 1)[0].split("//", 1)[0]
        if depth == 0:
            in_locals = code.strip().startswith("locals")
            if match := _RESOURCE.match(line):
                resource_lines[(match[1], match[2])] = number
        elif depth == 1 and in_locals and (match := _ATTRIBUTE.match(code)):
            local_lines.setdefault(match[1], number)
        depth += sum(code.count(c) for c in "{[(") - sum(code.count(c) for c in "}])")
    return local_lines, resource_lines


class _Stack:
    """The merged contents of every .tf file, with lazy, cycle-safe evaluation."""

    def __init__(self, directory: Path, overrides: Mapping[str, Any]) -> None:
        self.directory = directory
        self.locals_raw: dict[str, Any] = {}
        self.variables_raw: dict[str, dict[str, Any]] = {}
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.local_where: dict[str, str] = {}  # local name => "file:line"
        self.resource_where: dict[tuple[str, str], str] = {}
        files = sorted(directory.glob("*.tf"))
        if not files:
            raise TerraformError(f"no .tf files in {directory}")
        for path in files:
            try:
                with path.open(encoding="utf-8") as handle:
                    document = hcl2.load(handle, serialization_options=_OPTIONS)
            except Exception as e:
                raise TerraformError(f"{path}: python-hcl2 cannot parse it: {e}") from e
            local_lines, resource_lines = _source_lines(path.read_text(encoding="utf-8"))
            for block in document.get("locals", []):
                self.locals_raw.update(block)
                for name in block:
                    self.local_where[name] = f"{path}:{local_lines.get(name, 1)}"
            for (rtype, rname), line in resource_lines.items():
                self.resource_where[(rtype, rname)] = f"{path}:{line}"
            for block in document.get("variable", []):
                for name, body in block.items():
                    self.variables_raw[unquote_key(name)] = body
            for block in document.get("resource", []):
                for rtype, named in block.items():
                    for rname, body in named.items():
                        self.resources.setdefault(unquote_key(rtype), {})[unquote_key(rname)] = body
        self.variables = self._variables(overrides)
        self._locals: dict[str, Any] = {}
        self._evaluating: set[str] = set()
        self._resource_values: dict[tuple[str, str, str], Any] = {}

    def with_variables(self, overrides: Mapping[str, Any]) -> _Stack:
        """The same files with these variables changed: nothing is parsed again."""
        stack = copy.copy(self)
        stack.variables = {**self.variables, **overrides}
        stack._locals, stack._evaluating, stack._resource_values = {}, set(), {}
        return stack

    def _variables(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, body in self.variables_raw.items():
            if "default" in body:
                values[name] = evaluate_literal(body["default"])
        # Terraform's own precedence: terraform.tfvars, then *.auto.tfvars, then -var.
        tfvars = [
            self.directory / "terraform.tfvars",
            *sorted(self.directory.glob("*.auto.tfvars")),
        ]
        for path in tfvars:
            if path.is_file():
                with path.open(encoding="utf-8") as handle:
                    document = hcl2.load(handle, serialization_options=_OPTIONS)
                values.update({k: evaluate_literal(v) for k, v in document.items()})
        values.update(overrides)
        return values

    def resolve(self, path: list[str]) -> Any:
        head = path[0]
        if head == "var" and len(path) >= 2:
            if path[1] not in self.variables_raw:
                raise Unresolved(
                    f"var.{path[1]} is not declared in any .tf file of {self.directory}"
                )
            if path[1] not in self.variables:
                raise Unresolved(f"var.{path[1]} has no default (pass --var {path[1]}=...)")
            return _walk(self.variables[path[1]], path[2:], path)
        if head == "local" and len(path) >= 2:
            return _walk(self.local(path[1]), path[2:], path)
        if head in self.resources and len(path) >= 3:
            return _walk(self.resource_attribute(head, path[1], path[2]), path[3:], path)
        if head in self.resources or head in _NAMESPACES:
            raise Unresolved(f"{'.'.join(path)} is only known after terraform apply")
        raise HclEvalError(
            f"{'.'.join(path)}: {head!r} is not a variable, a local or a resource type "
            f"declared in {self.directory}"
        )

    def local(self, name: str) -> Any:
        if name in self._locals:
            return self._locals[name]
        if name not in self.locals_raw:
            raise TerraformError(f"local.{name} is not defined in {self.directory}")
        if name in self._evaluating:
            raise TerraformError(f"local.{name} refers to itself")
        self._evaluating.add(name)
        try:
            value = self.evaluate(self.locals_raw[name], f"{self.local_where[name]}: local.{name}")
        finally:
            self._evaluating.discard(name)
        self._locals[name] = value
        return value

    def resource_attribute(self, rtype: str, rname: str, attribute: str) -> Any:
        body = self.resources.get(rtype, {}).get(rname)
        if body is None:
            raise TerraformError(f"{rtype}.{rname} is not defined in {self.directory}")
        key = (rtype, rname, attribute)
        if key not in self._resource_values:
            if attribute not in body or isinstance(body[attribute], list):
                raise Unresolved(f"{rtype}.{rname}.{attribute} is only known after apply")
            where = self.resource_where.get((rtype, rname), str(self.directory))
            self._resource_values[key] = self.evaluate(
                body[attribute], f"{where}: {rtype}.{rname}.{attribute}"
            )
        return self._resource_values[key]

    def evaluate(self, raw: Any, where: str | None = None) -> Any:
        """Evaluate a value; with `where` ("file:line: what"), an error says where it is."""
        try:
            return evaluate(raw, self.resolve)
        except (Unresolved, HclSyntaxError, HclEvalError) as e:
            if where is None or getattr(e, "where", None):
                raise
            raise located(e, where) from e
        except (ArithmeticError, LookupError, TypeError, ValueError) as e:
            # A function or operator on the wrong kind of value: Terraform refuses it too.
            error = HclEvalError(f"{type(e).__name__}: {e}")
            raise (located(error, where) if where else error) from e


def _walk(value: Any, rest: list[str], path: list[str]) -> Any:
    for part in rest:
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise Unresolved(f"{'.'.join(path)}: no element {part!r}") from e
    return value


def _blocks(body: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name) or []
    return value if isinstance(value, list) else [value]


def _table(stack: _Stack, key: str, body: dict[str, Any]) -> Table:
    def text(raw: Any) -> str:
        return str(stack.evaluate(raw))

    def optional(raw: Any) -> str | None:
        return None if raw is None else text(raw)

    where = f"aws_dynamodb_table.{key}"
    try:
        name = text(body["name"])
        hash_key = text(body["hash_key"])
    except KeyError as e:
        raise TerraformError(f"{where} has no {e.args[0]}") from e
    except Unresolved as e:
        raise TerraformError(f"{where}: cannot work out its name: {e}") from e
    attributes = {text(a["name"]): text(a["type"]) for a in _blocks(body, "attribute")}
    gsis = tuple(
        Index(
            name=text(g["name"]),
            hash_key=text(g["hash_key"]),
            range_key=optional(g.get("range_key")),
            projection_type=text(g.get("projection_type", '"ALL"')),
            non_key_attributes=tuple(stack.evaluate(g.get("non_key_attributes", []))),
        )
        for g in _blocks(body, "global_secondary_index")
    )
    lsis = tuple(
        Index(
            name=text(li["name"]),
            hash_key=hash_key,
            range_key=text(li["range_key"]),
            projection_type=text(li.get("projection_type", '"ALL"')),
            non_key_attributes=tuple(stack.evaluate(li.get("non_key_attributes", []))),
        )
        for li in _blocks(body, "local_secondary_index")
    )
    stream_enabled = bool(stack.evaluate(body.get("stream_enabled", False)))
    ttl_attribute = None
    for ttl in _blocks(body, "ttl"):
        if bool(stack.evaluate(ttl.get("enabled", True))):
            ttl_attribute = text(ttl["attribute_name"])
    billing_mode = text(body.get("billing_mode", '"PROVISIONED"'))
    return Table(
        key=key,
        name=name,
        hash_key=hash_key,
        range_key=optional(body.get("range_key")),
        attributes=attributes,
        global_indexes=gsis,
        local_indexes=lsis,
        stream_view_type=text(body["stream_view_type"]) if stream_enabled else None,
        ttl_attribute=ttl_attribute,
        billing_mode=billing_mode,
    )


def _local(stack: _Stack, name: str, default: Any = None) -> Any:
    if name not in stack.locals_raw:
        return default
    try:
        return stack.local(name)
    except (Unresolved, HclSyntaxError, HclEvalError) as e:
        raise TerraformError(str(e)) from e  # it names the file, the line and the local


def _stream_table(stack: _Stack) -> str | None:
    """Which table's stream the mapping reads: the `aws_lambda_event_source_mapping` resource
    names it (`aws_dynamodb_table.X.stream_arn`); without one, the only table with a stream."""
    for body in stack.resources.get("aws_lambda_event_source_mapping", {}).values():
        source = str(body.get("event_source_arn", ""))
        if "aws_dynamodb_table." in source:
            return source.split("aws_dynamodb_table.", 1)[1].split(".", 1)[0]
    return None


def _on_failure_queue(stack: _Stack) -> str | None:
    """The name of the aws_sqs_queue that the stream mapping's on_failure destination names."""
    for body in stack.resources.get("aws_lambda_event_source_mapping", {}).values():
        if "aws_dynamodb_table." not in str(body.get("event_source_arn", "")):
            continue
        for config in body.get("destination_config") or []:
            for on_failure in config.get("on_failure") or []:
                arn = str(on_failure.get("destination_arn", ""))
                match = re.search(r"aws_sqs_queue\.([A-Za-z0-9_-]+)\.arn", arn)
                queue = (
                    stack.resources.get("aws_sqs_queue", {}).get(match.group(1)) if match else None
                )
                if queue is None:
                    raise TerraformError(
                        f"the stream mapping's on_failure destination {arn!r} is not an "
                        "aws_sqs_queue of this stack"
                    )
                return str(stack.evaluate(queue["name"]))
    return None


def _authorizer(stack: _Stack, function: str | None) -> Authorizer | None:
    if not function:
        return None
    sources: list[str] = []
    for body in stack.resources.get("aws_apigatewayv2_authorizer", {}).values():
        raw = body.get("identity_sources")
        if raw is None:
            continue
        try:
            sources.extend(str(s) for s in stack.evaluate(raw))
        except (Unresolved, HclSyntaxError):
            continue
    return Authorizer(function=function, identity_sources=tuple(sources))


def _functions(stack: _Stack) -> dict[str, Function]:
    functions_raw = _local(stack, "lambda_functions")
    if not isinstance(functions_raw, Mapping) or not functions_raw:
        raise TerraformError(f"local.lambda_functions is missing or empty in {stack.directory}")
    functions: dict[str, Function] = {}
    for key, spec in functions_raw.items():
        handler = spec.get("handler") if isinstance(spec, Mapping) else None
        if not isinstance(handler, str) or "." not in handler:
            raise TerraformError(f"local.lambda_functions.{key}.handler must be module.function")
        functions[key] = Function(
            key=key,
            handler=handler,
            memory_size=int(spec.get("memory_size", 128)),
            timeout=int(spec.get("timeout", 3)),
        )
    return functions


def _known(functions: Mapping[str, Function], function: Any, where: str) -> str:
    if function not in functions:
        raise TerraformError(f"{where} names function {function!r}, not in lambda_functions")
    return str(function)


def _routes(stack: _Stack, functions: Mapping[str, Function]) -> dict[str, Route]:
    """local.websocket_routes, read as terraform/websocket_api.tf deploys it: a route is
    two-way when it is in local.websocket_replies (its aws_apigatewayv2_route_response), and
    its function must be in local.websocket_functions (the integrations)."""
    specs = _local(stack, "websocket_routes", {}) or {}
    replies = _local(stack, "websocket_replies")
    integrated = _local(stack, "websocket_functions")
    for function in integrated or ():
        _known(functions, function, "local.websocket_functions")
    routes: dict[str, Route] = {}
    for key, spec in specs.items():
        where = f"local.websocket_routes[{key!r}]"
        function = _known(functions, spec.get("function"), where)
        if integrated is not None and function not in integrated:
            raise TerraformError(
                f"{where}: function {function!r} has no integration "
                f"(it is not in local.websocket_functions, {stack.local_where['websocket_functions']})"
            )
        reply = key in replies if isinstance(replies, Mapping) else spec.get("reply", False)
        routes[key] = Route(
            key=key,
            function=function,
            authorizer=bool(spec.get("authorizer", False)),
            reply=bool(reply),
        )
    return routes


def _stream(
    stack: _Stack, functions: Mapping[str, Function], tables: Mapping[str, Table]
) -> StreamMapping | None:
    mapping = _local(stack, "stream_mapping")
    if not isinstance(mapping, Mapping):
        return None
    table_key = _stream_table(stack)
    if table_key is None:
        streamed = [t.key for t in tables.values() if t.stream_view_type]
        if len(streamed) != 1:
            raise TerraformError(
                "local.stream_mapping: cannot tell which table's stream feeds it "
                f"(tables with streams: {streamed})"
            )
        table_key = streamed[0]
    patterns = [
        json.loads(p) if isinstance(p, str) else p for p in mapping.get("filter_patterns") or []
    ]
    return StreamMapping(
        function=_known(functions, mapping.get("function"), "local.stream_mapping"),
        table=table_key,
        batch_size=int(mapping.get("batch_size", 100)),
        maximum_batching_window_in_seconds=float(
            mapping.get("maximum_batching_window_in_seconds", 0)
        ),
        maximum_retry_attempts=int(mapping.get("maximum_retry_attempts", -1)),
        maximum_record_age_in_seconds=int(mapping.get("maximum_record_age_in_seconds", -1)),
        bisect_batch_on_function_error=bool(mapping.get("bisect_batch_on_function_error", False)),
        filter_patterns=tuple(patterns),
        on_failure_queue=_on_failure_queue(stack),
    )


_QUEUE_URL = re.compile(r'aws_sqs_queue\.job\[\\?"([A-Za-z0-9_-]+)\\?"\]\.url')


def _queues(stack: _Stack, functions: Mapping[str, Function]) -> dict[str, QueueMapping]:
    specs = _local(stack, "queue_mappings", {}) or {}
    env_raw = stack.locals_raw.get("lambda_environment", {})
    url_variables: dict[str, list[str]] = {}
    for name, raw in (env_raw if isinstance(env_raw, Mapping) else {}).items():
        match = _QUEUE_URL.search(str(raw))
        if match:
            url_variables.setdefault(match.group(1), []).append(unquote_key(name))
    prefix = str(_local(stack, "name", "chat"))
    queues: dict[str, QueueMapping] = {}
    for key, spec in specs.items():
        where = f"local.queue_mappings[{key!r}]"
        fifo = bool(spec.get("fifo", False))
        queues[key] = QueueMapping(
            key=key,
            # as terraform/queues.tf names it (the DLQ: -dlq before the .fifo)
            name=f"{prefix}-{key.replace('_', '-')}",
            function=_known(functions, spec.get("function"), where),
            batch_size=int(spec.get("batch_size", 10)),
            visibility_timeout_seconds=int(spec.get("visibility_timeout_seconds", 30)),
            max_receive_count=int(spec.get("max_receive_count", 5)),
            url_variables=tuple(url_variables.get(key, ())),
            fifo=fifo,
        )
    return queues


def _environment(stack: _Stack) -> tuple[dict[str, str], dict[str, str]]:
    """Each variable on its own: one that only `apply` can know does not hide the others."""
    environment: dict[str, str] = {}
    unresolved: dict[str, str] = {}
    env_raw = stack.locals_raw.get("lambda_environment", {})
    if isinstance(env_raw, str):
        env_raw = _local(stack, "lambda_environment", {})
    where = stack.local_where.get("lambda_environment", str(stack.directory))
    for name, raw in (env_raw or {}).items():
        key = unquote_key(name)
        try:
            value = stack.evaluate(raw, f"{where}: local.lambda_environment.{key}")
            environment[key] = _env_string(value)
        except (Unresolved, HclSyntaxError, TerraformError) as e:
            unresolved[key] = str(e)  # only apply knows it, or the evaluator cannot read it
        except HclEvalError as e:
            raise TerraformError(str(e)) from e  # Terraform would refuse it too
    return environment, unresolved


def _counted(stack: _Stack, rtype: str) -> tuple[str, dict[str, Any]] | None:
    """The one resource of a type that exists (`count` absent or 1), or None."""
    for rname, body in stack.resources.get(rtype, {}).items():
        count = stack.evaluate(body["count"]) if "count" in body else 1
        if int(count) > 1:
            raise TerraformError(f"{rtype}.{rname}: the local cloud serves one, count is {count}")
        if int(count) == 1:
            return rname, body
    return None


def _user_pool(stack: _Stack) -> UserPool | None:
    found = _counted(stack, "aws_cognito_user_pool")
    if found is None:
        return None
    rname, pool = found
    client = _counted(stack, "aws_cognito_user_pool_client")
    if client is None:
        raise TerraformError(f"aws_cognito_user_pool.{rname} has no aws_cognito_user_pool_client")
    app = client[1]
    try:
        policy = {
            k: stack.evaluate(v)
            for block in _blocks(pool, "password_policy")
            for k, v in block.items()
        }
        case_sensitive = all(
            bool(stack.evaluate(b.get("case_sensitive", True)))
            for b in _blocks(pool, "username_configuration")
        )
        return UserPool(
            name=str(stack.evaluate(pool["name"])),
            password_policy=policy,
            case_sensitive=case_sensitive,
            mfa=str(stack.evaluate(pool.get("mfa_configuration", '"OFF"'))),
            client_name=str(stack.evaluate(app["name"])),
            explicit_auth_flows=tuple(stack.evaluate(app.get("explicit_auth_flows", []))),
            read_attributes=tuple(stack.evaluate(app.get("read_attributes", []))),
            write_attributes=tuple(stack.evaluate(app.get("write_attributes", []))),
        )
    except (Unresolved, HclSyntaxError, HclEvalError, KeyError) as e:
        raise TerraformError(f"aws_cognito_user_pool.{rname}: {e}") from e


def _site_csp(stack: _Stack) -> dict[str, tuple[str, ...]]:
    value = _local(stack, "site_csp", {}) or {}
    where = stack.local_where.get("site_csp", str(stack.directory))
    if not isinstance(value, Mapping) or not all(
        isinstance(sources, list) and all(isinstance(s, str) for s in sources)
        for sources in value.values()
    ):
        raise TerraformError(
            f"{where}: local.site_csp must map each directive to a list of sources"
        )
    return {unquote_key(str(directive)): tuple(sources) for directive, sources in value.items()}


_BUCKET_REFERENCE = re.compile(r"aws_s3_bucket\.([A-Za-z0-9_-]+)\.")


def _media_cors_rules(stack: _Stack, site_origins: list[str]) -> tuple[CorsRule, ...]:
    raw = stack.locals_raw.get("lambda_environment", {})
    reference = _BUCKET_REFERENCE.search(str(raw.get("MEDIA_BUCKET", "")))
    if reference is None:
        return ()
    bucket = reference.group(1)
    configurations = [
        (rname, body)
        for rname, body in stack.resources.get("aws_s3_bucket_cors_configuration", {}).items()
        if (match := _BUCKET_REFERENCE.search(str(body.get("bucket", ""))))
        and match.group(1) == bucket
    ]
    if not configurations:
        return ()  # no CORS configuration: S3 refuses every preflight
    rname, body = configurations[0]
    where = stack.resource_where.get(("aws_s3_bucket_cors_configuration", rname), "")
    if stack.variables.get(MEDIA_CORS_ORIGIN_VARIABLE):
        stacks = [stack]
    else:
        stacks = [stack.with_variables({MEDIA_CORS_ORIGIN_VARIABLE: o}) for o in site_origins]
    merged: list[CorsRule] = []
    for each in stacks:
        for index, block in enumerate(_blocks(body, "cors_rule")):
            try:
                rule = CorsRule(
                    allowed_methods=tuple(each.evaluate(block["allowed_methods"])),
                    allowed_origins=tuple(each.evaluate(block["allowed_origins"])),
                    allowed_headers=tuple(each.evaluate(block.get("allowed_headers", []))),
                    expose_headers=tuple(each.evaluate(block.get("expose_headers", []))),
                    max_age_seconds=(
                        int(each.evaluate(block["max_age_seconds"]))
                        if "max_age_seconds" in block
                        else None
                    ),
                )
            except (Unresolved, HclSyntaxError, HclEvalError, KeyError) as e:
                raise TerraformError(
                    f"{where}: aws_s3_bucket_cors_configuration.{rname} cors_rule {index}: {e}"
                ) from e
            if index == len(merged):
                merged.append(rule)
            else:
                origins = dict.fromkeys(merged[index].allowed_origins + rule.allowed_origins)
                merged[index] = replace(rule, allowed_origins=tuple(origins))
    return tuple(merged)


def load(directory: Path, variables: Mapping[str, Any] | None = None) -> Topology:
    started = time.perf_counter()
    directory = directory.resolve()
    stack = _Stack(directory, variables or {})
    tables = {
        key: _table(stack, key, body)
        for key, body in stack.resources.get("aws_dynamodb_table", {}).items()
    }
    functions = _functions(stack)
    rest_function = _local(stack, "rest_api_function")
    if rest_function is not None:
        _known(functions, rest_function, "local.rest_api_function")
    authorizer_function = _local(stack, "websocket_authorizer_function")
    if authorizer_function is not None:
        _known(functions, authorizer_function, "local.websocket_authorizer_function")
    environment, unresolved = _environment(stack)
    return Topology(
        directory=directory,
        functions=functions,
        routes=_routes(stack, functions),
        rest_function=str(rest_function) if rest_function is not None else None,
        authorizer=_authorizer(stack, authorizer_function),
        stream=_stream(stack, functions, tables),
        queues=_queues(stack, functions),
        environment=environment,
        unresolved_environment=unresolved,
        tables=tables,
        stage=str(stack.variables.get("stage_name", "local")),
        variables=dict(stack.variables),
        user_pool=_user_pool(stack),
        site_csp=_site_csp(stack),
        site_referrer_policy=_local(stack, "site_referrer_policy"),
        stack=stack,
        parse_seconds=time.perf_counter() - started,
    )


def _env_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
