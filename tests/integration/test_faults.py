"""Fault injection (issue 16): the local cloud started with --faults makes the Management API
answer 410, 429 and 500, DynamoDB throttle, the stream processor crash mid-batch and a stream
batch arrive twice. For each, real WebSocket clients that follow docs/protocol.md (dedupe by
messageId, catch up after a reconnect) end with exactly the stored history, in order; where a
batch is retried or doubled, each connection's raw frames hold each message exactly once (the
local cloud is one container: docs/protocol.md, "Order and delivery"); retries are bounded
(counted posts); what can never be delivered is described in the stream DLQ."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from chat.notifier import POST_ATTEMPTS
from localcloud.testing import RunningLocalCloud
from tests.integration.chat_client import Api, Frame, unbatched
from tests.integration.conftest import run
from tests.integration.reliability import (
    STREAM_DLQ,
    Member,
    arm,
    assert_delivered_once_in_order,
    clear_faults,
    fault_report,
    new_member,
    reliability_cloud,
    room_of,
    stored_history,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faulty() -> Iterator[RunningLocalCloud]:
    with reliability_cloud(faults=True) as running:
        yield running


async def trio(
    api: Api, cloud: RunningLocalCloud, name: str, batch: bool = False
) -> tuple[list[Member], str]:
    """alice (admin), bob and carol in one new room; `batch`: carol's connection asks for
    messageBatch frames (`?batch=1`, as the browser client does)."""
    members = [await new_member(api, cloud, p) for p in ("alice", "bob")]
    members.append(await new_member(api, cloud, "carol", batch=batch))
    room_id = await room_of(members[0], members[1:], name)
    return members, room_id


def _own_message(frame: Frame, client_id: str) -> Frame | None:
    """The message of that clientMessageId in a `message` frame or a `messageBatch`'s items."""
    for single in unbatched(frame):
        message = single.get("message") if single.get("type") == "message" else None
        if isinstance(message, dict) and message.get("clientMessageId") == client_id:
            return message
    return None


async def send_in_turn(sender: Member, room_id: str, count: int, tag: str) -> list[str]:
    """`count` messages, each sent once its predecessor came back (so their order is known)."""
    ids = []
    for n in range(count):
        client_id = f"{tag}-{n}"
        await sender.socket.send(
            {
                "action": "sendMessage",
                "roomId": room_id,
                "text": f"{tag} {n}",
                "clientMessageId": client_id,
            }
        )
        frame = await sender.socket.wait_for(
            lambda f, c=client_id: _own_message(f, c) is not None, timeout=30, consume=False
        )
        own = _own_message(frame, client_id)
        assert own is not None
        ids.append(own["messageId"])
    return ids


async def assert_everyone_holds_history(
    api: Api, members: list[Member], room_id: str, timeout: float = 30, expected: int = 0
) -> list[str]:
    stored = await stored_history(api, members[0].token, room_id)
    for _ in range(100):  # messages sent without waiting may still be on their way in
        if len(stored) >= expected:
            break
        await asyncio.sleep(0.1)
        stored = await stored_history(api, members[0].token, room_id)
    for member in members:
        await member.wait_holding(room_id, len(stored), timeout)
        assert member.ids(room_id) == stored, member.username
    return stored


async def dlq_messages(cloud: RunningLocalCloud) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=STREAM_DLQ)["QueueUrl"]
    found: list[dict[str, Any]] = []
    for _ in range(3):
        response = await asyncio.to_thread(
            sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        found.extend(json.loads(m["Body"]) for m in response.get("Messages", []))
    return found


def test_the_fault_endpoint_is_refused_unless_started_with_faults(
    cloud: RunningLocalCloud, faulty: RunningLocalCloud
) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{cloud.base_url}/_localcloud/faults", json={"kind": "streamDuplicate"}
            ) as response:
                assert response.status == 404
                assert "--faults" in (await response.json())["message"]
            for bad in ({"kind": "nope"}, {"kind": "management", "status": 404}, [1]):
                async with session.post(
                    f"{faulty.base_url}/_localcloud/faults", json=bad
                ) as response:
                    assert response.status == 400, bad
            async with session.post(
                f"{faulty.base_url}/_localcloud/faults", data="{not json"
            ) as response:
                assert response.status == 400

    run(scenario())


@pytest.mark.parametrize("status", [429, 500])
def test_management_api_errors_are_retried_a_bounded_number_of_times(
    faulty: RunningLocalCloud, status: int
) -> None:
    """7 failed posts to bob: more than two invocations' POST_ATTEMPTS (3) posts each, so the
    stream batch itself is retried twice; bob still gets every message once, in order, after
    exactly 7 extra posts."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, faulty.rest_url)
            (alice, bob, carol), room_id = await trio(api, faulty, f"mgmt-{status}")
            await clear_faults(session, faulty)
            await arm(
                session, faulty, kind="management", status=status, count=7, username=bob.username
            )
            sent = await send_in_turn(alice, room_id, 5, f"s{status}")
            stored = await assert_everyone_holds_history(api, [alice, bob, carol], room_id)
            assert stored == sent
            bob.absorb()
            assert bob.live_frames == 5  # the processor's delivery log: no post repeated
            report = await fault_report(session, faulty)
            assert report["rules"][0]["fired"] == 7
            assert report["managementPosts"][bob.username] == 5 + 7

    run(scenario())


def test_a_gone_connection_catches_up_after_reconnecting(faulty: RunningLocalCloud) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, faulty.rest_url)
            (alice, bob, carol), room_id = await trio(api, faulty, "gone")
            await send_in_turn(alice, room_id, 2, "before")
            await bob.wait_holding(room_id, 2, 10)
            await clear_faults(session, faulty)
            await arm(
                session, faulty, kind="management", status=410, count=1, username=bob.username
            )
            await send_in_turn(alice, room_id, 3, "while")
            assert await bob.socket.closed(timeout=10) is not None  # 410: it is gone
            await send_in_turn(alice, room_id, 2, "away")
            await bob.reconnect()
            await send_in_turn(carol, room_id, 2, "after")
            stored = await assert_everyone_holds_history(api, [alice, bob, carol], room_id)
            assert len(stored) == 9

    run(scenario())


def test_what_can_never_be_delivered_ends_in_the_dlq(faulty: RunningLocalCloud) -> None:
    """carol's Management API answers 500 for good: the batch is tried 1 + 5 times
    (maximum_retry_attempts), POST_ATTEMPTS (3) posts to her each, 18 in all, then described in
    the stream DLQ; the others got it, and carol's catch-up brings it."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, faulty.rest_url)
            (alice, bob, carol), room_id = await trio(api, faulty, "dlq")
            await dlq_messages(faulty)  # empty it
            await clear_faults(session, faulty)
            await arm(
                session,
                faulty,
                kind="management",
                status=500,
                count=10_000,
                username=carol.username,
            )
            sent = await send_in_turn(alice, room_id, 1, "doomed")
            await bob.wait_holding(room_id, 1, 10)
            found: list[dict[str, Any]] = []
            for _ in range(20):
                found = await dlq_messages(faulty)
                if found:
                    break
            assert len(found) == 1, found
            failure = found[0]
            assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
            assert failure["requestContext"]["approximateInvokeCount"] == 6
            assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
            report = await fault_report(session, faulty)
            # The poster's attempts are the only retries (the fan-out adds none): 3 posts per
            # invocation, 6 invocations.
            assert POST_ATTEMPTS == 3
            assert report["managementPosts"][carol.username] == 6 * POST_ATTEMPTS
            await clear_faults(session, faulty)
            assert carol.ids(room_id) == []
            await carol.drop()
            await carol.reconnect()
            assert await assert_everyone_holds_history(api, [alice, bob, carol], room_id) == sent

    run(scenario(), timeout=180)


def test_dynamodb_throttling(faulty: RunningLocalCloud) -> None:
    """Two throttled PutItems are absorbed by botocore's retries (3 attempts); six throttled
    BatchGetItems (the fan-out's live-room check) fail two stream invocations, which the
    mapping retries. Nothing is lost or shown twice, order is kept."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, faulty.rest_url)
            members, room_id = await trio(api, faulty, "throttle")
            await clear_faults(session, faulty)
            await arm(session, faulty, kind="dynamodb", operation="PutItem", count=2)
            await arm(
                session,
                faulty,
                kind="dynamodb",
                operation="BatchGetItem",
                count=6,
                function="stream_processor",
            )
            sent = await send_in_turn(members[0], room_id, 4, "t")
            assert await assert_everyone_holds_history(api, members, room_id) == sent
            assert [r["fired"] for r in (await fault_report(session, faulty))["rules"]] == [2, 6]
            assert not members[0].socket.of_type("error")
            assert "ProvisionedThroughputExceededException" in faulty.logs()

    run(scenario())


def test_a_send_throttled_past_the_sdk_retries_is_rate_limited_and_stores_nothing(
    faulty: RunningLocalCloud,
) -> None:
    """sendMessage's membership read throttled on every one of botocore's attempts: the sender gets
    `rate_limited` with a retryAfter (not `internal`), nothing is stored, and the same message
    sent again once the table recovers is stored once."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, faulty.rest_url)
            members, room_id = await trio(api, faulty, "busy")
            before = await stored_history(api, members[0].token, room_id)
            await clear_faults(session, faulty)
            await arm(
                session,
                faulty,
                kind="dynamodb",
                operation="BatchGetItem",
                count=1000,
                function="send_message",
            )
            reply = await members[0].socket.request(
                {"action": "sendMessage", "roomId": room_id, "text": "busy", "clientMessageId": "b"}
            )
            assert reply["type"] == "error" and reply["code"] == "rate_limited", reply
            assert reply["retryAfter"] >= 1
            assert await stored_history(api, members[0].token, room_id) == before
            [rule] = (await fault_report(session, faulty))["rules"]
            assert rule["fired"] >= 3  # at least botocore's 3 attempts (client_config)
            await clear_faults(session, faulty)
            sent = await send_in_turn(members[0], room_id, 1, "after")
            assert await stored_history(api, members[0].token, room_id) == before + sent

    run(scenario())


def test_a_stream_processor_crash_mid_batch_loses_nothing(faulty: RunningLocalCloud) -> None:
    """Two batches crash after their first record (the function ran on it, then failed), so
    the mapping retries them (bisected). Every connection receives each message exactly once
    (the delivery log skips what the crashed invocation posted), and each sender's messages in
    the order sent. The three send at once, each in turn, so batches hold several records."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, faulty.rest_url)
            members, room_id = await trio(api, faulty, "crash", batch=True)
            await clear_faults(session, faulty)
            await arm(session, faulty, kind="streamCrash", afterRecords=1, count=2)
            in_turn = await asyncio.gather(
                *(send_in_turn(m, room_id, 4, f"c{n}") for n, m in enumerate(members))
            )
            assert [r["fired"] for r in (await fault_report(session, faulty))["rules"]] == [2]
            await clear_faults(session, faulty)
            # Posted after every retry of the batches before it: once everyone has it, every
            # repeat a retry could have made has arrived.
            in_turn.append(await send_in_turn(members[0], room_id, 1, "last"))
            stored = await assert_everyone_holds_history(api, members, room_id, expected=13)
            assert len(stored) == 13
            for member in members:
                assert_delivered_once_in_order(member, room_id, stored, in_turn)
            assert "crashed after 1 records (injected)" in faulty.logs()

    run(scenario())


def test_a_stream_batch_delivered_twice_is_shown_once(faulty: RunningLocalCloud) -> None:
    """Three batches invoke the processor twice: every connection receives each message
    exactly once, in the order sent (the delivery log skips the second invocation's posts)."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            api = Api(session, faulty.rest_url)
            members, room_id = await trio(api, faulty, "twice", batch=True)
            await clear_faults(session, faulty)
            await arm(session, faulty, kind="streamDuplicate", count=3)
            sent = await send_in_turn(members[1], room_id, 4, "d")
            assert [r["fired"] for r in (await fault_report(session, faulty))["rules"]] == [3]
            await clear_faults(session, faulty)
            # After the doubled batches' second invocations: once everyone has it, every
            # repeat they could have posted has arrived.
            sent += await send_in_turn(members[1], room_id, 1, "last")
            assert await assert_everyone_holds_history(api, members, room_id) == sent
            for member in members:
                assert_delivered_once_in_order(member, room_id, sent, [sent])

    run(scenario())
