"""Every key string of the users, rooms and connections tables, built and parsed here only.

Deployed tables hold data in these formats, so they never change (docs/design.md, "Tables").
Per entity: `*_pk` / `*_sk` build one key string, `parse_*` gives back what was built in
(ValueError for a key of another kind), and a function named after the entity builds its whole
primary key for GetItem, DeleteItem and transactions. Usernames enter keys lowercased (user_key),
so parsing a user's key gives that lowercased form. No boto3 here: this is plain string work.

The messages table needs nothing here: its keys are the plain roomId and messageId attributes.
"""

from __future__ import annotations

from chat.models import user_key

USER_PREFIX = "USER#"
TICKET_PREFIX = "TICKET#"
ROOM_PREFIX = "ROOM#"
MEMBER_PREFIX = "MEMBER#"
REQUEST_PREFIX = "REQUEST#"
CONNECTION_PREFIX = "CONN#"
TYPING_PREFIX = "TYPING#"
# The sort key of a room's own item and of a connection's own item.
META = "META"


def _parse(prefix: str, key: str) -> str:
    if not key.startswith(prefix):
        raise ValueError(f"{key!r} is not a {prefix}<...> key")
    return key[len(prefix) :]


# -- users: the users table's pk, and the userKey of rooms' byUser index and connection indexes


def user_pk(username: str) -> str:
    return USER_PREFIX + user_key(username)


def parse_user_pk(pk: str) -> str:
    """The lowercased username (user_key) in a USER# key."""
    return _parse(USER_PREFIX, pk)


def user(username: str) -> dict[str, str]:
    return {"pk": user_pk(username)}


# -- WebSocket tickets (users table), keyed by the ticket's SHA-256


def ticket_pk(ticket_hash: str) -> str:
    return TICKET_PREFIX + ticket_hash


def parse_ticket_pk(pk: str) -> str:
    return _parse(TICKET_PREFIX, pk)


def ticket(ticket_hash: str) -> dict[str, str]:
    return {"pk": ticket_pk(ticket_hash)}


# -- rooms (rooms table, and the room index of the connections table)


def room_pk(room_id: str) -> str:
    return ROOM_PREFIX + room_id


def parse_room_pk(pk: str) -> str:
    return _parse(ROOM_PREFIX, pk)


def room(room_id: str) -> dict[str, str]:
    return {"pk": room_pk(room_id), "sk": META}


# -- memberships (rooms table)


def member_sk(username: str) -> str:
    return MEMBER_PREFIX + user_key(username)


def parse_member_sk(sk: str) -> str:
    """The lowercased username (user_key) in a MEMBER# key."""
    return _parse(MEMBER_PREFIX, sk)


def member(room_id: str, username: str) -> dict[str, str]:
    return {"pk": room_pk(room_id), "sk": member_sk(username)}


# -- join requests (rooms table)


def request_sk(username: str) -> str:
    return REQUEST_PREFIX + user_key(username)


def parse_request_sk(sk: str) -> str:
    """The lowercased username (user_key) in a REQUEST# key."""
    return _parse(REQUEST_PREFIX, sk)


def request(room_id: str, username: str) -> dict[str, str]:
    return {"pk": room_pk(room_id), "sk": request_sk(username)}


# -- connections (connections table): CONN#<id>/META, and CONN#<id> as the sort key of the
# ROOM#<roomId> and USER#<lower> index items


def connection_pk(connection_id: str) -> str:
    """CONN#<id>: the pk of a connection's own item, and the sk of its index items."""
    return CONNECTION_PREFIX + connection_id


# The same string sorts a connection's index items under their room or user.
connection_sk = connection_pk


def parse_connection_pk(key: str) -> str:
    """The connection id in a CONN# key, pk or sk."""
    return _parse(CONNECTION_PREFIX, key)


def connection(connection_id: str) -> dict[str, str]:
    return {"pk": connection_pk(connection_id), "sk": META}


def room_connection(room_id: str, connection_id: str) -> dict[str, str]:
    return {"pk": room_pk(room_id), "sk": connection_sk(connection_id)}


def user_connection(username: str, connection_id: str) -> dict[str, str]:
    return {"pk": user_pk(username), "sk": connection_sk(connection_id)}


# -- typing limiter (connections table): TYPING#<roomId>/USER#<lower>, one per user and room


def typing(room_id: str, username: str) -> dict[str, str]:
    return {"pk": TYPING_PREFIX + room_id, "sk": user_pk(username)}


# -- abuse limits (limits table): RATE#<what>#<who>, one item per limited key


RATE_PREFIX = "RATE#"


def rate(what: str, who: str, ticks_per_ms: int = 1) -> dict[str, str]:
    """`who` is a lowercased username, a source IP, or both joined by '#'. A bucket that counts
    in ticks finer than 1 ms (chat.gcra: a rate that does not divide its period's milliseconds)
    says so in its key, `RATE#<what>@<ticks per ms>#<who>`, so that a tat stored in other
    units (before a rate was changed) is never read in these."""
    scope = what if ticks_per_ms == 1 else f"{what}@{ticks_per_ms}"
    return {"pk": f"{RATE_PREFIX}{scope}#{who}"}
