"""What every outbox kind has: its name, its payload's shape and its delivery operation.

An outbox row stores a kind (a string) and a JSON payload. Each kind has a frozen
dataclass payload whose `encode` writes that JSON and whose `decode` reads it back, and
an `Operation` that hands the decoded payload to the target adapter. The router builds
payloads (`handover.engine.steps`), the store keeps them as rows, the outbox worker
(`handover.engine.worker`) runs the operation of a claimed row's kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from handover import events as ev
from handover.model import JSON, Conversation, OutboxItem, OutboxRow
from handover.model import OutboxKind as OutboxKind
from handover.sdk.contracts import Adapter


class OutboxPayload(Protocol):
    """The payload of one outbox kind (an extension point: a new kind adds one).

    `encode` must write exactly the JSON that rows of the kind already hold, and
    `decode` must read every row ever written, so that items stored by an earlier
    version are still delivered after an upgrade: add keys only with a default.
    `decode` raises KeyError or ValueError on a row that lacks what it needs; the
    worker then retries the item like a failed send.
    """

    KIND: ClassVar[OutboxKind]

    def encode(self) -> JSON: ...

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self: ...


P = TypeVar("P", bound=OutboxPayload)


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a successful send produced, for the worker to record before completing."""

    #: An inbound event the target answered with (a bot's reply, the desk's
    #: availability), ingested before the item is removed.
    follow_up: ev.Event | None = None
    #: The inbox key of the echo the target will send of what we posted (the desk's id
    #: for our message), recorded as seen so the echo is dropped.
    echo_key: tuple[str, str] | None = None


#: Sends a decoded payload through the target's adapter: (adapter, conversation, row,
#: payload). Raises the adapter's TransientError, AuthError, PermanentError or
#: AmbiguousSendError, which the worker classifies.
Send = Callable[[Any, Conversation, OutboxRow, P], Awaitable[Delivered]]


@dataclass(frozen=True, slots=True)
class Operation(Generic[P]):
    """How items of one kind are delivered."""

    payload_type: type[P]
    send: Send[P]
    #: The inbox key of the event a successful send produces, if any: an item found
    #: in flight after a crash is complete when that event is already in the inbox.
    follow_up_key: Callable[[Adapter, OutboxRow], tuple[str, str]] | None = None
    #: Skip the send when control changed since the item was written.
    skip_stale: bool = False
    #: The citizen waits for this delivery (told when a desk outage delays it).
    citizen_waits: bool = False
    #: An AuthError dead-letters the item instead of retrying it slowly (the operator
    #: replays it once the credentials are fixed): for work nobody waits for.
    auth_is_final: bool = False

    @property
    def kind(self) -> OutboxKind:
        return self.payload_type.KIND

    async def deliver(self, adapter: Adapter, conv: Conversation, row: OutboxRow) -> Delivered:
        """Decode the row's payload and send it (errors as `Send` and `decode` say)."""
        payload = self.payload_type.decode(row.payload, row.conversation_id)
        return await self.send(adapter, conv, row, payload)


def outbox_item(
    conversation_id: str, payload: OutboxPayload, epoch: int, correlation_id: str
) -> OutboxItem:
    """The outbox row that carries `payload` to its kind's target."""
    return OutboxItem(
        conversation_id=conversation_id,
        target=payload.KIND.target,
        kind=payload.KIND.value,
        payload=payload.encode(),
        epoch=epoch,
        correlation_id=correlation_id,
    )
