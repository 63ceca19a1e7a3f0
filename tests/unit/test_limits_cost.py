"""The limits' costs that README.md ("Costs") and docs/deploy.md state, as bench/limits_cost.py
counts them from the real handlers: if a limit starts making another call, this fails and the
docs must change with it."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import REPO

# action => (the limit's DynamoDB calls, WRU, RRU), as the docs give them.
DOCUMENTED = {
    "sendMessage, the user's bucket idle": ({"UpdateItem": 1}, 1, 0),
    "sendMessage, inside a burst": ({"UpdateItem": 1}, 1, 0),
    "sendMessage, inside a burst, the last one through another container": (
        {"UpdateItem": 2},
        2,
        0,
    ),
    "typing, forwarded": ({"PutItem": 1}, 1, 0),
    "typing, dropped (within 2 s of the last forwarded)": ({"PutItem": 1}, 1, 0),
    "signup, the address's bucket idle": ({"UpdateItem": 1}, 1, 0),
    "signup, inside a burst": ({"UpdateItem": 1}, 1, 0),
    "login, right password": ({"BatchGetItem": 1}, 0, 2),
    "login, the window's first failure": ({"BatchGetItem": 1, "UpdateItem": 4}, 4, 2),
    "login, a later failure in the window": ({"BatchGetItem": 1, "UpdateItem": 2}, 2, 2),
    "login, refused (over the limit)": ({"BatchGetItem": 1}, 0, 2),
    "joinRoom": ({"GetItem": 1}, 0, 1),
    "rejectJoin": ({"UpdateItem": 1}, 1, 0),
    "joinRoom, refused (within the cool-down)": ({"GetItem": 1}, 0, 1),
}
ANSWERS = {
    "typing, forwarded": "forwarded",
    "typing, dropped (within 2 s of the last forwarded)": "dropped",
    "login, refused (over the limit)": "429",
    "joinRoom, refused (within the cool-down)": "rate_limited",
}


def test_each_limit_makes_the_calls_the_docs_price() -> None:
    # Its own process: the bench sets the environment and starts moto for itself.
    script = "import json; from bench.limits_cost import measure; print(json.dumps(measure()))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    measured = {action: (calls, wru, rru) for action, calls, wru, rru, _ in steps}
    assert measured == DOCUMENTED
    answers = {action: answer for action, _, _, _, answer in steps}
    assert {a: answers[a] for a in ANSWERS} == ANSWERS
