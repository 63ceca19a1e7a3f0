"""The local cloud: one asyncio process serving the browser client, the REST API, the
WebSocket API, the Management API and the stream poller, over an embedded moto server."""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import os
import re
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError

from localcloud import aws, events, faults, terraform
from localcloud.faults import Faults
from localcloud.functions import Invoker, load_functions
from localcloud.queues import QueuePoller, QueueState, ensure_queues
from localcloud.rest import RestGateway
from localcloud.s3proxy import S3Gateway
from localcloud.streams import StreamPoller
from localcloud.websocket import WebSocketGateway

log = logging.getLogger("localcloud")

REPO = Path(__file__).resolve().parents[2]

# Environment values Terraform can only know after `apply`; the local cloud provides its own.
LOCAL_OVERRIDES = ("WS_MANAGEMENT_ENDPOINT", "JWT_SECRET_PARAMETER", "JWT_SECRET")
LOCAL_MEDIA_BUCKET = "chat-local-media"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
}

PLACEHOLDER = """<!doctype html>
<meta charset="utf-8"><title>Local cloud</title>
<h1>The local cloud is running</h1>
<p>There is no <code>frontend/index.html</code> yet. The APIs are up:</p>
<ul><li>REST: <code>{rest}</code></li><li>WebSocket: <code>{ws}</code></li>
<li><a href="/config.js">/config.js</a></li></ul>
"""


# host[:port]: a DNS name or IPv4 address, or a bracketed IPv6 address.
HOST_PATTERN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)


def _script_json(value: object) -> str:
    """JSON that is safe inside a <script> element (no `</script>`, no `<!--`)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8000
    terraform_dir: Path = REPO / "terraform"
    frontend_dir: Path = REPO / "frontend"
    aws_endpoint: str | None = None
    python_path: list[Path] = field(default_factory=lambda: [REPO / "lambda"])
    variables: dict[str, Any] = field(default_factory=dict)
    lambda_env: dict[str, str] = field(default_factory=dict)
    idle_timeout: float = 600.0
    max_lifetime: float = 7200.0
    workers: int = 32
    per_function_concurrency: int = 8
    stream_poll_interval: float = 0.1
    ready_file: Path | None = None
    faults: bool = False  # tests only: the fault injection endpoint (localcloud/faults.py)


class LocalCloud:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.api_id = events.api_id()
        self.port = options.port
        self.stage = "local"
        self.domain_name = f"{options.host}:{options.port}"
        self.tasks: list[asyncio.Task[Any]] = []
        self.poller: StreamPoller | None = None
        self.queues: dict[str, QueueState] = {}
        self.queue_pollers: list[QueuePoller] = []
        self.backend: aws.Backend | None = None
        self.s3: S3Gateway | None = None
        self.runner: web.AppRunner | None = None
        self.invoker: Invoker
        self.topology: terraform.Topology
        self.startup_seconds = 0.0
        self.faults: Faults | None = Faults() if options.faults else None

    # -- start-up -------------------------------------------------------------------------------

    async def start(self) -> None:
        started = time.perf_counter()
        options = self.options
        self.topology = terraform.load(options.terraform_dir, options.variables)
        self.stage = self.topology.stage
        log.info(
            "terraform: %s read in %.2fs: %d functions, %d routes, %d tables, stream -> %s",
            self.topology.directory,
            self.topology.parse_seconds,
            len(self.topology.functions),
            len(self.topology.routes),
            len(self.topology.tables),
            self.topology.stream.function if self.topology.stream else None,
        )
        # Bind first: the handlers need the Management API's URL in their environment
        # before they are imported. Connections wait in the backlog until we serve.
        sock = socket.socket(socket.AF_INET6 if ":" in options.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((options.host, options.port))
        except OSError as e:
            sock.close()
            raise RuntimeError(
                f"cannot listen on {options.host}:{options.port}: {e.strerror}; "
                "is another local cloud running? (--port picks another port)"
            ) from e
        sock.listen(512)
        sock.setblocking(False)
        self.port = int(sock.getsockname()[1])
        self.domain_name = f"{self.public_host}:{self.port}"

        loop = asyncio.get_running_loop()
        self.backend = await loop.run_in_executor(
            None, aws.backend_for, options.aws_endpoint, "127.0.0.1"
        )
        aws.apply_environment(self.backend.endpoint)
        dynamodb, streams_client = aws.clients(self.backend.endpoint)
        try:
            table_states = await loop.run_in_executor(
                None, aws.ensure_tables, dynamodb, list(self.topology.tables.values())
            )
        except (BotoCoreError, ClientError) as e:
            raise RuntimeError(
                f"cannot create the tables at {self.backend.endpoint}: {e}"
                + ("" if self.backend.embedded else " (is the endpoint running?)")
            ) from e
        log.info(
            "dynamodb: %s at %s; tables %s",
            "embedded moto" if self.backend.embedded else "external endpoint",
            self.backend.endpoint,
            ", ".join(
                f"{s.table.name}{'' if s.created else ' (existing)'}" for s in table_states.values()
            ),
        )

        if self.topology.queues:
            sqs = aws.sqs_client(self.backend.endpoint)
            self.queues = await loop.run_in_executor(None, ensure_queues, sqs, self.topology.queues)
            log.info(
                "sqs: %s",
                ", ".join(
                    f"{q.mapping.name} -> {q.mapping.function}" for q in self.queues.values()
                ),
            )

        cognito_environment: dict[str, str] = {}
        media_environment = await loop.run_in_executor(None, self._media_bucket)
        if self.topology.user_pool is not None:
            user_pool = self.topology.user_pool
            try:
                pool = await loop.run_in_executor(
                    None,
                    aws.ensure_user_pool,
                    aws.cognito_client(self.backend.endpoint),
                    user_pool,
                )
            except (BotoCoreError, ClientError) as e:
                raise RuntimeError(
                    f"cannot create the Cognito user pool at {self.backend.endpoint}: {e}"
                ) from e
            cognito_environment = pool.lambda_environment(self.backend.endpoint)
            log.info(
                "cognito: user pool %s (%s), app client %s%s",
                user_pool.name,
                pool.pool_id,
                pool.client_id,
                "" if pool.created else " (existing)",
            )

        self._apply_lambda_environment({**cognito_environment, **media_environment})
        self._install_faults()  # before the handlers create their clients
        for path in reversed(options.python_path):
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))
        functions = load_functions(self.topology.functions)
        self.invoker = Invoker(functions, options.workers, options.per_function_concurrency)

        self.rest = RestGateway(self)
        self.websocket = WebSocketGateway(self)
        app = web.Application(client_max_size=11 * 1024 * 1024)
        app.router.add_route("*", "/api", self.rest.handle)
        app.router.add_route("*", r"/api/{tail:[\s\S]*}", self.rest.handle)
        app.router.add_get("/ws", self.websocket.handle)
        app.router.add_route("*", "/@connections/{connection_id}", self.websocket.management)
        app.router.add_route(
            "*", "/{stage}/@connections/{connection_id}", self.websocket.management
        )
        self._add_s3_routes(app)
        app.router.add_route("*", "/_localcloud/faults", faults.control(self.faults))
        app.router.add_get("/config.js", self.config_js)
        app.router.add_get("/{path:.*}", self.static)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.SockSite(self.runner, sock).start()

        stream = self.topology.stream
        if stream is not None and stream.table is not None:
            state = table_states[stream.table]
            if state.stream_arn is None:
                raise RuntimeError(f"table {state.table.name} has no stream")
            on_failure = await self._on_failure_destination(stream.on_failure_queue)
            self.poller = StreamPoller(
                stream,
                state.stream_arn,
                start_at_trim_horizon=state.created,
                streams_client=streams_client,
                invoker=self.invoker,
                idle_poll_seconds=options.stream_poll_interval,
                on_failure=on_failure,
                faults=self.faults,
            )
            poller, streamed_function = self.poller, stream.function
            self.invoker.after_invoke.append(
                lambda key: poller.nudge() if key != streamed_function else None
            )
            self.tasks.append(asyncio.create_task(self._supervise(poller.run(), "stream poller")))
        for queue in self.queues.values():
            queue_poller = QueuePoller(queue, aws.sqs_client(self.backend.endpoint), self.invoker)
            self.queue_pollers.append(queue_poller)
            self.tasks.append(
                asyncio.create_task(
                    self._supervise(queue_poller.run(), f"queue poller {queue.mapping.name}")
                )
            )
        self.tasks.append(
            asyncio.create_task(self.websocket.reap(options.idle_timeout, options.max_lifetime))
        )
        self.startup_seconds = time.perf_counter() - started
        log.info(
            "ready in %.2fs: http://%s/ (REST %s, WebSocket %s)",
            self.startup_seconds,
            self.domain_name,
            self.rest_url,
            self.ws_url,
        )
        if options.ready_file is not None:
            self._write_ready_file(options.ready_file)

    def _install_faults(self) -> None:
        if self.faults is not None:
            self.faults.install_dynamodb_hook()
            log.warning("fault injection is ON: /_localcloud/faults (tests only)")

    async def _on_failure_destination(self, queue: str | None) -> tuple[Any, str] | None:
        """(SQS client, URL) of the stream mapping's on-failure queue, created if missing."""
        if queue is None or self.backend is None:
            return None
        sqs = aws.sqs_client(self.backend.endpoint)
        loop = asyncio.get_running_loop()
        url = await loop.run_in_executor(
            None, lambda: sqs.create_queue(QueueName=queue)["QueueUrl"]
        )
        log.info("stream on-failure destination: sqs %s", queue)
        return sqs, url

    async def _supervise(self, coroutine: Any, name: str) -> None:
        try:
            await coroutine
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped", name)

    @property
    def public_host(self) -> str:
        host = self.options.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    @property
    def base_url(self) -> str:
        return f"http://{self.domain_name}"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.domain_name}/ws"

    @property
    def management_url(self) -> str:
        return f"{self.base_url}/{self.stage}"

    def _add_s3_routes(self, app: web.Application) -> None:
        if self.s3 is not None:
            app.router.add_post("/s3/{bucket}", self.s3.post)
            app.router.add_route("OPTIONS", "/s3/{bucket}", self.s3.preflight)
            app.router.add_route("OPTIONS", "/s3/{bucket}/{key:.+}", self.s3.preflight)
            for method in ("GET", "HEAD"):
                app.router.add_route(method, "/s3/{bucket}/{key:.+}", self.s3.forward)

    def _media_bucket(self) -> dict[str, str]:
        """The media bucket, when the stack has one (terraform/media.tf): made in the emulator,
        which the browser reaches on loopback, with the CORS rules media.tf declares for this
        origin; the presigned URLs the handlers make point at it (MEDIA_ENDPOINT_URL)."""
        declared = self.topology.environment.keys() | self.topology.unresolved_environment.keys()
        if "MEDIA_BUCKET" not in declared or self.backend is None:
            return {}
        # The page may be loaded from any of these (config.js follows the Host it was asked on).
        origins = [f"http://{self.domain_name}"]
        origins += [f"http://{h}:{self.port}" for h in ("127.0.0.1", "localhost")]
        cors = self.topology.media_cors_rules(list(dict.fromkeys(origins)))
        aws.ensure_media_bucket(aws.s3_client(self.backend.endpoint), LOCAL_MEDIA_BUCKET, cors)
        # The browser's S3 is this origin's /s3: it checks POST policies and answers CORS as S3
        # does, which moto does not.
        self.s3 = S3Gateway(self.backend.endpoint, {LOCAL_MEDIA_BUCKET: cors})
        public = f"http://{self.domain_name}/s3"
        log.info(
            "s3: media bucket %s at %s, for browsers %s",
            LOCAL_MEDIA_BUCKET,
            self.backend.endpoint,
            public,
        )
        return {"MEDIA_BUCKET": LOCAL_MEDIA_BUCKET, "MEDIA_ENDPOINT_URL": public}

    def _apply_lambda_environment(self, provided: dict[str, str]) -> None:
        topology = self.topology
        environment = dict(topology.environment)
        environment.update(provided)  # what the local cloud made itself (the Cognito pool)
        environment.pop("JWT_SECRET_PARAMETER", None)
        environment["JWT_SECRET"] = os.environ.get("CHAT_JWT_SECRET") or secrets.token_urlsafe(32)
        environment["WS_MANAGEMENT_ENDPOINT"] = self.management_url
        for state in self.queues.values():
            for name in state.mapping.url_variables:
                environment[name] = state.url
        environment.update(self.options.lambda_env)
        missing = [
            name
            for name in topology.unresolved_environment
            if name not in environment and name not in LOCAL_OVERRIDES
        ]
        for name in missing:
            log.warning(
                "lambda environment: %s left unset (%s); set it with --lambda-env %s=...",
                name,
                topology.unresolved_environment[name],
                name,
            )
        os.environ.update(environment)
        shown = {
            k: ("<random per process>" if k == "JWT_SECRET" else v)
            for k, v in sorted(environment.items())
        }
        log.info("lambda environment: %s", shown)

    def _write_ready_file(self, path: Path) -> None:
        info = {
            "pid": os.getpid(),
            "baseUrl": self.base_url,
            "restUrl": self.rest_url,
            "wsUrl": self.ws_url,
            "managementUrl": self.management_url,
            "awsEndpoint": self.backend.endpoint if self.backend else None,
            "tables": {k: t.name for k, t in self.topology.tables.items()},
            "stage": self.stage,
            "startupSeconds": round(self.startup_seconds, 3),
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(path)

    # -- static files and config.js -------------------------------------------------------------

    def _origin(self, request: web.Request) -> str:
        # The host the browser used, so the page and the APIs share one origin. It goes into
        # JavaScript and HTML, so anything but a plain host[:port] is refused.
        host = request.host or self.domain_name
        if not HOST_PATTERN.fullmatch(host):
            raise web.HTTPBadRequest(text="invalid Host header: expected host[:port]\n")
        return host

    def site_headers(self, host: str) -> dict[str, str]:
        """What CloudFront's response headers policy adds to every file of the site
        (terraform/frontend.tf), from the same Terraform locals, with this cloud's origins in
        connect-src: the REST API and the media S3 (http://host/api, /s3) and the WebSocket API
        (ws://host/ws). No HSTS: this is plain http, where browsers ignore it."""
        headers = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}
        if self.topology.site_csp:
            headers["Content-Security-Policy"] = self.topology.content_security_policy(
                [f"http://{host}", f"ws://{host}"]
            )
        if self.topology.site_referrer_policy:
            headers["Referrer-Policy"] = str(self.topology.site_referrer_policy)
        return headers

    async def config_js(self, request: web.Request) -> web.Response:
        host = self._origin(request)
        config = {"restUrl": f"http://{host}/api", "wsUrl": f"ws://{host}/ws"}
        body = f"window.CHAT_CONFIG = {_script_json(config)};\n"
        return web.Response(
            text=body,
            content_type="text/javascript",
            headers={"Cache-Control": "no-store", **self.site_headers(host)},
        )

    async def static(self, request: web.Request) -> web.StreamResponse:
        root = self.options.frontend_dir.resolve()
        relative = request.match_info["path"]
        target = (root / relative).resolve()
        if target != root and root not in target.parents:
            raise web.HTTPNotFound()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            if relative in ("", "index.html"):
                host = self._origin(request)
                return web.Response(
                    text=PLACEHOLDER.format(rest=f"http://{host}/api", ws=f"ws://{host}/ws"),
                    content_type="text/html",
                    headers=self.site_headers(host),
                )
            raise web.HTTPNotFound()
        content_type = CONTENT_TYPES.get(target.suffix) or (
            mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        headers = {"Content-Type": content_type, "Cache-Control": "no-cache"}
        return web.FileResponse(
            target, headers={**headers, **self.site_headers(self._origin(request))}
        )

    # -- shutdown -------------------------------------------------------------------------------

    async def stop(self) -> None:
        started = time.perf_counter()
        if hasattr(self, "websocket"):
            await self.websocket.close_all()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
        if self.s3 is not None:
            await self.s3.close()
        if self.poller is not None:
            self.poller.shutdown()
        for queue_poller in self.queue_pollers:
            queue_poller.shutdown()
        if hasattr(self, "invoker"):
            self.invoker.shutdown()
        if self.backend is not None:
            self.backend.stop()
        log.info("stopped in %.2fs", time.perf_counter() - started)
