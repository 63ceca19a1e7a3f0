"""Benchmark 9: what each abuse limit costs, counted from the real calls the real handlers make.

Every limited action goes through the real handlers (moto in-process, as bench/cost.py) with
the deployed default limits; a Meter counts the DynamoDB requests that are the limit's own (on
the limits table, and typing's conditional PutItem of a TYPING# item in the connections table)
and their request units by bench/cost.py's rules. A conditional write whose condition fails is
billed like one that succeeds (DynamoDB consumes the write units either way), so a dropped
typing event costs what a forwarded one does. $ per million actions at bench/cost.py's prices.

    .venv/bin/python -m bench.limits_cost
"""

from __future__ import annotations

import json
import os
from typing import Any

from bench.common import BENCH_ENV, table
from bench.cost import PRICES, Meter, metered_moto

LIMITS_TABLE = "test-limits"
TYPING_PREFIX = "TYPING#"  # chat.keys.TYPING_PREFIX: typing's claim, in the connections table


def _limit_call(name: str, request: dict[str, Any]) -> bool:
    """Whether a DynamoDB request is a limit's own."""
    if request.get("TableName") == LIMITS_TABLE:
        return True
    if LIMITS_TABLE in request.get("RequestItems", {}):
        return True
    pk = request.get("Item", {}).get("pk", {}).get("S", "")
    return name == "PutItem" and pk.startswith(TYPING_PREFIX)


class LimitMeter(Meter):
    """bench.cost.Meter, counting only the limits' requests."""

    def after(self, model: Any, parsed: dict[str, Any], **kwargs: Any) -> None:
        if _limit_call(*self._last):
            super().after(model=model, parsed=parsed, **kwargs)


def measure() -> list[tuple[str, dict[str, int], float, float, str]]:
    """(action, the limit's requests, WRU, RRU, outcome) for each step, in order."""

    from tests.events import load_event
    from tests.unit.harness import Harness, LambdaContext

    os.environ.update(
        {
            **BENCH_ENV,
            "USERS_TABLE": "test-users",
            "ROOMS_TABLE": "test-rooms",
            "CONNECTIONS_TABLE": "test-connections",
            "MESSAGES_TABLE": "test-messages",
            "LIMITS_TABLE": LIMITS_TABLE,
            "RATE_LIMITS_ENABLED": "true",  # the deployed defaults (terraform/variables.tf)
            "WS_MANAGEMENT_ENDPOINT": "https://wsapi12345.execute-api.us-east-1.amazonaws.com/v1",
        }
    )
    steps: list[tuple[str, dict[str, int], float, float, str]] = []
    meter = LimitMeter()
    with metered_moto(meter):
        chat = Harness()

        def rest(path: str, body: dict[str, str], source_ip: str) -> str:
            event = load_event("rest_api_proxy")
            event.update(httpMethod="POST", path=path, body=json.dumps(body))
            event["requestContext"]["identity"]["sourceIp"] = source_ip
            response = chat.modules["rest"].lambda_handler(event, LambdaContext())
            return str(response["statusCode"])

        def step(action: str, run: Any) -> None:
            meter.reset()
            outcome = run()
            steps.append((action, dict(meter.requests), meter.wru, meter.rru, str(outcome)))

        a = chat.connect(chat.signup_and_login("alice"))
        b = chat.connect(chat.signup_and_login("bob"))
        c = chat.connect(chat.signup_and_login("carol"))
        room = chat.send(a, "alice", {"action": "createRoom", "name": "bench"})["room"][  # type: ignore[index]
            "roomId"
        ]
        chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
        chat.send(a, "alice", {"action": "approveJoin", "roomId": room, "username": "bob"})
        chat.pump()
        say = {"action": "sendMessage", "roomId": room, "text": "x" * 100}
        typing = {"action": "typing", "roomId": room}
        join = {"action": "joinRoom", "roomId": room}
        reject = {"action": "rejectJoin", "roomId": room, "username": "carol"}

        def error_or(reply: Any, default: str) -> str:
            errors = [f for f in chat.frames(b) if f.get("type") == "error"]
            found = reply or (errors[0] if errors else None)
            return str(found.get("code") or found.get("type")) if found else default

        step(
            "sendMessage, the user's bucket idle",
            lambda: error_or(chat.send(b, "bob", say), "stored"),
        )
        step("sendMessage, inside a burst", lambda: error_or(chat.send(b, "bob", say), "stored"))
        # A container remembers the keys it wrote (chat.store.LimitsStore): one whose last
        # write to this key was made by another container tries the wrong branch first.
        other_container = Harness()
        step(
            "sendMessage, inside a burst, the last one through another container",
            lambda: error_or(other_container.send(b, "bob", say), "stored"),
        )
        step("typing, forwarded", lambda: error_or(chat.send(b, "bob", typing), "forwarded"))
        step(
            "typing, dropped (within 2 s of the last forwarded)",
            lambda: error_or(chat.send(b, "bob", typing), "dropped"),
        )
        password = {"username": "dave", "password": "correct horse battery"}
        wrong = {**password, "password": "wrong password!"}
        step(
            "signup, the address's bucket idle",
            lambda: rest("/auth/signup", password, "192.0.2.1"),
        )
        step(
            "signup, inside a burst",
            lambda: rest("/auth/signup", {**password, "username": "erin"}, "192.0.2.1"),
        )
        step("login, right password", lambda: rest("/auth/login", password, "192.0.2.1"))
        step("login, the window's first failure", lambda: rest("/auth/login", wrong, "192.0.2.1"))
        step(
            "login, a later failure in the window",
            lambda: rest("/auth/login", wrong, "192.0.2.1"),
        )
        for _ in range(3):  # 5 failures for the pair: the next attempt is refused
            rest("/auth/login", wrong, "192.0.2.1")
        step(
            "login, refused (over the limit)",
            lambda: rest("/auth/login", password, "192.0.2.1"),
        )
        step("joinRoom", lambda: chat.send(c, "carol", join)["type"])  # type: ignore[index]
        step("rejectJoin", lambda: error_or(chat.send(a, "alice", reject), "rejected"))
        step(
            "joinRoom, refused (within the cool-down)",
            lambda: chat.send(c, "carol", join)["code"],  # type: ignore[index]
        )
    return steps


def run() -> str:
    rows = []
    for action, requests, wru, rru, outcome in measure():
        dollars = (wru * PRICES["dynamodb_wru"] + rru * PRICES["dynamodb_rru"]) * 1e6
        calls = ", ".join(f"{k} {v}" for k, v in sorted(requests.items())) or "none"
        rows.append([action, outcome, calls, f"{wru:g} / {rru:g}", f"{dollars:.3f}"])
    headers = ["action", "answer", "the limit's DynamoDB calls", "WRU / RRU", "$ per million"]
    return (
        "What each abuse limit adds to an action, counted from the real handlers' calls (moto) "
        "with the deployed default limits: the requests on the limits table and typing's "
        "TYPING# PutItem, by bench/cost.py's rules (a failed conditional write is billed too); "
        f"DynamoDB on demand, us-east-1: ${PRICES['dynamodb_wru'] * 1e6:g} per million WRU, "
        f"${PRICES['dynamodb_rru'] * 1e6:g} per million RRU. rate_limits_enabled = false makes "
        "every one of them none.\n\n" + table(headers, rows)
    )


def main() -> None:
    print(run())


if __name__ == "__main__":
    main()
