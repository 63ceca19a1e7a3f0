"""The event source mapping: poll a table's DynamoDB stream and invoke a function with
batches shaped as Lambda's, honouring the mapping's batch size, filters, retries, bisection,
maximum record age and `batchItemFailures` (ReportBatchItemFailures). Records dropped after
their retries (or too old) are described on the mapping's on-failure SQS queue, as Lambda
does (terraform/stream.tf: destination_config.on_failure)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from localcloud import events
from localcloud.faults import Faults
from localcloud.functions import FunctionError, Invoker
from localcloud.motoserver import ACCOUNT_ID, REGION
from localcloud.terraform import StreamMapping

log = logging.getLogger("localcloud")


# -- Lambda event filtering (the subset of EventBridge patterns Lambda supports) ------------------


def _match_rule(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        if "exists" in rule:
            return bool(rule["exists"]) == present
        if not present:
            return False
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(str(rule["prefix"]))
        if "suffix" in rule:
            return isinstance(value, str) and value.endswith(str(rule["suffix"]))
        if "equals-ignore-case" in rule:
            return (
                isinstance(value, str) and value.lower() == str(rule["equals-ignore-case"]).lower()
            )
        if "anything-but" in rule:
            excluded = rule["anything-but"]
            excluded = excluded if isinstance(excluded, list) else [excluded]
            return value not in excluded
        if "numeric" in rule:
            return _numeric(rule["numeric"], value)
        return False
    return present and value == rule


def _numeric(conditions: list[Any], value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    checks: dict[str, Callable[[float, float], bool]] = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    for i in range(0, len(conditions) - 1, 2):
        if not checks[conditions[i]](number, float(conditions[i + 1])):
            return False
    return True


def matches(pattern: Any, record: Any) -> bool:
    if not isinstance(pattern, dict):
        return False
    for key, sub in pattern.items():
        present = isinstance(record, dict) and key in record
        value = record.get(key) if present else None
        if isinstance(sub, dict):
            if not present or not matches(sub, value):
                return False
        elif isinstance(sub, list):
            values = value if isinstance(value, list) else [value]
            if not any(_match_rule(rule, v, present) for rule in sub for v in values):
                return False
        else:
            return False
    return True


def passes_filters(patterns: tuple[Any, ...], record: dict[str, Any]) -> bool:
    return not patterns or any(matches(p, record) for p in patterns)


# -- record conversion -------------------------------------------------------------------------


def _attribute_json(value: Any) -> Any:
    """boto3's client returns binary attributes as bytes; Lambda events carry base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _attribute_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_attribute_json(v) for v in value]
    return value


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams record as Lambda's event source mapping delivers it."""
    source = raw.get("dynamodb", {})
    created = source.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        created_epoch: float = created.timestamp()
    elif isinstance(created, int | float):
        created_epoch = float(created)
    else:
        created_epoch = time.time()
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": int(created_epoch)}
    for key in ("Keys", "NewImage", "OldImage"):
        if key in source:
            dynamodb[key] = _attribute_json(source[key])
    dynamodb["SequenceNumber"] = source.get("SequenceNumber")
    dynamodb["SizeBytes"] = source.get("SizeBytes")
    dynamodb["StreamViewType"] = source.get("StreamViewType")
    record: dict[str, Any] = {
        "eventID": raw.get("eventID"),
        "eventName": raw.get("eventName"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": raw.get("awsRegion") or events.REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:
        record["userIdentity"] = raw["userIdentity"]
    return record


# -- the poller --------------------------------------------------------------------------------


class StreamPoller:
    def __init__(
        self,
        mapping: StreamMapping,
        stream_arn: str,
        start_at_trim_horizon: bool,
        streams_client: Any,
        invoker: Invoker,
        idle_poll_seconds: float = 0.05,
        retry_backoff_seconds: float = 0.2,
        on_failure: tuple[Any, str] | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.mapping = mapping
        self.stream_arn = stream_arn
        self.start_at_trim_horizon = start_at_trim_horizon
        self.client = streams_client
        self.invoker = invoker
        self.idle_poll_seconds = idle_poll_seconds
        self._nudged = asyncio.Event()
        self.retry_backoff_seconds = retry_backoff_seconds
        # Streams calls block; they get their own thread so handlers never wait behind them.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-poller")
        self.iterators: dict[str, str] = {}
        self.known_shards: set[str] = set()
        self.delivered = 0
        self.dropped = 0
        self.on_failure = on_failure  # (SQS client, queue URL) of the on-failure destination
        self.faults = faults
        self.shard_id = ""  # of the batch being processed

    async def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: method(**kwargs))

    async def _discover(self, first: bool) -> None:
        description = await self._call(self.client.describe_stream, StreamArn=self.stream_arn)
        for shard in description["StreamDescription"].get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self.known_shards:
                continue
            self.known_shards.add(shard_id)
            closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            if first and closed and not self.start_at_trim_horizon:
                continue
            # Shards that appear after start-up are new: read them from their beginning.
            kind = "LATEST" if first and not self.start_at_trim_horizon else "TRIM_HORIZON"
            response = await self._call(
                self.client.get_shard_iterator,
                StreamArn=self.stream_arn,
                ShardId=shard_id,
                ShardIteratorType=kind,
            )
            self.iterators[shard_id] = response["ShardIterator"]

    async def run(self) -> None:
        await self._discover(first=True)
        last_discovery = time.monotonic()
        while True:
            got_records = False
            for shard_id, iterator in list(self.iterators.items()):
                try:
                    response = await self._call(
                        self.client.get_records,
                        ShardIterator=iterator,
                        Limit=self.mapping.batch_size,
                    )
                except Exception as e:
                    if type(e).__name__ == "ExpiredIteratorException":
                        log.warning(
                            "stream shard %s: iterator expired, reading from LATEST", shard_id
                        )
                        response_it = await self._call(
                            self.client.get_shard_iterator,
                            StreamArn=self.stream_arn,
                            ShardId=shard_id,
                            ShardIteratorType="LATEST",
                        )
                        self.iterators[shard_id] = response_it["ShardIterator"]
                        continue
                    log.exception("stream shard %s: GetRecords failed", shard_id)
                    await asyncio.sleep(1.0)
                    continue
                records = response.get("Records", [])
                next_iterator = response.get("NextShardIterator")
                if next_iterator is None:
                    del self.iterators[shard_id]
                else:
                    self.iterators[shard_id] = next_iterator
                if records:
                    got_records = True
                    self.shard_id = shard_id
                    await self.process([lambda_record(r, self.stream_arn) for r in records])
            if time.monotonic() - last_discovery > 10 or not self.iterators:
                last_discovery = time.monotonic()
                await self._discover(first=False)
            if not got_records:
                await self._idle()

    def nudge(self) -> None:
        """Something may have written to the table: poll now rather than at the next tick."""
        self._nudged.set()

    async def _idle(self) -> None:
        self._nudged.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudged.wait(), self.idle_poll_seconds)

    async def process(self, records: list[dict[str, Any]]) -> None:
        mapping = self.mapping
        fresh = []
        max_age = mapping.maximum_record_age_in_seconds
        now = time.time()
        for record in records:
            if max_age >= 0 and now - record["dynamodb"]["ApproximateCreationDateTime"] > max_age:
                await self._drop([record], "RecordAgeExceeded", 0)
                continue
            if passes_filters(mapping.filter_patterns, record):
                fresh.append(record)
        for start in range(0, len(fresh), mapping.batch_size):
            await self.deliver(fresh[start : start + mapping.batch_size], attempt=0)

    async def deliver(self, batch: list[dict[str, Any]], attempt: int) -> None:
        """Invoke with one batch; on failure retry from the first failed record, bisecting on
        function errors when configured, until maximum_retry_attempts, then drop."""
        if not batch:
            return
        started = time.monotonic()
        mapping = self.mapping
        remaining: list[dict[str, Any]] = []
        function_error = False
        try:
            result = await self._invoke(batch)
            remaining = self._failed_from(batch, result)
            outcome = "ok" if not remaining else f"{len(remaining)} to retry (batchItemFailures)"
        except FunctionError as e:
            function_error = True
            remaining = batch
            outcome = f"error: {e}"
        self.delivered += len(batch) - len(remaining)
        log.info(
            "stream %s -> %s records=%d attempt=%d %.1fms %s",
            mapping.table,
            mapping.function,
            len(batch),
            attempt + 1,
            (time.monotonic() - started) * 1000,
            outcome,
        )
        if not remaining:
            return
        retries = mapping.maximum_retry_attempts
        if retries >= 0 and attempt >= retries:
            await self._drop(remaining, "RetryAttemptsExhausted", attempt + 1)
            return
        await asyncio.sleep(min(self.retry_backoff_seconds * (2**attempt), 5.0))
        if function_error and mapping.bisect_batch_on_function_error and len(remaining) > 1:
            half = len(remaining) // 2
            await self.deliver(remaining[:half], attempt + 1)
            await self.deliver(remaining[half:], attempt + 1)
            return
        await self.deliver(remaining, attempt + 1)

    async def _invoke(self, batch: list[dict[str, Any]]) -> Any:
        """One invocation, or what an armed fault (--faults) makes of it: a crash after k
        records (the function ran on them, then the invocation failed), or the batch twice."""
        function = self.mapping.function
        crash_after = self.faults.stream_crash() if self.faults is not None else None
        if crash_after is not None:
            if crash_after:
                await self.invoker.invoke(function, {"Records": batch[:crash_after]})
            raise FunctionError(function, f"crashed after {crash_after} records (injected)", "-")
        if self.faults is not None and self.faults.stream_duplicate():
            await self.invoker.invoke(function, {"Records": batch})
        result, _, _ = await self.invoker.invoke(function, {"Records": batch})
        return result

    @staticmethod
    def _failed_from(batch: list[dict[str, Any]], result: Any) -> list[dict[str, Any]]:
        """The records to retry: from the first failed one on (Lambda's checkpoint rule). An
        itemIdentifier that is empty or not in the batch fails the whole batch, as on AWS."""
        if not isinstance(result, dict) or not result.get("batchItemFailures"):
            return []
        positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
        first = len(batch)
        for failure in result["batchItemFailures"]:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or identifier not in positions:
                return batch
            first = min(first, positions[identifier])
        return batch[first:]

    async def _drop(self, records: list[dict[str, Any]], condition: str, invokes: int) -> None:
        self.dropped += len(records)
        log.error(
            "stream %s: dropping %d record(s) (%s after %d invocations): sequence numbers %s",
            self.mapping.table,
            len(records),
            condition,
            invokes,
            ", ".join(str(r["dynamodb"]["SequenceNumber"]) for r in records),
        )
        if self.on_failure is None:
            return
        sqs, url = self.on_failure
        body = json.dumps(self.failure_record(records, condition, invokes))
        try:
            await self._call(sqs.send_message, QueueUrl=url, MessageBody=body)
        except Exception:
            log.exception("stream %s: could not send to the on-failure queue", self.mapping.table)

    def failure_record(
        self, records: list[dict[str, Any]], condition: str, invokes: int
    ) -> dict[str, Any]:
        """What Lambda sends to a stream mapping's on-failure destination: the batch's place in
        the stream (not its records: a reader fetches them from the stream by sequence)."""
        arrivals = [r["dynamodb"]["ApproximateCreationDateTime"] for r in records]
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.mapping.function}"
        return {
            "requestContext": {
                "requestId": events.aws_id(),
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": invokes,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": events.iso8601(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": events.iso8601(min(arrivals)),
                "approximateArrivalOfLastRecord": events.iso8601(max(arrivals)),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
