"""The DynamoDB data layer. Each store takes a boto3 Table and returns models, never items.

Per entity, one section: its item <-> model mapping (`*_item` / `*_from_item`), then its store.
Every key string comes from chat.keys. Layouts are documented in docs/design.md and the README's
data model. ClientErrors become typed domain errors here, so nothing above this module knows
about boto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from chat import gcra, keys
from chat.errors import ConflictError, ForbiddenError, NotFoundError, UsernameTakenError
from chat.gcra import Bucket
from chat.models import (
    GROUP,
    Attachment,
    ClosedConnection,
    Connection,
    JoinRequest,
    Member,
    Message,
    OpenConnection,
    Room,
    Ticket,
    TokenState,
    User,
    user_key,
)

BATCH_WRITE_MAX = 25
# TransactWriteItems takes at most 100 items.
TRANSACTION_MAX = 100
# How long a new connection may answer 410 (its $connect still running) before it counts as gone.
GONE_GRACE_SECONDS = 10.0


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _is_condition_failure(error: ClientError) -> bool:
    code = _error_code(error)
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
            return True
        # moto and older SDKs put the reasons only in the message text.
        return "ConditionalCheckFailed" in str(error)
    return False


def _query_all(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = table.query(**kwargs)
        yield from page.get("Items", [])
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def _batch_write(table: Any, puts: list[dict[str, Any]], deletes: list[dict[str, Any]]) -> None:
    # batch_writer splits into 25-item calls and resends unprocessed items.
    with table.batch_writer() as batch:
        for item in puts:
            batch.put_item(Item=item)
        for key in deletes:
            batch.delete_item(Key=key)


# -- users and tickets (users table) ------------------------------------------------------------


def user_item(user: User) -> dict[str, Any]:
    return {
        **keys.user(user.username),
        "username": user.username,
        "passwordHash": user.password_hash,
        "createdAt": user.created_at,
    }


def user_from_item(item: dict[str, Any]) -> User:
    return User(
        username=str(item["username"]),
        password_hash=str(item["passwordHash"]),
        created_at=str(item.get("createdAt", "")),
        token_version=int(item.get("tokenVersion", 0)),
        signed_out_at=int(item.get("signedOutAt", 0)),
    )


def token_state_from_item(item: dict[str, Any]) -> TokenState:
    """A user item's token attributes; an item written before logout existed has none."""
    return TokenState(
        version=int(item.get("tokenVersion", 0)),
        signed_out_at=int(item.get("signedOutAt", 0)),
        revoked={str(k): int(v) for k, v in (item.get("revokedTokens") or {}).items()},
        revision=int(item.get("tokenRevision", 0)),
    )


def ticket_item(ticket_hash: str, ticket: Ticket, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        **keys.ticket(ticket_hash),
        "username": ticket.username,
        "expiresAt": expires_at,
        "ttl": expires_at,
        "tokenId": ticket.token_id,
        "tokenIssuedAt": ticket.token_issued_at,
    }
    if ticket.token_version is not None:
        item["tokenVersion"] = ticket.token_version
    return item


def ticket_from_item(item: dict[str, Any]) -> Ticket:
    version = item.get("tokenVersion")
    return Ticket(
        username=str(item["username"]),
        token_id=str(item.get("tokenId", "")),
        token_version=None if version is None else int(version),
        token_issued_at=int(item.get("tokenIssuedAt", 0)),
    )


class UsersStore:
    """users table: USER#<lower> accounts and TICKET#<sha256> WebSocket tickets."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def create_user(self, username: str, password_hash: str, created_at: str) -> None:
        try:
            self.table.put_item(
                Item=user_item(User(username, password_hash, created_at)),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as e:
            if _is_condition_failure(e):
                raise UsernameTakenError("That username is taken.") from e
            raise

    def get_user(self, username: str) -> User | None:
        item = self.table.get_item(Key=keys.user(username), ConsistentRead=True).get("Item")
        return user_from_item(item) if item else None

    def token_state(self, username: str) -> TokenState | None:
        """The user's token record (one strongly consistent GetItem, a single read unit: a
        logout holds at once); None if the users table has no entry for the user."""
        item = self.table.get_item(
            Key=keys.user(username),
            ConsistentRead=True,
            ProjectionExpression="pk, tokenVersion, signedOutAt, revokedTokens, tokenRevision",
        ).get("Item")
        return token_state_from_item(item) if item else None

    def save_token_state(self, username: str, before: TokenState, after: TokenState) -> bool:
        """Writes `after` over the user's token record if it still is `before` (its revision);
        False if another write came first (read again and retry) or the user has no entry."""
        condition = "attribute_exists(pk) AND " + (
            "attribute_not_exists(tokenRevision)" if before.revision == 0 else "tokenRevision = :r"
        )
        values: dict[str, Any] = {
            ":v": after.version,
            ":s": after.signed_out_at,
            ":m": dict(after.revoked),
            ":next": before.revision + 1,
        }
        if before.revision:
            values[":r"] = before.revision
        try:
            self.table.update_item(
                Key=keys.user(username),
                UpdateExpression=(
                    "SET tokenVersion = :v, signedOutAt = :s, revokedTokens = :m,"
                    " tokenRevision = :next"
                ),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as e:
            if _is_condition_failure(e):
                return False
            raise
        return True

    def put_ticket(self, ticket_hash: str, ticket: Ticket, expires_at: int) -> None:
        self.table.put_item(Item=ticket_item(ticket_hash, ticket, expires_at))

    def consume_ticket(self, ticket_hash: str, now: int) -> Ticket | None:
        """Deletes the ticket if it exists and has not expired; what it held, else None.

        One conditional delete: two connects racing with the same ticket cannot both win.
        """
        try:
            response = self.table.delete_item(
                Key=keys.ticket(ticket_hash),
                ConditionExpression="attribute_exists(pk) AND expiresAt > :now",
                ExpressionAttributeValues={":now": now},
                ReturnValues="ALL_OLD",
            )
        except ClientError as e:
            if _is_condition_failure(e):
                return None
            raise
        attributes = response.get("Attributes") or {}
        return ticket_from_item(attributes) if attributes.get("username") else None


# -- rooms, memberships and join requests (rooms table) -----------------------------------------


def room_item(room: Room) -> dict[str, Any]:
    """Group rooms written before direct rooms existed have no `kind`: absent means group."""
    item: dict[str, Any] = {
        **keys.room(room.room_id),
        "roomId": room.room_id,
        "name": room.name,
        "admin": room.admin,
        "createdAt": room.created_at,
    }
    if room.kind != GROUP:
        item["kind"] = room.kind
        item["members"] = list(room.members)
    return item


def room_from_item(item: dict[str, Any]) -> Room:
    return Room(
        room_id=str(item["roomId"]),
        name=str(item["name"]),
        admin=str(item["admin"]),
        created_at=str(item["createdAt"]),
        kind=str(item.get("kind", GROUP)),
        members=tuple(str(m) for m in item.get("members", ())),
    )


def member_item(member: Member) -> dict[str, Any]:
    """userKey is the byUser index's partition key: "my rooms" is one Query."""
    item: dict[str, Any] = {
        **keys.member(member.room_id, member.username),
        "roomId": member.room_id,
        "username": member.username,
        "role": member.role,
        "joinedAt": member.joined_at,
        "userKey": keys.user_pk(member.username),
        "roomName": member.room_name,
        "roomCreatedAt": member.room_created_at,
    }
    if member.kind != GROUP:
        item["kind"] = member.kind
    if member.peer is not None:
        item["peer"] = member.peer
    if member.last_read is not None:
        item["lastRead"] = member.last_read
    return item


def member_from_item(item: dict[str, Any]) -> Member:
    return Member(
        room_id=str(item["roomId"]),
        username=str(item["username"]),
        role=str(item["role"]),
        joined_at=str(item["joinedAt"]),
        room_name=str(item.get("roomName", "")),
        room_created_at=str(item.get("roomCreatedAt", "")),
        kind=str(item.get("kind", GROUP)),
        peer=str(item["peer"]) if item.get("peer") else None,
        last_read=str(item["lastRead"]) if item.get("lastRead") else None,
    )


def request_item(request: JoinRequest) -> dict[str, Any]:
    return {
        **keys.request(request.room_id, request.username),
        "roomId": request.room_id,
        "username": request.username,
        "requestedAt": request.requested_at,
    }


def request_from_item(item: dict[str, Any]) -> JoinRequest:
    return JoinRequest(
        room_id=str(item["roomId"]),
        username=str(item["username"]),
        requested_at=str(item["requestedAt"]),
    )


def _membership(room: Room, username: str, role: str, joined_at: str) -> Member:
    peer = room.peer_of(username)
    name = peer if peer is not None else room.name
    return Member(room.room_id, username, role, joined_at, name, room.created_at, room.kind, peer)


def _put(table: Any, item: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table.name, "Item": item}
    if condition is not None:
        put["ConditionExpression"] = condition
    return {"Put": put}


def _delete(table: Any, key: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
    delete: dict[str, Any] = {"TableName": table.name, "Key": key}
    if condition is not None:
        delete["ConditionExpression"] = condition
    return {"Delete": delete}


class RoomsStore:
    """rooms table: ROOM#<id> with META, MEMBER#<lower> and REQUEST#<lower> items.

    Member items carry userKey (GSI byUser) and a copy of the room's name and creation time,
    so "my rooms" is one Query with no follow-up reads (rooms are never renamed).
    """

    def __init__(self, table: Any, connections_table: Any = None) -> None:
        self.table = table
        self.client = table.meta.client
        # Ending a membership also deletes the room's connection index items, atomically.
        self.connections_table = connections_table

    def create_room(self, room: Room) -> None:
        admin = _membership(room, room.admin, "admin", room.created_at)
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table.name,
                            "Item": room_item(room),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table.name, "Item": member_item(admin)}},
                ]
            )
        except ClientError as e:
            if _is_condition_failure(e):
                raise ConflictError("A room with that id exists already.") from e
            raise

    def get_room(self, room_id: str) -> Room | None:
        """The room, or None if there is none or it was deleted (its META is then a tombstone
        with deletedAt until the purge job has removed everything else)."""
        item = self.table.get_item(Key=keys.room(room_id)).get("Item")
        return room_from_item(item) if item and "deletedAt" not in item else None

    def get_member(self, room_id: str, username: str) -> Member | None:
        item = self.table.get_item(Key=keys.member(room_id, username)).get("Item")
        return member_from_item(item) if item else None

    def access(self, room_id: str, username: str) -> tuple[Room | None, Member | None]:
        """The room (None if missing or deleted) and the user's membership, in one round trip:
        a deleted room's member items linger until the purge job, so membership alone is not
        proof that the room exists."""
        wanted = [keys.room(room_id), keys.member(room_id, username)]
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {self.table.name: {"Keys": wanted}}
        for _ in range(5):
            response = self.client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(self.table.name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:  # throttled five times in a row: read them one by one
            return self.get_room(room_id), self.get_member(room_id, username)
        room: Room | None = None
        member: Member | None = None
        for item in found:  # the resource's client gives plain values, not DynamoDB JSON
            if item["sk"] == keys.META:
                room = None if "deletedAt" in item else room_from_item(item)
            else:
                member = member_from_item(item)
        return room, (member if room is not None else None)

    def live_rooms(self, room_ids: list[str]) -> dict[str, int]:
        """Which of these rooms exist and are not deleted (BatchGetItem, 100 keys a call), each
        with the epoch second until which its fan-out stays with the workers (0: not lately;
        see chat.fanout.Chunking)."""
        live: dict[str, int] = {}
        for start in range(0, len(room_ids), 100):
            request: dict[str, Any] = {
                self.table.name: {
                    "Keys": [keys.room(r) for r in room_ids[start : start + 100]],
                    "ProjectionExpression": "roomId, deletedAt, fanoutWorkersUntil",
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table.name, []):
                    if "deletedAt" not in item:
                        live[str(item["roomId"])] = int(item.get("fanoutWorkersUntil", 0))
                request = response.get("UnprocessedKeys") or {}
        return live

    def list_members(self, room_id: str) -> list[Member]:
        return [member_from_item(i) for i in self._room_items(room_id, keys.MEMBER_PREFIX)]

    def list_requests(self, room_id: str) -> list[JoinRequest]:
        return [request_from_item(i) for i in self._room_items(room_id, keys.REQUEST_PREFIX)]

    def _room_items(self, room_id: str, sk_prefix: str) -> Iterator[dict[str, Any]]:
        return _query_all(
            self.table,
            KeyConditionExpression=Key("pk").eq(keys.room_pk(room_id))
            & Key("sk").begins_with(sk_prefix),
        )

    def rooms_of(self, username: str) -> list[Member]:
        items = _query_all(
            self.table,
            IndexName="byUser",
            KeyConditionExpression=Key("userKey").eq(keys.user_pk(username)),
        )
        return [member_from_item(i) for i in items]

    def add_request(self, room_id: str, username: str, requested_at: str) -> None:
        """A pending join request; ConflictError if one is pending or the user is a member."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table.name,
                            "Key": keys.member(room_id, username),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table.name,
                            "Item": request_item(JoinRequest(room_id, username, requested_at)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as e:
            if _is_condition_failure(e):
                raise ConflictError(
                    "You are a member of this room or your request is pending already."
                ) from e
            raise

    def get_request(self, room_id: str, username: str) -> JoinRequest | None:
        item = self.table.get_item(Key=keys.request(room_id, username)).get("Item")
        return request_from_item(item) if item else None

    def approve(self, room: Room, username: str, joined_at: str) -> Member:
        """Turns a pending request into membership, atomically."""
        member = _membership(room, username, "member", joined_at)
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table.name,
                            "Key": keys.request(room.room_id, username),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table.name,
                            "Item": member_item(member),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as e:
            if _is_condition_failure(e):
                raise NotFoundError(f"There is no pending join request from {username}.") from e
            raise
        return member

    def reject(self, room_id: str, username: str) -> None:
        try:
            self.table.delete_item(
                Key=keys.request(room_id, username),
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as e:
            if _is_condition_failure(e):
                raise NotFoundError(f"There is no pending join request from {username}.") from e
            raise

    # -- direct rooms, leaving, read positions, deletion

    def create_direct(self, room: Room, joined_at: str) -> bool:
        """Creates a direct room with both memberships; False if it exists already (two opens
        racing: the room's conditional put lets exactly one create it)."""
        members = [_membership(room, m, "member", joined_at) for m in room.members]
        try:
            self.client.transact_write_items(
                TransactItems=[
                    _put(self.table, room_item(room), "attribute_not_exists(pk)"),
                    *(_put(self.table, member_item(m)) for m in members),
                ]
            )
        except ClientError as e:
            if _is_condition_failure(e):
                return False
            raise
        return True

    def restore_member(self, room: Room, username: str, joined_at: str) -> Member | None:
        """Puts back a direct room member who had left; None if they are a member already."""
        member = _membership(room, username, "member", joined_at)
        try:
            self.table.put_item(
                Item=member_item(member), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as e:
            if _is_condition_failure(e):
                return None
            raise
        return member

    def end_membership(
        self, room_id: str, username: str, room_connection_keys: list[dict[str, str]]
    ) -> None:
        """Deletes a membership and the room's connection index items of that user in one
        transaction, so no stream batch can find one without the other. NotFoundError if the
        user is not a member. Index items past the transaction's 100-item limit (a user with
        over 99 open connections) are deleted right after, in batches."""
        in_transaction = room_connection_keys[: TRANSACTION_MAX - 1]
        try:
            self.client.transact_write_items(
                TransactItems=[
                    _delete(self.table, keys.member(room_id, username), "attribute_exists(pk)"),
                    *(_delete(self.connections_table, key) for key in in_transaction),
                ]
            )
        except ClientError as e:
            if _is_condition_failure(e):
                raise NotFoundError(f"{username} is not a member of this room.") from e
            raise
        if len(room_connection_keys) > len(in_transaction):
            _batch_write(self.connections_table, [], room_connection_keys[len(in_transaction) :])

    def mark_read(self, room_id: str, username: str, message_id: str) -> bool:
        """Moves the member's read position forward; False if it was at or past it already."""
        try:
            self.table.update_item(
                Key=keys.member(room_id, username),
                UpdateExpression="SET lastRead = :m",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(lastRead) OR lastRead < :m)",
                ExpressionAttributeValues={":m": message_id},
            )
        except ClientError as e:
            if _is_condition_failure(e):
                return False
            raise
        return True

    def mark_deleted(self, room_id: str, admin: str, deleted_at: str) -> None:
        """Turns the room's META into a tombstone: from now on the room answers not_found.
        NotFoundError if it is missing or deleted already; ForbiddenError if `admin` is not
        its admin (checked in the same conditional write, so no race can slip past)."""
        try:
            self.table.update_item(
                Key=keys.room(room_id),
                UpdateExpression="SET deletedAt = :now",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(deletedAt)"
                " AND admin = :admin",
                ExpressionAttributeValues={":now": deleted_at, ":admin": admin},
            )
        except ClientError as e:
            if _is_condition_failure(e):
                if self.get_room(room_id) is None:
                    raise NotFoundError("There is no room with that id.") from e
                raise ForbiddenError("Only the room's admin can do that.") from e
            raise

    def keep_fanout_with_workers(self, room_id: str, until: int) -> None:
        """The room's fan-out goes through the workers until `until` (epoch seconds), whatever
        its size then, so a batch posted directly cannot overtake chunks still queued."""
        try:
            self.table.update_item(
                Key=keys.room(room_id),
                UpdateExpression="SET fanoutWorkersUntil = :until",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":until": until},
            )
        except ClientError as e:
            if not _is_condition_failure(e):
                raise

    def deleted_at(self, room_id: str) -> str | None:
        """When the room was deleted; None if it is live or gone entirely."""
        item = self.table.get_item(Key=keys.room(room_id), ConsistentRead=True).get("Item")
        return str(item["deletedAt"]) if item and "deletedAt" in item else None

    def purge_page(self, room_id: str, limit: int = 100) -> int:
        """Deletes up to `limit` of a deleted room's member and request items (never its META,
        which goes last: it tells the job what it is doing); how many it deleted."""
        response = self.table.query(
            KeyConditionExpression=Key("pk").eq(keys.room_pk(room_id)) & Key("sk").gt(keys.META),
            ProjectionExpression="pk, sk",
            Limit=limit,
        )
        doomed = [{"pk": i["pk"], "sk": i["sk"]} for i in response.get("Items", [])]
        below = self.table.query(
            KeyConditionExpression=Key("pk").eq(keys.room_pk(room_id)) & Key("sk").lt(keys.META),
            ProjectionExpression="pk, sk",
            Limit=limit,
        )
        doomed += [{"pk": i["pk"], "sk": i["sk"]} for i in below.get("Items", [])]
        _batch_write(self.table, [], doomed)
        return len(doomed)

    def forget_room(self, room_id: str) -> None:
        """The last step of a purge: the tombstone itself."""
        self.table.delete_item(Key=keys.room(room_id))


# -- connections (connections table) ------------------------------------------------------------


def connection_item(connection: OpenConnection) -> dict[str, Any]:
    item: dict[str, Any] = {
        **keys.connection(connection.connection_id),
        "connectionId": connection.connection_id,
        "username": connection.username,
        "connectedAt": connection.connected_at,
        "ttl": connection.ttl,
    }
    if connection.room_ids:  # DynamoDB has no empty sets
        item["rooms"] = set(connection.room_ids)
    return item


def connection_from_item(item: dict[str, Any]) -> OpenConnection:
    return OpenConnection(
        connection_id=str(item["connectionId"]),
        username=str(item["username"]),
        connected_at=str(item.get("connectedAt", "")),
        ttl=int(item.get("ttl", 0)),
        room_ids=tuple(sorted(item.get("rooms", ()))),
    )


def index_item(key: dict[str, str], connection: Connection, ttl: int) -> dict[str, Any]:
    """A ROOM#<roomId>/CONN#<id> or USER#<lower>/CONN#<id> item: who is connected, in a Query."""
    item: dict[str, Any] = {
        **key,
        "connectionId": connection.connection_id,
        "username": connection.username,
        "ttl": ttl,
    }
    if connection.batches:
        item["batches"] = True
    return item


def connection_from_index_item(item: dict[str, Any]) -> Connection:
    return Connection(
        str(item["connectionId"]), str(item["username"]), bool(item.get("batches", False))
    )


class ConnectionsStore:
    """connections table: CONN#<id>/META, plus ROOM#<roomId>/CONN#<id> and USER#<lower>/CONN#<id>
    index items so that a room's or a user's live connections are one Query each."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def add(
        self,
        connection_id: str,
        username: str,
        connected_at: str,
        ttl: int,
        room_ids: list[str],
        batches: bool = False,
    ) -> None:
        connection = Connection(connection_id, username, batches)
        puts = [
            index_item(keys.user_connection(username, connection_id), connection, ttl),
            *(
                index_item(keys.room_connection(r, connection_id), connection, ttl)
                for r in room_ids
            ),
        ]
        meta = OpenConnection(connection_id, username, connected_at, ttl, tuple(room_ids))
        # META last: a connection is complete once its index items exist.
        _batch_write(self.table, [*puts, connection_item(meta)], [])

    def get(self, connection_id: str) -> OpenConnection | None:
        item = self.table.get_item(Key=keys.connection(connection_id)).get("Item")
        return connection_from_item(item) if item else None

    def remove(self, connection_id: str) -> ClosedConnection | None:
        """Deletes a connection and every index item that names it; None if it was unknown."""
        connection = self.get(connection_id)
        if connection is None:
            return None
        self._delete(connection)
        return ClosedConnection(
            connection_id=connection_id,
            username=connection.username,
            room_ids=connection.room_ids,
        )

    def remove_gone(
        self, connection_id: str, now: float, grace_seconds: float = GONE_GRACE_SECONDS
    ) -> bool:
        """Removes a connection that answered 410 Gone, unless it is only seconds old.

        API Gateway answers 410 for a connection whose $connect is still running, and $connect
        writes its items before the handshake completes: deleting then would orphan a live
        connection. A young one is kept; if it really is gone, its TTL or $disconnect cleans up.
        """
        connection = self.get(connection_id)
        if connection is None:
            return False
        try:
            connected = datetime.fromisoformat(connection.connected_at.replace("Z", "+00:00"))
            age = now - connected.timestamp()
        except ValueError:
            age = grace_seconds
        if age < grace_seconds:
            return False
        self._delete(connection)
        return True

    def _delete(self, connection: OpenConnection) -> None:
        connection_id = connection.connection_id
        deletes = [keys.room_connection(r, connection_id) for r in connection.room_ids]
        deletes.append(keys.user_connection(connection.username, connection_id))
        deletes.append(keys.connection(connection_id))
        _batch_write(self.table, [], deletes)

    def of_room(self, room_id: str) -> list[Connection]:
        return [c for page in self.room_pages(room_id) for c in page]

    def room_pages(self, room_id: str, page_size: int | None = None) -> Iterator[list[Connection]]:
        """The room's connections, one Query page at a time (at most `page_size` each, or
        DynamoDB's 1 MB), so that a caller can start on a page while the next is read."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(keys.room_pk(room_id))
            & Key("sk").begins_with(keys.CONNECTION_PREFIX),
            "ProjectionExpression": "connectionId, username, #b",
            "ExpressionAttributeNames": {"#b": "batches"},
        }
        if page_size is not None:
            kwargs["Limit"] = page_size
        while True:
            page = self.table.query(**kwargs)
            yield [connection_from_index_item(i) for i in page.get("Items", [])]
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def of_user(self, username: str) -> list[Connection]:
        items = _query_all(
            self.table,
            KeyConditionExpression=Key("pk").eq(keys.user_pk(username))
            & Key("sk").begins_with(keys.CONNECTION_PREFIX),
            ProjectionExpression="connectionId, username, #t, #b",
            ExpressionAttributeNames={"#t": "ttl", "#b": "batches"},
        )
        return [connection_from_index_item(i) for i in items]

    def add_room(self, room_id: str, username: str) -> list[Connection]:
        """Puts a new member's live connections into the room's index; those connections."""
        connections = self.of_user(username)
        for connection in connections:
            try:
                response = self.table.update_item(
                    Key=keys.connection(connection.connection_id),
                    UpdateExpression="ADD rooms :r",
                    ConditionExpression=Attr("pk").exists(),
                    ExpressionAttributeValues={":r": {room_id}},
                    ReturnValues="ALL_NEW",
                )
            except ClientError as e:
                if _is_condition_failure(e):
                    continue  # disconnected meanwhile
                raise
            ttl = int(response["Attributes"].get("ttl", 0))
            key = keys.room_connection(room_id, connection.connection_id)
            self.table.put_item(Item=index_item(key, connection, ttl))
        return connections

    def drop_room(self, room_id: str, connection_ids: list[str]) -> None:
        """Takes a room out of these connections' own items (their `rooms` set), after the
        membership ended. Best effort: a connection that closed meanwhile is skipped, and a
        stale entry only makes $disconnect delete an index item that is gone already."""
        for connection_id in connection_ids:
            try:
                self.table.update_item(
                    Key=keys.connection(connection_id),
                    UpdateExpression="DELETE rooms :r",
                    ConditionExpression=Attr("pk").exists(),
                    ExpressionAttributeValues={":r": {room_id}},
                )
            except ClientError as e:
                if not _is_condition_failure(e):
                    raise

    def claim_typing(self, room_id: str, username: str, now: float, window: float) -> bool:
        """True at most once per `window` seconds per user and room, across every container:
        one conditional PutItem of a short-lived item (TTL sweeps it up)."""
        try:
            self.table.put_item(
                Item={
                    **keys.typing(room_id, username),
                    "until": int((now + window) * 1000),
                    "ttl": int(now + window) + 60,
                },
                ConditionExpression="attribute_not_exists(pk) OR #u <= :now",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":now": int(now * 1000)},
            )
        except ClientError as e:
            if _is_condition_failure(e):
                return False
            raise
        return True

    def purge_room_index(self, room_id: str, limit: int = 100) -> int:
        """Deletes up to `limit` ROOM#<id>/CONN# index items of a deleted room; how many."""
        response = self.table.query(
            KeyConditionExpression=Key("pk").eq(keys.room_pk(room_id))
            & Key("sk").begins_with(keys.CONNECTION_PREFIX),
            ProjectionExpression="pk, sk",
            Limit=limit,
        )
        doomed = [{"pk": i["pk"], "sk": i["sk"]} for i in response.get("Items", [])]
        _batch_write(self.table, [], doomed)
        return len(doomed)


# -- messages (messages table) ------------------------------------------------------------------


def message_item(message: Message) -> dict[str, Any]:
    """The Messages table's attributes. The stream processor reads the same names back from
    stream images (message_from_item), so they are a contract of their own, not the wire's."""
    item: dict[str, Any] = {
        "roomId": message.room_id,
        "messageId": message.message_id,
        "username": message.username,
        "text": message.text,
        "createdAt": message.created_at,
    }
    if message.client_message_id is not None:
        item["clientMessageId"] = message.client_message_id
    if not message.deleted:
        item["textLower"] = search_text(message.text)
    if message.edited_at is not None:
        item["editedAt"] = message.edited_at
    if message.deleted:
        item["deleted"] = True
    if message.reactions:
        item["reactions"] = {
            reaction_entry(emoji, user) for emoji, users in message.reactions for user in users
        }
    if message.attachments:
        item["attachments"] = [
            {
                "uploadId": a.upload_id,
                "filename": a.filename,
                "contentType": a.content_type,
                "size": a.size,
            }
            for a in message.attachments
        ]
    return item


def attachments_from_item(entries: Any) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(
            upload_id=str(e["uploadId"]),
            filename=str(e["filename"]),
            content_type=str(e["contentType"]),
            size=int(e["size"]),
        )
        for e in entries or ()
    )


def search_text(text: str) -> str:
    """The copy of a message's text that search filters on: case-folded (so `ß` matches `SS`)."""
    return text.casefold()


# A reaction is one string in the item's `reactions` set: "<emoji> <username>" (usernames have
# no spaces, emojis are checked to hold none), so toggling one is a single ADD or DELETE.
def reaction_entry(emoji: str, username: str) -> str:
    return f"{emoji} {username}"


def reactions_from_entries(entries: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    by_emoji: dict[str, list[str]] = {}
    for entry in entries or ():
        emoji, _, user = str(entry).rpartition(" ")
        if emoji and user:
            by_emoji.setdefault(emoji, []).append(user)
    return tuple(
        (emoji, tuple(sorted(users, key=str.lower))) for emoji, users in sorted(by_emoji.items())
    )


def message_from_item(item: dict[str, Any]) -> Message:
    return Message(
        room_id=str(item["roomId"]),
        message_id=str(item["messageId"]),
        username=str(item["username"]),
        text=str(item["text"]),
        created_at=str(item["createdAt"]),
        client_message_id=str(item["clientMessageId"]) if item.get("clientMessageId") else None,
        edited_at=str(item["editedAt"]) if item.get("editedAt") else None,
        deleted=bool(item.get("deleted", False)),
        reactions=reactions_from_entries(item.get("reactions")),
        attachments=attachments_from_item(item.get("attachments")),
    )


_deserializer = TypeDeserializer()


def message_from_stream_image(image: dict[str, Any]) -> Message:
    """A Messages stream record's NewImage (DynamoDB JSON) as a Message; KeyError, TypeError
    or ValueError when it is not one."""
    return message_from_item({k: _deserializer.deserialize(v) for k, v in image.items()})


class MessagesStore:
    """messages table: roomId + messageId (time-sortable). Its stream drives the fan-out."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def put(self, message: Message) -> None:
        try:
            self.table.put_item(
                Item=message_item(message),
                ConditionExpression="attribute_not_exists(messageId)",
            )
        except ClientError as e:
            if _is_condition_failure(e):
                raise ConflictError("That message id exists already.") from e
            raise

    def page(
        self, room_id: str, limit: int, before: str | None, after: str | None
    ) -> tuple[list[Message], bool]:
        """Up to `limit` messages, oldest first, and whether more lie beyond in that direction."""
        condition = Key("roomId").eq(room_id)
        if after:
            condition = condition & Key("messageId").gt(after)
        elif before:
            condition = condition & Key("messageId").lt(before)
        newest_first = after is None
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ScanIndexForward": not newest_first,
            "Limit": limit + 1,
        }
        # One extra item tells whether there is more; a Limit may still stop short of it.
        while len(items) < limit + 1:
            response = self.table.query(**kwargs)
            items.extend(response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
            kwargs["Limit"] = limit + 1 - len(items)
        has_more = len(items) > limit
        messages = [message_from_item(i) for i in items[:limit]]
        if newest_first:
            messages.reverse()
        return messages, has_more

    def get(self, room_id: str, message_id: str) -> Message | None:
        item = self.table.get_item(Key={"roomId": room_id, "messageId": message_id}).get("Item")
        return message_from_item(item) if item else None

    def newest(self, room_id: str) -> Message | None:
        items = self.table.query(
            KeyConditionExpression=Key("roomId").eq(room_id), ScanIndexForward=False, Limit=1
        ).get("Items", [])
        return message_from_item(items[0]) if items else None

    def unread(
        self, room_id: str, reader: str, after: str, cap: int, max_pages: int = 3
    ) -> tuple[int, Message | None]:
        """Messages after `after` by others than `reader`, counted up to `cap`, and the newest
        message after `after` (None if there is none). One Query, newest first, of at most
        cap + 1 items per page; a few more pages only when the reader's own messages fill them."""
        count = 0
        newest: Message | None = None
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("roomId").eq(room_id) & Key("messageId").gt(after),
            "ScanIndexForward": False,
            "Limit": cap + 1,
        }
        for _ in range(max_pages):
            response = self.table.query(**kwargs)
            for item in response.get("Items", []):
                if newest is None:
                    newest = message_from_item(item)
                if user_key(str(item.get("username", ""))) != user_key(reader):
                    count += 1
            last = response.get("LastEvaluatedKey")
            if count >= cap or not last:
                break
            kwargs["ExclusiveStartKey"] = last
        return min(count, cap), newest

    # -- message life: each change is one conditional UpdateItem; the stream delivers it

    def _update(self, room_id: str, message_id: str, **kwargs: Any) -> bool:
        """An UpdateItem on the message; False when its condition failed."""
        try:
            self.table.update_item(Key={"roomId": room_id, "messageId": message_id}, **kwargs)
        except ClientError as e:
            if _is_condition_failure(e):
                return False
            raise
        return True

    def edit(self, room_id: str, message_id: str, author: str, text: str, edited_at: str) -> bool:
        """Replaces the text of `author`'s live message; False if it is not theirs, gone or
        deleted meanwhile (the caller read it first and tells which)."""
        return self._update(
            room_id,
            message_id,
            UpdateExpression="SET #t = :t, textLower = :l, editedAt = :e",
            ConditionExpression="attribute_exists(messageId) AND attribute_not_exists(deleted)"
            " AND username = :u",
            ExpressionAttributeNames={"#t": "text"},
            ExpressionAttributeValues={
                ":t": text,
                ":l": search_text(text),
                ":e": edited_at,
                ":u": author,
            },
        )

    def delete(self, room_id: str, message_id: str) -> bool:
        """Leaves a tombstone: the text, its search copy and the reactions are removed from
        storage; id, author and time stay so history keeps its order. False if already gone."""
        return self._update(
            room_id,
            message_id,
            UpdateExpression="SET #t = :empty, deleted = :yes REMOVE textLower, reactions",
            ConditionExpression="attribute_exists(messageId) AND attribute_not_exists(deleted)",
            ExpressionAttributeNames={"#t": "text"},
            ExpressionAttributeValues={":empty": "", ":yes": True},
        )

    def react(
        self, room_id: str, message_id: str, emoji: str, username: str, on: bool, max_entries: int
    ) -> bool:
        """Adds or removes one user's emoji; False if the message is deleted or gone, or (adding)
        it already holds `max_entries` reactions."""
        entry = {reaction_entry(emoji, username)}
        live = "attribute_exists(messageId) AND attribute_not_exists(deleted)"
        if on:
            return self._update(
                room_id,
                message_id,
                UpdateExpression="ADD reactions :r",
                ConditionExpression=f"{live} AND (attribute_not_exists(reactions)"
                " OR size(reactions) < :max OR contains(reactions, :one))",
                ExpressionAttributeValues={
                    ":r": entry,
                    ":max": max_entries,
                    ":one": reaction_entry(emoji, username),
                },
            )
        return self._update(
            room_id,
            message_id,
            UpdateExpression="DELETE reactions :r",
            ConditionExpression=live,
            ExpressionAttributeValues={":r": entry},
        )

    def search(
        self,
        room_id: str,
        words: list[str],
        limit: int,
        before: str | None,
        page_size: int = 200,
        max_pages: int = 5,
    ) -> tuple[list[Message], str | None]:
        """Live messages whose search copy holds every word, newest first; and the cursor to
        go on from (None when the room's beginning was reached). Reads at most `max_pages`
        pages of `page_size` messages per call, so a call's cost is bounded whatever the room's
        size; the cursor carries on where it stopped."""
        condition = Key("roomId").eq(room_id)
        if before:
            condition = condition & Key("messageId").lt(before)
        matches = Attr("deleted").not_exists()
        for word in words:
            matches = matches & Attr("textLower").contains(word)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "FilterExpression": matches,
            "ScanIndexForward": False,
            "Limit": page_size,
        }
        found: list[Message] = []
        for _ in range(max_pages):
            response = self.table.query(**kwargs)
            found.extend(message_from_item(i) for i in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if len(found) > limit or (len(found) == limit and last):
                return found[:limit], found[limit - 1].message_id
            if not last:
                return found, None
            kwargs["ExclusiveStartKey"] = last
        return found, str(kwargs["ExclusiveStartKey"]["messageId"])

    def purge_page(self, room_id: str, limit: int = 100) -> int:
        """Deletes up to `limit` of a room's messages, oldest first; how many it deleted. The
        job calls it until it returns 0: each call starts afresh, so a job cut off by a timeout
        resumes where it stopped by simply running again."""
        response = self.table.query(
            KeyConditionExpression=Key("roomId").eq(room_id),
            ProjectionExpression="roomId, messageId",
            Limit=limit,
        )
        doomed = [
            {"roomId": i["roomId"], "messageId": i["messageId"]} for i in response.get("Items", [])
        ]
        _batch_write(self.table, [], doomed)
        return len(doomed)


# -- abuse limits (limits table) ----------------------------------------------------------------


class LimitsStore:
    """limits table: RATE#<what>#<who> items holding a GCRA theoretical arrival time (`tat`,
    epoch milliseconds). One conditional UpdateItem per limited action when the container's
    last sight of the key predicts its state (idle, or inside a burst); a second only when it
    does not (another container wrote the key, or the container is new): the first's failure
    returns the old item, so the second needs no read."""

    # Keys whose last tat this container saw; bounded so a container serving many users keeps
    # its memory flat (a forgotten key costs at most one extra write, never a wrong answer).
    SEEN_KEYS = 10_000

    def __init__(self, table: Any) -> None:
        self.table = table
        self._seen: dict[str, int] = {}

    def _update(
        self, key: dict[str, str], condition: str, tat: str, values: dict[str, Any]
    ) -> tuple[bool, dict[str, Any]]:
        """(True, the new attributes) when the update was made; (False, the old item) when the
        condition failed."""
        try:
            response = self.table.update_item(
                Key=key,
                UpdateExpression=f"SET tat = {tat}, #ttl = :ttl",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as e:
            if not _is_condition_failure(e):
                raise
            # The error carries the old item in the low-level (typed) form.
            raw = e.response.get("Item") or {}
            return False, {k: _deserializer.deserialize(v) for k, v in raw.items()}
        return True, response.get("Attributes") or {}

    def _remember(self, key: dict[str, str], tat: Any) -> None:
        if tat is None:
            return
        pk = key["pk"]
        self._seen.pop(pk, None)
        if len(self._seen) >= self.SEEN_KEYS:
            del self._seen[next(iter(self._seen))]  # the least recently used
        self._seen[pk] = int(tat)

    def take(self, key: dict[str, str], now_ms: int, bucket: Bucket) -> int:
        """GCRA (chat.gcra.admit, in the bucket's ticks): take one unit; 0 when admitted, else
        the milliseconds until one is free.

        Admitted iff tat <= now + tolerance; then tat = max(tat, now) + interval. The max is two
        condition branches: idle (no item, or tat < now) sets now + interval; inside a burst
        (now <= tat <= now + tolerance) adds interval to tat. The branch tried first is the one
        the container's last sight of the key predicts. A refused take writes nothing."""
        now, interval, tolerance = bucket.ticks(now_ms), bucket.interval, bucket.tolerance
        # Past the latest tat an admitted take can leave, the item is idle: TTL may remove it.
        ttl = -(-bucket.ms(now + tolerance + interval) // 1000) + 60
        idle = (
            "attribute_not_exists(tat) OR tat < :now",
            ":next",
            {":now": now, ":next": now + interval, ":ttl": ttl},
        )
        burst = (
            "tat BETWEEN :now AND :limit",
            "tat + :interval",
            {":now": now, ":limit": now + tolerance, ":interval": interval, ":ttl": ttl},
        )
        seen = self._seen.get(key["pk"])
        predicted = burst if seen is not None and seen >= now else idle
        made, item = self._update(key, *predicted)
        if made:
            self._remember(key, item.get("tat"))
            return 0
        tat = int(item["tat"]) if "tat" in item else None
        if gcra.admit(bucket, tat, now) is not None:
            other = idle if tat is None or tat < now else burst
            made, item = self._update(key, *other)
            if made:
                self._remember(key, item.get("tat"))
                return 0
            # Another container took the last unit meanwhile.
            tat = int(item["tat"]) if "tat" in item else None
        self._remember(key, tat)
        return max(1, bucket.ms(gcra.wait(bucket, tat, now)))

    def wait_ms(self, key: dict[str, str], now_ms: int, bucket: Bucket) -> int:
        """Without taking: 0 when one unit is free, else the milliseconds until one is."""
        item = self.table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
        tat = int(item["tat"]) if "tat" in item else None
        return bucket.ms(gcra.wait(bucket, tat, bucket.ticks(now_ms)))

    def count(self, key: dict[str, str], now_ms: int, window_ms: int) -> None:
        """Adds one to a fixed window's count (`n`, window ending at `end`): an increment of the
        open window, else a new window; one UpdateItem in the common case."""
        ttl = (now_ms + window_ms) // 1000 + 60
        try:
            self.table.update_item(
                Key=key,
                UpdateExpression="ADD n :one",
                ConditionExpression="#end > :now",
                ExpressionAttributeNames={"#end": "end"},
                ExpressionAttributeValues={":one": 1, ":now": now_ms},
            )
            return
        except ClientError as e:
            if not _is_condition_failure(e):
                raise
        try:
            self.table.update_item(
                Key=key,
                UpdateExpression="SET n = :one, #end = :end, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#end) OR #end <= :now",
                ExpressionAttributeNames={"#end": "end", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":one": 1,
                    ":now": now_ms,
                    ":end": now_ms + window_ms,
                    ":ttl": ttl,
                },
            )
        except ClientError as e:
            if not _is_condition_failure(e):
                raise
            # Another container opened the window meanwhile: count in it.
            self.count(key, now_ms, window_ms)

    def windows(self, keys_: list[dict[str, str]]) -> dict[str, tuple[int, int]]:
        """pk => (count, window end in ms) of the windows that exist, in one BatchGetItem."""
        response = self.table.meta.client.batch_get_item(  # one read of both windows
            RequestItems={
                self.table.name: {
                    "Keys": keys_,
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, n, #end",
                    "ExpressionAttributeNames": {"#end": "end"},
                }
            }
        )
        items = response.get("Responses", {}).get(self.table.name, [])
        found: dict[str, tuple[int, int]] = {}
        # A resource's client (table.meta.client) already gives plain values.
        for item in items:
            found[str(item["pk"])] = (int(item.get("n", 0)), int(item.get("end", 0)))
        return found
