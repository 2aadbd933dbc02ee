"""A callback request (contactverzoek) as OBI4wan receives it: a note in a thread of its own.

A callback request has no live conversation at the desk: the citizen left a question and
a phone number or e-mail address and expects the KCC to get back to them. Under the
assumed custom-channel contract (wire.py) the only way to put something in front of
OBI4wan's agents is an ingest post, and a post with a threadId OBI4wan has not seen opens
a new thread in the agents' inbox. So each request is posted once, as a `note`, in a
thread of its own (`callback:<request id>`), carrying everything the agent needs to call
or mail back, in Dutch, plus the same facts as metadata.

That thread is not a conversation: the citizen is not on the other end. The note says so
at the top, and the webhook ignores agent events on it (its id is not a conversation's
desk thread id, so they are acknowledged as `unknown_thread` and dropped). The agent
closes it in OBI4wan when the citizen has been contacted.

The post's messageId is derived from the request id, so a repeat after a lost answer is
recognised by OBI4wan and not shown twice (the adapter is `resend_safe`).
"""

from __future__ import annotations

from typing import Any

from adapters.obi4wan import wire
from adapters.obi4wan.summary import AGENT_ZONE
from handover.sdk.registration import AddressKind, CallbackRequest

__all__ = ["post", "thread_id"]

#: Channel types in the agent's words.
CHANNELS = {
    "web": "de chat op de website", "socketio": "de chat op de website",
    "rest": "de chat in de app", "whatsapp": "WhatsApp", "voiceai": "de telefoon",
}
_ADDRESS_WORDS = {AddressKind.PHONE: "telefoon", AddressKind.EMAIL: "e-mail"}


def thread_id(request: CallbackRequest) -> str:
    # No "-": a desk thread id of a conversation is "<conversation id>-<number>", and
    # this one must never parse as one (webhook events on it are not a conversation's).
    return f"callback:{request.request_id}"


def text(request: CallbackRequest, tenant_name: str) -> str:
    """What the agent reads: that this is a request, not a chat, and how to reach them."""
    placed = request.placed_at.astimezone(AGENT_ZONE).strftime("%d-%m-%Y %H:%M")
    channel = CHANNELS.get(request.channel_type, request.channel_type)
    lines = [
        f"Contactverzoek {request.reference} ({tenant_name})",
        "Dit is geen live gesprek: een antwoord hier bereikt de inwoner niet. Neem zelf "
        "contact op en sluit dit gesprek daarna.",
        "",
        f"Geplaatst: {placed} via {channel} (taal: {request.language})",
    ]
    if request.topic_label or request.topic:
        lines.append(f"Onderwerp: {request.topic_label or request.topic}")
    lines.append(f"Naam: {request.name or 'niet opgegeven'}")
    lines.append(f"Bereikbaar via {_ADDRESS_WORDS[request.address_kind]}: {request.address}")
    if request.callback_text:
        lines.append(f"Terugbellen: {request.callback_text}")
    lines += ["", "Vraag:", request.question]
    return "\n".join(lines)


def metadata(request: CallbackRequest) -> dict[str, Any]:
    """The same facts as structured data, for a desk that can show or route on them."""
    return {
        "kind": "callback_request",
        "reference": request.reference,
        "tenant": request.tenant,
        "channel": request.channel_type,
        "language": request.language,
        "placed_at": request.placed_at.isoformat(),
        "topic": request.topic,
        "callback": {
            "address_kind": request.address_kind.value,
            "address": request.address,
            "name": request.name,
            "after": request.callback_after.isoformat() if request.callback_after else None,
        },
    }


def post(request: CallbackRequest, tenant_name: str, sender: wire.Sender) -> wire.Post:
    """The one ingest post for a request. `published` is when the citizen placed it, so
    a resend carries the same post."""
    thread = thread_id(request)
    return wire.Post(
        thread_id=thread,
        message_id=wire.message_id(thread, "callback"),
        published=request.placed_at,
        content=text(request, tenant_name),
        sender=sender,
        type=wire.PostType.NOTE,
        title=f"Contactverzoek {request.reference}"
              + (f": {request.topic_label}" if request.topic_label else ""),
        metadata=metadata(request),
    )
