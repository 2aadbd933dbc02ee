"""Outbox kinds for registration targets: callback requests and finished contacts.

One item per target: the payload names the adapter instance (`target`) that registers
it, so the daemon resolves the adapter from the row and a tenant with two targets (Open
Klant and the console's list) gets two independent items. A failure is the target's
business alone: the state machine does not react to a dead-lettered registration (the
citizen was already told their request is taken; the operator sees the dead letter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

import structlog

from handover import events as ev
from handover.engine.outbox.kinds import Delivered, Operation, OutboxKind
from handover.model import JSON, Conversation, OutboxRow, TranscriptEntry
from handover.sdk.contracts import Adapter
from handover.sdk.errors import PermanentError
from handover.sdk.registration import (
    AddressKind,
    CallbackRequest,
    ContactRecord,
    RegistrationReceipt,
    RegistrationTarget,
)

log = structlog.get_logger("handover.delivery")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def callback_to_json(r: CallbackRequest) -> JSON:
    """A callback request as the outbox row holds it (and the erasure code clears it)."""
    return {
        "request_id": r.request_id,
        "reference": r.reference,
        "tenant": r.tenant,
        "conversation_id": r.conversation_id,
        "channel": r.channel,
        "channel_type": r.channel_type,
        "language": r.language,
        "placed_at": r.placed_at.isoformat(),
        "address_kind": r.address_kind.value,
        "address": r.address,
        "question": r.question,
        "name": r.name,
        "topic": r.topic,
        "topic_label": r.topic_label,
        "callback_after": _time(r.callback_after),
        "callback_text": r.callback_text,
    }


def callback_from_json(data: Mapping[str, Any]) -> CallbackRequest:
    placed = _parse_time(data["placed_at"])
    if placed is None:
        raise ValueError("placed_at is missing")
    return CallbackRequest(
        request_id=str(data["request_id"]),
        reference=str(data["reference"]),
        tenant=str(data["tenant"]),
        conversation_id=str(data["conversation_id"]),
        channel=str(data["channel"]),
        channel_type=str(data.get("channel_type") or ""),
        language=str(data.get("language") or ""),
        placed_at=placed,
        address_kind=AddressKind(data["address_kind"]),
        address=str(data["address"]),
        question=str(data.get("question") or ""),
        name=data.get("name"),
        topic=data.get("topic"),
        topic_label=data.get("topic_label"),
        callback_after=_parse_time(data.get("callback_after")),
        callback_text=data.get("callback_text"),
    )


def contact_to_json(r: ContactRecord) -> JSON:
    return {
        "record_id": r.record_id,
        "tenant": r.tenant,
        "conversation_id": r.conversation_id,
        "channel": r.channel,
        "channel_type": r.channel_type,
        "language": r.language,
        "started_at": r.started_at.isoformat(),
        "ended_at": r.ended_at.isoformat(),
        "outcome": r.outcome,
        "succeeded": r.succeeded,
        "topic": r.topic,
        "topic_label": r.topic_label,
        "agent_name": r.agent_name,
        "agent_id": r.agent_id,
        "content": r.content,
        "transcript": [e.to_json() for e in r.transcript],
    }


def contact_from_json(data: Mapping[str, Any]) -> ContactRecord:
    started, ended = _parse_time(data["started_at"]), _parse_time(data["ended_at"])
    if started is None or ended is None:
        raise ValueError("started_at or ended_at is missing")
    conversation_id = str(data["conversation_id"])
    succeeded = data.get("succeeded")
    return ContactRecord(
        record_id=str(data["record_id"]),
        tenant=str(data["tenant"]),
        conversation_id=conversation_id,
        channel=str(data["channel"]),
        channel_type=str(data.get("channel_type") or ""),
        language=str(data.get("language") or ""),
        started_at=started,
        ended_at=ended,
        outcome=str(data["outcome"]),
        succeeded=succeeded if isinstance(succeeded, bool) else None,
        topic=data.get("topic"),
        topic_label=data.get("topic_label"),
        agent_name=data.get("agent_name"),
        agent_id=data.get("agent_id"),
        content=data.get("content"),
        transcript=tuple(
            TranscriptEntry.from_json(conversation_id, e) for e in data.get("transcript", ())
        ),
    )


def _target_of(a: Any, target: str) -> RegistrationTarget:
    if not isinstance(a, RegistrationTarget):
        # The configuration refuses this; a row written under an older one can still
        # name an instance that changed type. Retrying would not help.
        raise PermanentError(f"adapter {target!r} is not a registration target")
    return a


def _registered(r: OutboxRow, receipt: RegistrationReceipt | None) -> Delivered:
    log.info(
        "registry.registered",
        outbox_id=r.id,
        conversation_id=r.conversation_id,
        kind=r.kind,
        external_id=receipt.external_id if receipt is not None else None,
    )
    return Delivered()


# --- registry.callback ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryCallbackPayload:
    """A callback request for one registration target (adapter instance `target`)."""

    KIND: ClassVar[OutboxKind] = OutboxKind.REGISTRY_CALLBACK
    target: str
    request: CallbackRequest

    def encode(self) -> JSON:
        return {"target": self.target, "request": callback_to_json(self.request)}

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(target=str(data["target"]), request=callback_from_json(data["request"]))


def registered_key(a: Adapter, r: OutboxRow) -> tuple[str, str]:
    """The inbox key of the `Registered` event a delivered callback request produces."""
    return ("delivery", f"registered:{r.id}")


async def send_registry_callback(
    a: Any, c: Conversation, r: OutboxRow, p: RegistryCallbackPayload
) -> Delivered:
    receipt = await _target_of(a, p.target).register_callback(p.request)
    _registered(r, receipt)
    # Recorded durably before the item is removed, like a bot's reply: the report
    # counts registrations that reached the contact centre.
    source, source_id = registered_key(a, r)
    return Delivered(follow_up=ev.Registered(
        conversation_id=r.conversation_id, source=source, source_id=source_id,
        correlation_id=r.correlation_id, kind=r.kind, target=p.target,
    ))


# --- registry.contact -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryContactPayload:
    """A finished human contact for one registration target (adapter instance `target`)."""

    KIND: ClassVar[OutboxKind] = OutboxKind.REGISTRY_CONTACT
    target: str
    record: ContactRecord

    def encode(self) -> JSON:
        return {"target": self.target, "record": contact_to_json(self.record)}

    @classmethod
    def decode(cls, data: Mapping[str, Any], conversation_id: str) -> Self:
        return cls(target=str(data["target"]), record=contact_from_json(data["record"]))


async def send_registry_contact(
    a: Any, c: Conversation, r: OutboxRow, p: RegistryContactPayload
) -> Delivered:
    receipt = await _target_of(a, p.target).register_contact(p.record)
    return _registered(r, receipt)


def target_of_row(row: OutboxRow) -> str:
    """The adapter instance a registry row goes to (KeyError for a row without one)."""
    return str(row.payload["target"])


OPERATIONS: tuple[Operation[Any], ...] = (
    Operation(RegistryCallbackPayload, send_registry_callback,
              follow_up_key=registered_key, auth_is_final=True),
    Operation(RegistryContactPayload, send_registry_contact, auth_is_final=True),
)
