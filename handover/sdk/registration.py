"""The registration-target contract: where the daemon records callback requests and
finished contacts outside itself.

A municipality's contact centre (KCC) keeps its own record of every contact with a
citizen, and picks up callback requests (contactverzoeken) as tasks there: in the
Klantinteracties API (Open Klant), in the built-in console's list, or elsewhere. A
registration target receives both through the outbox, like every other delivery: the
core writes the registration in the same transaction as the step that produced it, and
a worker delivers it, retried with backoff and dead-lettered when it fails for good.

A tenant names its targets (`[tenants.<id>] registries = [...]`). A target is any
adapter instance that implements `RegistrationTarget`: a standalone `RegistryAdapter`
(kind `registry`, e.g. Open Klant) or a desk that keeps requests itself (the console).

Delivery is at least once. After a crash or an answer lost on the way back the same
registration comes again with the same `request_id`/`record_id`: a target registers it
once (look it up by that id before creating), and says so by `resend_safe = True`.
A target that cannot tell raises `AmbiguousSendError` and the item is not resent.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from handover.model import TranscriptEntry
from handover.sdk.contracts import Adapter, AdapterKind

#: The conversation context key where a phone channel puts the number the caller calls
#: from (E.164 or national form), in the context of the citizen's events: a callback
#: request on that call offers it as the number to call back.
CALLER_NUMBER_CONTEXT_KEY = "caller_number"


class AddressKind(StrEnum):
    """How the citizen wants to be reached."""

    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A citizen's request to be contacted later (contactverzoek).

    Personal fields stay out of the `repr` (and so out of logs). `address` is validated
    by the core: a phone number in E.164 (`+31612345678`) or an e-mail address.
    """

    #: Stable id of this request (32 lowercase hex digits): the idempotency key.
    request_id: str
    #: The short reference the citizen was told (e.g. `K7M2QP`).
    reference: str
    tenant: str
    conversation_id: str
    #: The channel adapter instance the citizen used, and its type (`web`, `whatsapp`,
    #: `voiceai`...): a target maps the type to its own channel codes.
    channel: str
    channel_type: str
    #: ISO 639-1 language of the conversation (`nl`, `en`...).
    language: str
    placed_at: datetime
    address_kind: AddressKind
    address: str = field(repr=False)
    question: str = field(repr=False)
    name: str | None = field(default=None, repr=False)
    #: The topic key the bot gave (e.g. `waste`) and its words in the tenant's catalogue.
    topic: str | None = None
    topic_label: str | None = None
    #: When the contact centre expects to call back (from the opening hours), if known,
    #: and the same as the text the citizen was told.
    callback_after: datetime | None = None
    callback_text: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A finished human contact: a livechat the agent or citizen ended, or a call
    transferred to the contact centre. Nothing here identifies the citizen."""

    #: Stable id: `<conversation id>-<handover number>` (the desk thread id).
    record_id: str
    tenant: str
    conversation_id: str
    channel: str
    channel_type: str
    language: str
    started_at: datetime
    ended_at: datetime
    #: How it ended: the agent's outcome (`resolved`...), `citizen_left`, `timeout`,
    #: `transferred`...; `succeeded` is whether a person actually talked to the citizen.
    outcome: str
    succeeded: bool | None
    topic: str | None = None
    topic_label: str | None = None
    #: The agent's display name and the desk's identifier for them, when the desk said.
    agent_name: str | None = field(default=None, repr=False)
    agent_id: str | None = field(default=None, repr=False)
    #: What the tenant chose to register as the contact's content: nothing, the topic,
    #: or the summary the agent wrote at close.
    content: str | None = field(default=None, repr=False)
    #: Only when the tenant configured sending the transcript.
    transcript: tuple[TranscriptEntry, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class RegistrationReceipt:
    """What the target made: its own id for the registration (for the operator's
    report and the dead-letter view), when it has one. Never personal data."""

    external_id: str | None = None


class RegistrationTarget(abc.ABC):
    """Implemented by an adapter that records callback requests and finished contacts.

    Raise the delivery errors of `handover.sdk.errors` as a channel does: TransientError
    (retried), AuthError, PermanentError (dead-lettered; the citizen is not told),
    AmbiguousSendError (not resent unless `resend_safe`).
    """

    #: Which registrations this target wants; the core sends it only those.
    registers_callbacks: ClassVar[bool] = True
    registers_contacts: ClassVar[bool] = False

    @abc.abstractmethod
    async def register_callback(self, request: CallbackRequest) -> RegistrationReceipt:
        """Record a callback request as a task for the contact centre."""

    async def register_contact(self, record: ContactRecord) -> RegistrationReceipt:
        """Record a finished contact. Only called when `registers_contacts` is True."""
        return RegistrationReceipt()


class RegistryAdapter(Adapter, RegistrationTarget):
    """A registration target that is nothing else (e.g. the Klantinteracties API)."""

    kind = AdapterKind.REGISTRY
