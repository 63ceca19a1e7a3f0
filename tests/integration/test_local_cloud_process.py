"""The local cloud as a program: what it serves at /, its config.js, start-up and Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from localcloud.testing import RunningLocalCloud, running_local_cloud
from tests.integration.chat_client import Api, Socket, unique
from tests.integration.conftest import TERRAFORM_DIR, run

pytestmark = pytest.mark.integration


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def test_config_js_points_the_browser_client_at_this_cloud(cloud: RunningLocalCloud) -> None:
    status, content_type, body = run(get(f"{cloud.base_url}/config.js"))
    host = cloud.base_url.removeprefix("http://")
    assert status == 200 and content_type.startswith("text/javascript")
    assert body == (
        f'window.CHAT_CONFIG = {{"restUrl": "http://{host}/api", "wsUrl": "ws://{host}/ws"}};\n'
    )


async def get_with_host(url: str, host: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Host": host}) as response,
    ):
        return response.status, await response.text()


@pytest.mark.parametrize(
    "host",
    [
        'evil.example"};alert(1);//',
        "evil.example</script><script>alert(1)</script>",
        "evil.example/<!--",
        "evil example",
    ],
)
def test_a_hostile_host_header_is_refused_not_copied_into_config_js(
    cloud: RunningLocalCloud, host: str
) -> None:
    status, body = run(get_with_host(f"{cloud.base_url}/config.js", host))
    assert status == 400
    assert "invalid Host header" in body
    assert "<script>" not in body and "alert(1);" not in body


@pytest.mark.parametrize("host", ["localhost:8080", "chat.example", "[::1]:9000", "10.0.0.2"])
def test_config_js_accepts_plain_host_and_port(cloud: RunningLocalCloud, host: str) -> None:
    status, body = run(get_with_host(f"{cloud.base_url}/config.js", host))
    assert status == 200
    assert f'"restUrl": "http://{host}/api"' in body


async def headers_of(url: str, host: str | None = None) -> tuple[int, dict[str, str]]:
    extra = {"Host": host} if host else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=extra) as response:
        return response.status, dict(response.headers)


@pytest.mark.parametrize("path", ["/", "/js/main.js", "/config.js"])
def test_the_site_carries_the_terraform_csp_naming_this_cloud_only(
    cloud: RunningLocalCloud, path: str
) -> None:
    """What CloudFront's response headers policy sends (terraform/frontend.tf, local.site_csp),
    with this cloud's REST and media origin (one, http) and WebSocket origin in connect-src."""
    status, headers = run(headers_of(cloud.base_url + path))
    host = cloud.base_url.removeprefix("http://")
    assert status == 200
    assert headers["Content-Security-Policy"] == (
        "base-uri 'none'; "
        f"connect-src 'self' http://{host} ws://{host}; "
        "default-src 'self'; form-action 'none'; frame-ancestors 'none'; "
        "img-src 'self' blob:; object-src 'none'; script-src 'self'; style-src 'self'"
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in headers  # plain http: browsers ignore it


def test_the_csp_names_the_host_the_browser_used_and_refuses_a_hostile_one(
    cloud: RunningLocalCloud,
) -> None:
    _, headers = run(headers_of(f"{cloud.base_url}/", host="chat.example:8080"))
    assert (
        "connect-src 'self' http://chat.example:8080 ws://chat.example:8080;"
        in (headers["Content-Security-Policy"])
    )
    status, _ = run(headers_of(f"{cloud.base_url}/", host="evil.example; script-src *"))
    assert status == 400


def test_every_api_path_reaches_the_rest_function_even_with_a_newline_in_it(
    cloud: RunningLocalCloud,
) -> None:
    """API Gateway's {proxy+} takes any path; a route pattern stopping at a newline answered
    the gateway's own text/plain 404 (found by the REST fuzz)."""
    url = URL(f"{cloud.rest_url}/rooms/%0A%3C/uploads/x", encoded=True)

    async def call() -> tuple[int, str, str]:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status, response.headers["Content-Type"], await response.text()

    status, content_type, body = run(call())
    assert status == 401 and content_type.startswith("application/json"), (status, body)
    assert '"unauthorized"' in body


def test_the_root_serves_a_page_even_before_the_frontend_exists(cloud: RunningLocalCloud) -> None:
    status, content_type, body = run(get(f"{cloud.base_url}/"))
    assert status == 200 and content_type.startswith("text/html")
    assert "<" in body


def test_the_frontend_directory_is_served_at_the_root(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>chat</title>")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("export const x = 1;")
    with running_local_cloud(terraform_dir=TERRAFORM_DIR, frontend_dir=tmp_path) as cloud:
        status, content_type, body = run(get(f"{cloud.base_url}/"))
        assert (status, body) == (200, "<!doctype html><title>chat</title>")
        assert content_type.startswith("text/html")
        status, content_type, body = run(get(f"{cloud.base_url}/js/app.js"))
        assert status == 200 and content_type.startswith("text/javascript")
        assert run(get(f"{cloud.base_url}/../conftest.py"))[0] == 404
        assert run(get(f"{cloud.base_url}/missing.js"))[0] == 404
        # Start-up is measured and reported by the process itself.
        assert 0 < cloud.startup_seconds < 10


def test_ctrl_c_closes_connections_and_stops_the_process() -> None:
    with running_local_cloud(terraform_dir=TERRAFORM_DIR) as cloud:

        async def scenario() -> int | None:
            async with aiohttp.ClientSession() as session:
                api = Api(session, cloud.rest_url)
                name, token = await api.account(unique("stop"))
                socket = await Socket.open(api, token, name, cloud.ws_url)
                cloud.process.send_signal(signal.SIGINT)
                return await socket.closed(timeout=10)

        assert run(scenario()) == 1001
        started = time.monotonic()
        assert cloud.process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        logs = cloud.logs()
        assert "stopping (signal received)" in logs
        assert "stopped in" in logs
        assert "$disconnect" in logs


def test_many_requests_in_parallel_are_all_answered(cloud: RunningLocalCloud) -> None:
    async def scenario() -> list[int]:
        async with aiohttp.ClientSession() as session:
            api = Api(session, cloud.rest_url)
            _, token = await api.account()
            results = await asyncio.gather(
                *(api.call("GET", "/me", token=token) for _ in range(100))
            )
            return [status for status, _ in results]

    assert run(scenario()) == [200] * 100
