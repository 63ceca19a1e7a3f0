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

from chat import keys
from chat.errors import ConflictError, NotFoundError, UsernameTakenError
from chat.models import (
    ClosedConnection,
    Connection,
    JoinRequest,
    Member,
    Message,
    OpenConnection,
    Room,
    User,
)

BATCH_WRITE_MAX = 25
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
    )


def ticket_item(ticket_hash: str, username: str, expires_at: int) -> dict[str, Any]:
    return {
        **keys.ticket(ticket_hash),
        "username": username,
        "expiresAt": expires_at,
        "ttl": expires_at,
    }


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

    def put_ticket(self, ticket_hash: str, username: str, expires_at: int) -> None:
        self.table.put_item(Item=ticket_item(ticket_hash, username, expires_at))

    def consume_ticket(self, ticket_hash: str, now: int) -> str | None:
        """Deletes the ticket if it exists and has not expired; its username, else None.

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
        username = attributes.get("username")
        return str(username) if username else None


# -- rooms, memberships and join requests (rooms table) -----------------------------------------


def room_item(room: Room) -> dict[str, Any]:
    return {
        **keys.room(room.room_id),
        "roomId": room.room_id,
        "name": room.name,
        "admin": room.admin,
        "createdAt": room.created_at,
    }


def room_from_item(item: dict[str, Any]) -> Room:
    return Room(
        room_id=str(item["roomId"]),
        name=str(item["name"]),
        admin=str(item["admin"]),
        created_at=str(item["createdAt"]),
    )


def member_item(member: Member) -> dict[str, Any]:
    """userKey is the byUser index's partition key: "my rooms" is one Query."""
    return {
        **keys.member(member.room_id, member.username),
        "roomId": member.room_id,
        "username": member.username,
        "role": member.role,
        "joinedAt": member.joined_at,
        "userKey": keys.user_pk(member.username),
        "roomName": member.room_name,
        "roomCreatedAt": member.room_created_at,
    }


def member_from_item(item: dict[str, Any]) -> Member:
    return Member(
        room_id=str(item["roomId"]),
        username=str(item["username"]),
        role=str(item["role"]),
        joined_at=str(item["joinedAt"]),
        room_name=str(item.get("roomName", "")),
        room_created_at=str(item.get("roomCreatedAt", "")),
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
    return Member(room.room_id, username, role, joined_at, room.name, room.created_at)


class RoomsStore:
    """rooms table: ROOM#<id> with META, MEMBER#<lower> and REQUEST#<lower> items.

    Member items carry userKey (GSI byUser) and a copy of the room's name and creation time,
    so "my rooms" is one Query with no follow-up reads (rooms are never renamed).
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self.client = table.meta.client

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
        item = self.table.get_item(Key=keys.room(room_id)).get("Item")
        return room_from_item(item) if item else None

    def get_member(self, room_id: str, username: str) -> Member | None:
        item = self.table.get_item(Key=keys.member(room_id, username)).get("Item")
        return member_from_item(item) if item else None

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
    return {
        **key,
        "connectionId": connection.connection_id,
        "username": connection.username,
        "ttl": ttl,
    }


def connection_from_index_item(item: dict[str, Any]) -> Connection:
    return Connection(str(item["connectionId"]), str(item["username"]))


class ConnectionsStore:
    """connections table: CONN#<id>/META, plus ROOM#<roomId>/CONN#<id> and USER#<lower>/CONN#<id>
    index items so that a room's or a user's live connections are one Query each."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def add(
        self, connection_id: str, username: str, connected_at: str, ttl: int, room_ids: list[str]
    ) -> None:
        connection = Connection(connection_id, username)
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
        items = _query_all(
            self.table,
            KeyConditionExpression=Key("pk").eq(keys.room_pk(room_id))
            & Key("sk").begins_with(keys.CONNECTION_PREFIX),
            ProjectionExpression="connectionId, username",
        )
        return [connection_from_index_item(i) for i in items]

    def of_user(self, username: str) -> list[Connection]:
        items = _query_all(
            self.table,
            KeyConditionExpression=Key("pk").eq(keys.user_pk(username))
            & Key("sk").begins_with(keys.CONNECTION_PREFIX),
            ProjectionExpression="connectionId, username, #t",
            ExpressionAttributeNames={"#t": "ttl"},
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
    return item


def message_from_item(item: dict[str, Any]) -> Message:
    return Message(
        room_id=str(item["roomId"]),
        message_id=str(item["messageId"]),
        username=str(item["username"]),
        text=str(item["text"]),
        created_at=str(item["createdAt"]),
        client_message_id=str(item["clientMessageId"]) if item.get("clientMessageId") else None,
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
