"""localcloud.motoserver: the one way tests, benchmarks and the local cloud start moto."""

from __future__ import annotations

import socket

import pytest

from localcloud.aws import clients
from localcloud.motoserver import MotoServer, MotoServerError, free_port, moto_server

pytestmark = pytest.mark.integration


def test_moto_server_serves_aws_apis_and_stops_with_the_block() -> None:
    with moto_server() as endpoint:
        client, _ = clients(endpoint)
        assert client.list_tables()["TableNames"] == []
        server_port = int(endpoint.rsplit(":", 1)[1])
    # The port is free again once the block is left.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", server_port))


def test_a_server_that_does_not_answer_in_time_is_stopped_with_a_clear_error() -> None:
    with pytest.raises(MotoServerError, match="did not start on http://127.0.0.1:"):
        MotoServer(timeout=0)


def test_free_port_gives_a_bindable_port() -> None:

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
