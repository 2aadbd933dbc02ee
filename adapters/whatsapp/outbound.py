"""Sending to the citizen: one outbound message becomes one or more Graph API sends
("parts": the text or the choices, then each attachment), each reconciled on its own.

Choices map to reply buttons (up to 3), a list (up to 10), or two lists of up to 10 each
(the 0-10 satisfaction scale has eleven): the core has already turned more than
`MAX_CHOICES` into numbered text (the channel declares it as `max_buttons`). A
choice's id is `c:<seq>:<n>`, the message's place in the transcript and the button's
index, so the citizen's answer maps back to the bot's payload however long it is,
and a citizen cannot make up payloads of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from adapters.whatsapp import wire
from adapters.whatsapp.client import GraphClient
from adapters.whatsapp.metrics import UNCONFIRMED_SENDS
from adapters.whatsapp.sends import Decision, SendLog, decide
from handover.sdk.clock import Clock
from handover.sdk.contracts import OutboundMessage
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    PermanentError,
    TransientError,
)
from handover.sdk.model import Conversation

LIST_LABEL = {"nl": "Kies", "en": "Choose"}
CHOOSE = {"nl": "Maak een keuze:", "en": "Please choose:"}
OR_CHOOSE = {"nl": "Of kies:", "en": "Or choose:"}
#: Choices shown as interactive lists at most (two lists of at most 10 rows each).
MAX_CHOICES = 2 * wire.MAX_LIST_ROWS


def choice_id(seq: int, index: int) -> str:
    return f"c:{seq}:{index}"


def parse_choice_id(value: str) -> tuple[int, int] | None:
    parts = value.split(":")
    if len(parts) != 3 or parts[0] != "c" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[1]), int(parts[2])


def recipient(conv: Conversation) -> dict[str, str]:
    wa_id = conv.context.get("wa_id")
    user_id = conv.context.get("user_id") or (None if wa_id else conv.channel_key)
    return wire.send_target(wa_id if isinstance(wa_id, str) else None,
                            user_id if isinstance(user_id, str) else None)


def plan(conv: Conversation, message: OutboundMessage) -> list[tuple[str, dict[str, Any]]]:
    """The parts of a message: (part id, send body), in the order the citizen sees them."""
    target = recipient(conv)
    content = message.content
    parts: list[tuple[str, dict[str, Any]]] = []

    def part_id() -> str:
        return f"{message.message_id}:{len(parts)}"

    lang = conv.language if conv.language in CHOOSE else "nl"
    text = content.text
    if content.buttons:
        if len(text) > wire.INTERACTIVE_BODY_CHARS:
            parts.append((part_id(), wire.text_body(target, part_id(), text)))
            text = CHOOSE[lang]
        choices = [(choice_id(message.seq, i), b.title) for i, b in enumerate(content.buttons)]
        # More than one list holds: split evenly (eleven as six and five), the second
        # list under a short "or choose" line; a tap in either maps back the same way.
        lists = -(-len(choices) // wire.MAX_LIST_ROWS)
        size = -(-len(choices) // lists)
        for n, start in enumerate(range(0, len(choices), size)):
            body = (text or CHOOSE[lang]) if n == 0 else OR_CHOOSE[lang]
            parts.append((part_id(), wire.buttons_body(
                target, part_id(), body, choices[start:start + size], LIST_LABEL[lang])))
    elif text:
        parts.append((part_id(), wire.text_body(target, part_id(), text)))
    for att in content.attachments:
        kind = wire.media_kind(att.mime_type)
        parts.append((part_id(), wire.media_body(target, part_id(), kind, att.url, att.name)))
    return parts


def template_text(message: OutboundMessage) -> str:
    """What the template's parameter carries: the reply with its attachments as links."""
    lines = [message.content.text] if message.content.text else []
    lines += [f"{a.name or 'bijlage'}: {a.url}" for a in message.content.attachments]
    return " ".join(lines) or "-"


class Sender:
    """Sends parts once each: a part Meta took is never sent again, and a part whose
    answer was lost waits for a status webhook before it is sent again."""

    def __init__(self, client: GraphClient, log: SendLog, clock: Clock,
                 reconcile_seconds: float, resend_unconfirmed: bool = False) -> None:
        self.client = client
        self.log = log
        self.clock = clock
        self.reconcile = timedelta(seconds=reconcile_seconds)
        self.resend_unconfirmed = resend_unconfirmed

    async def send_part(self, conv: Conversation, party: str, phone_number_id: str,
                        part_id: str, body: Mapping[str, Any]) -> bool:
        """Send one part; False when it was already out. Raises DeliveryError subclasses.

        What a retry does is `sends.decide`'s rule; a part given up on raises
        PermanentError, which dead-letters it (and tells the agent, for theirs)."""
        now = self.clock.now()
        part = await self.log.get(part_id)
        decision = decide(part, now, self.reconcile)
        if decision is Decision.DONE:
            return False
        if decision is Decision.FAILED:
            raise PermanentError("Meta reported this message as failed")
        if decision is Decision.WAIT:
            assert part is not None
            # It may be out: a status webhook will tell. Sending now could show it twice.
            waited = now - part.attempted_at
            raise TransientError("waiting for a status of an ambiguous send",
                                 retry_after=(self.reconcile - waited).total_seconds())
        if decision is Decision.UNCONFIRMED:
            UNCONFIRMED_SENDS.labels(self.client.adapter, "resent" if self.resend_unconfirmed
                                     else "given_up").inc()
            if not self.resend_unconfirmed:
                # Meta may have it without ever reporting it: sending again could show
                # it twice, so the citizen gets it at most once and the agent is told.
                raise PermanentError("whatsapp: no status from Meta within the reconcile "
                                     "time; not sent again")
        await self.log.begin(part_id, conv.id, party, now)
        try:
            wamid = await self.client.send(phone_number_id, body)
        except AmbiguousSendError:
            await self.log.ambiguous(part_id)
            raise TransientError("answer lost; reconciling through status webhooks",
                                 retry_after=self.reconcile.total_seconds()) from None
        except (TransientError, AuthError, PermanentError):
            # Surely not sent (refused, or no connection): nothing to reconcile. Any
            # other exit (a cancel mid-request, a bug) leaves the part "sending", which
            # a retry treats like an ambiguous send.
            await self.log.forget(part_id)
            raise
        await self.log.accepted(part_id, wamid)
        return True
