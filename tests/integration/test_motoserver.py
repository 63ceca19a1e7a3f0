"""localcloud.motoserver: the one way tests, benchmarks and the local cloud start moto."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

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


def test_concurrent_updates_of_one_item_are_each_applied_whole() -> None:
    """As DynamoDB: 16 threads adding to one item's set at once lose nothing (moto's threads
    alone interleave the read-change-write of one item)."""
    with moto_server() as endpoint:
        client, _ = clients(endpoint)
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def add(n: int) -> None:
            client.update_item(
                TableName="t",
                Key={"pk": {"S": "one"}},
                UpdateExpression="ADD entries :e SET #n = :n",
                ExpressionAttributeNames={"#n": f"field{n}"},
                ExpressionAttributeValues={":e": {"SS": [str(n)]}, ":n": {"N": str(n)}},
            )

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(add, range(400)))
        item = client.get_item(TableName="t", Key={"pk": {"S": "one"}})["Item"]
        assert sorted(item["entries"]["SS"], key=int) == [str(n) for n in range(400)]
        assert sum(1 for name in item if name.startswith("field")) == 400
