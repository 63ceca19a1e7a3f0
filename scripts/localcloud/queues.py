"""SQS event sources: poll each queue of local.queue_mappings on moto and invoke its function
with the batch, as Lambda's SQS event source mapping does (ReportBatchItemFailures included).

Queues are created the way terraform/queues.tf declares them: a dead-letter queue beside each,
with its redrive policy and visibility timeout, so a request that keeps failing moves there
after max_receive_count receives, as on AWS.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from localcloud.functions import FunctionError, Invoker
from localcloud.motoserver import REGION
from localcloud.terraform import QueueMapping

log = logging.getLogger("localcloud.queues")


@dataclass(frozen=True)
class QueueState:
    mapping: QueueMapping
    url: str
    arn: str
    dlq_url: str


def ensure_queues(sqs: Any, mappings: dict[str, QueueMapping]) -> dict[str, QueueState]:
    states: dict[str, QueueState] = {}
    for key, mapping in mappings.items():
        suffix = ".fifo" if mapping.fifo else ""
        fifo = {"FifoQueue": "true"} if mapping.fifo else {}
        dlq_url = sqs.create_queue(QueueName=f"{mapping.name}-dlq{suffix}", Attributes=fifo)[
            "QueueUrl"
        ]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        url = sqs.create_queue(
            QueueName=f"{mapping.name}{suffix}",
            Attributes={
                **fifo,
                "VisibilityTimeout": str(mapping.visibility_timeout_seconds),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": mapping.max_receive_count}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        states[key] = QueueState(mapping, url, arn, dlq_url)
    return states


def lambda_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    """An SQS message as Lambda hands it to a function."""
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    }


class QueuePoller:
    def __init__(
        self, state: QueueState, sqs: Any, invoker: Invoker, wait_seconds: int = 2
    ) -> None:
        self.state = state
        self.sqs = sqs
        self.invoker = invoker
        self.wait_seconds = wait_seconds
        # Long polls block; each queue has its own thread so nothing else waits behind them.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-poller")
        self.invocations = 0

    async def _call(self, method: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: method(**kwargs))

    async def run(self) -> None:
        mapping = self.state.mapping
        while True:
            response = await self._call(
                self.sqs.receive_message,
                QueueUrl=self.state.url,
                MaxNumberOfMessages=max(1, min(10, mapping.batch_size)),
                WaitTimeSeconds=self.wait_seconds,
                AttributeNames=["All"],
            )
            messages = response.get("Messages") or []
            if not messages:
                continue
            await self.deliver(messages)

    async def deliver(self, messages: list[dict[str, Any]]) -> None:
        records = [lambda_record(m, self.state.arn) for m in messages]
        self.invocations += 1
        try:
            result, _, _ = await self.invoker.invoke(
                self.state.mapping.function, {"Records": records}
            )
        except FunctionError as e:
            # Nothing is deleted: every message comes back after the visibility timeout.
            log.warning("%s failed on %d message(s): %s", e.function, len(records), e)
            return
        failed = {
            str(f.get("itemIdentifier"))
            for f in (result or {}).get("batchItemFailures", [])
            if isinstance(f, dict)
        }
        done = [r for r in records if r["messageId"] not in failed]
        if done:
            await self._call(
                self.sqs.delete_message_batch,
                QueueUrl=self.state.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)
                ],
            )

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
