"""The step builder's share of callback requests and registrations.

Turns `CountCallback`, `SuggestQuestion`, `RegisterCallback` and `RegisterContact` into
rows of the step being built: handover events for the report, the citizen's
confirmation with its reference, and one `registry.*` outbox item per target, all in
the same transaction as the state change that produced them.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from handover.config.hours.moment import describe_callback_time
from handover.control import effects as fx
from handover.engine.outbox import RegistryCallbackPayload, RegistryContactPayload
from handover.model import Party, TranscriptEntry, thread_id
from handover.sdk.registration import AddressKind, CallbackRequest, ContactRecord

if TYPE_CHECKING:
    from handover.engine.steps import StepBuilder

#: Letters and digits that cannot be mistaken for one another when read, typed or
#: spoken (no 0/O, 1/I/L, 2/Z, 5/S, 8/B, G/6, Q): 21 symbols, 6 long, ~86 million.
REFERENCE_ALPHABET = "ACDEFHJKMNPRTUVWXY347"
REFERENCE_LENGTH = 6
#: Context key (internal): [handover number, ISO time] of the start of the human stretch.
STRETCH_STARTED = "stretch_started"
#: How many transcript entries are searched for the citizen's last question.
_QUESTION_LOOKBACK = 30
_MAX_SUGGESTED = 300


def new_reference() -> str:
    """A short reference the citizen can read out to the contact centre."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def targets(b: StepBuilder, *, contacts: bool) -> list[str]:
    """The tenant's registration targets that take callbacks (or contacts)."""
    wanted = "registers_contacts" if contacts else "registers_callbacks"
    return [
        name for name in b.tenant.registries
        if (inst := b.adapters.get(name)) is not None and getattr(inst.cls, wanted, False)
    ]


def _signal(b: StepBuilder) -> Mapping[str, Any]:
    signal = b.conv.context.get("handover")
    return signal if isinstance(signal, Mapping) else {}


async def count_callback(b: StepBuilder, e: fx.CountCallback) -> None:
    b.callbacks.append(e.outcome)
    b.handover_event(f"callback_{e.outcome}", reason=e.reason)


async def suggest_question(b: StepBuilder, e: fx.SuggestQuestion) -> None:
    earlier = await b.store.transcript_tail(b.conv.id, _QUESTION_LOOKBACK)
    question = next(
        (x.content.text.strip() for x in reversed([*earlier, *b.transcript])
         if x.party is Party.CITIZEN and len(x.content.text.strip()) > 3),
        None,
    )
    data = b.conv.context.get("callback")
    if question and isinstance(data, Mapping):
        context = {**b.conv.context, "callback": {**data, "suggested": question[:_MAX_SUGGESTED]}}
        b.conv = b.conv.evolve(context=context)


async def register_callback(b: StepBuilder, e: fx.RegisterCallback) -> None:
    reference = new_reference()
    hours = b.tenant.hours
    opens = None if hours.is_open(b.now) else hours.next_open(b.now)
    when = describe_callback_time(opens, b.now, b.conv.language)
    # On the phone the reference is read out letter by letter.
    told = " ".join(reference) if b.caps.spoken else reference
    b.notify_text("callback_confirmed", {"reference": told, "when": when})
    signal = _signal(b)
    request = CallbackRequest(
        request_id=uuid.uuid4().hex,
        reference=reference,
        tenant=b.conv.tenant,
        conversation_id=b.conv.id,
        channel=b.conv.channel,
        channel_type=b.channel_type,
        language=b.conv.language,
        placed_at=b.now,
        address_kind=AddressKind(e.address_kind),
        address=e.address,
        question=e.question,
        name=e.name,
        topic=signal.get("topic"),
        callback_after=opens,
        callback_text=when,
    )
    for target in targets(b, contacts=False):
        b.queue(RegistryCallbackPayload(target=target, request=request))


def _stretch_start(b: StepBuilder) -> datetime:
    mark = b.conv.context.get(STRETCH_STARTED)
    if isinstance(mark, list) and len(mark) == 2 and mark[0] == b.conv.handover_no:
        return datetime.fromisoformat(str(mark[1]))
    return b.conv.created_at or b.now


def mark_stretch_start(b: StepBuilder) -> None:
    """The handover was queued at the desk or put through: its contact starts now."""
    mark = [b.conv.handover_no, b.now.isoformat()]
    b.conv = b.conv.evolve(context={**b.conv.context, STRETCH_STARTED: mark})


async def register_contact(b: StepBuilder, e: fx.RegisterContact) -> None:
    policy = b.tenant.registration
    if not policy.contacts or not b.conv.handover_no:
        return
    names = targets(b, contacts=True)
    if not names:
        return
    topic = _signal(b).get("topic")
    content = {"none": None, "topic": topic, "summary": e.summary}[policy.content]
    transcript: tuple[TranscriptEntry, ...] = ()
    if policy.transcript:
        earlier = await b.store.transcript_tail(b.conv.id, 200)
        transcript = tuple(x for x in [*earlier, *b.transcript] if x.seq > 0)
    agent_id = b.conv.context.get("agent_id")
    record = ContactRecord(
        record_id=thread_id(b.conv.id, b.conv.handover_no),
        tenant=b.conv.tenant,
        conversation_id=b.conv.id,
        channel=b.conv.channel,
        channel_type=b.channel_type,
        language=b.conv.language,
        started_at=_stretch_start(b),
        ended_at=b.now,
        outcome=e.outcome,
        succeeded=e.succeeded,
        topic=topic,
        agent_name=e.agent_name,
        agent_id=str(agent_id) if agent_id and e.succeeded else None,
        content=content,
        transcript=transcript,
    )
    for target in names:
        b.queue(RegistryContactPayload(target=target, record=record))
