"""The stream poller's Lambda semantics, in-process with a recording function: batch size,
filters, batchItemFailures (retry from the first failed record), bisection on errors, bounded
retries and the record shape. The end-to-end path is covered by the messaging tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from localcloud.functions import FunctionError
from localcloud.motoserver import ACCOUNT_ID, REGION
from localcloud.streams import StreamPoller, lambda_record, passes_filters
from localcloud.terraform import StreamMapping
from tests.events import load_event
from tests.integration.conftest import run

pytestmark = pytest.mark.integration

ARN = (
    f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/chat-dev-messages/stream/2026-11-24T00:00:00.000"
)


class RecordingInvoker:
    """Stands in for the Lambda runtime: records batches, answers from a script."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.batches: list[list[str]] = []

    async def invoke(self, key: str, event: dict[str, Any]) -> tuple[Any, str, float]:
        self.batches.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        answer = self.answers.pop(0) if self.answers else {"batchItemFailures": []}
        if isinstance(answer, Exception):
            raise FunctionError(key, str(answer), "req") from answer
        return answer, "req", 1.0


def raw_record(sequence: int, event_name: str = "INSERT") -> dict[str, Any]:
    """A record as boto3's dynamodbstreams client returns it."""
    return {
        "eventID": f"id{sequence}",
        "eventName": event_name,
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": dt.datetime.now(dt.UTC),
            "Keys": {"roomId": {"S": "r"}, "messageId": {"S": f"m{sequence}"}},
            "NewImage": {
                "roomId": {"S": "r"},
                "messageId": {"S": f"m{sequence}"},
                "b": {"B": b"\x01"},
            },
            "SequenceNumber": str(sequence),
            "SizeBytes": 10,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def poller(invoker: RecordingInvoker, **mapping: Any) -> StreamPoller:
    settings = {
        "function": "stream_processor",
        "table": "messages",
        "batch_size": 100,
        "maximum_retry_attempts": 5,
        "bisect_batch_on_function_error": True,
        "filter_patterns": ({"eventName": ["INSERT"]},),
        **mapping,
    }
    return StreamPoller(
        StreamMapping(**settings),
        ARN,
        start_at_trim_horizon=True,
        streams_client=None,
        invoker=invoker,  # type: ignore[arg-type]
        retry_backoff_seconds=0.001,
    )


def records(*sequences: int) -> list[dict[str, Any]]:
    return [lambda_record(raw_record(s), ARN) for s in sequences]


def test_records_have_the_shape_lambda_delivers() -> None:
    [record] = records(7)
    sample = load_event("dynamodb_stream_insert")["Records"][0]
    assert set(record) == set(sample)
    assert set(record["dynamodb"]) == set(sample["dynamodb"])
    assert record["eventVersion"] == "1.1"
    assert record["eventSourceARN"] == ARN
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["dynamodb"]["NewImage"]["b"] == {"B": "AQ=="}  # binary as base64


def test_filters_and_batch_size_are_honoured() -> None:
    invoker = RecordingInvoker([])
    stream = poller(invoker, batch_size=2)
    batch = records(1, 2, 3, 4, 5)
    batch[1]["eventName"] = "REMOVE"
    run(stream.process(batch))
    assert invoker.batches == [["1", "3"], ["4", "5"]]
    assert not passes_filters(({"eventName": ["INSERT"]},), {"eventName": "MODIFY"})
    assert passes_filters(({"dynamodb": {"Keys": {"roomId": {"S": [{"prefix": "r"}]}}}},), batch[0])


def test_batch_item_failures_retry_from_the_first_failed_record() -> None:
    invoker = RecordingInvoker(
        [{"batchItemFailures": [{"itemIdentifier": "4"}, {"itemIdentifier": "3"}]}]
    )
    run(poller(invoker).process(records(1, 2, 3, 4, 5)))
    assert invoker.batches == [["1", "2", "3", "4", "5"], ["3", "4", "5"]]


def test_an_unknown_item_identifier_retries_the_whole_batch() -> None:
    invoker = RecordingInvoker([{"batchItemFailures": [{"itemIdentifier": ""}]}])
    run(poller(invoker).process(records(1, 2)))
    assert invoker.batches == [["1", "2"], ["1", "2"]]


def test_function_errors_bisect_and_retries_are_bounded() -> None:
    failure = RuntimeError("down")
    invoker = RecordingInvoker([failure] * 20)
    stream = poller(invoker, maximum_retry_attempts=2)
    run(stream.process(records(1, 2, 3, 4)))
    assert invoker.batches[:3] == [["1", "2", "3", "4"], ["1", "2"], ["1"]]
    assert stream.dropped == 4  # each record dropped once, after the bounded retries


def test_the_poller_reads_moto_streams_end_to_end() -> None:
    """Against an embedded moto server: TRIM_HORIZON, then new records as they arrive."""
    from localcloud import aws
    from localcloud.terraform import Table

    async def scenario() -> list[list[str]]:
        backend = aws.EmbeddedMoto()
        try:
            dynamodb, streams = aws.clients(backend.endpoint)
            table = Table(
                "messages",
                "poller-test",
                "roomId",
                "messageId",
                {"roomId": "S", "messageId": "S"},
                stream_view_type="NEW_IMAGE",
            )
            state = aws.ensure_tables(dynamodb, [table])["messages"]
            for n in range(3):
                dynamodb.put_item(
                    TableName="poller-test",
                    Item={"roomId": {"S": "r"}, "messageId": {"S": f"m{n}"}},
                )
            invoker = RecordingInvoker([])
            stream = StreamPoller(
                StreamMapping("fn", "messages", batch_size=2),
                str(state.stream_arn),
                True,
                streams,
                invoker,
            )  # type: ignore[arg-type]
            task = asyncio.create_task(stream.run())
            for _ in range(100):
                if sum(len(b) for b in invoker.batches) >= 3:
                    break
                await asyncio.sleep(0.05)
            dynamodb.put_item(
                TableName="poller-test", Item={"roomId": {"S": "r"}, "messageId": {"S": "m3"}}
            )
            for _ in range(100):
                if sum(len(b) for b in invoker.batches) >= 4:
                    break
                await asyncio.sleep(0.05)
            task.cancel()
            stream.shutdown()
            return invoker.batches
        finally:
            backend.stop()

    batches = run(scenario())
    assert [len(b) for b in batches][:2] == [2, 1]
    assert sum(len(b) for b in batches) == 4
    flat = [s for b in batches for s in b]
    assert flat == sorted(flat, key=int)
