"""What an agent's page is shown: a thread rebuilt from the console's journal and the
core's durable store (conversation and transcript).

The journal says who holds a thread and when it was queued; the core says whether the
thread is still the conversation's live one and what was said. A thread the core has
moved on from (the citizen left, a timeout) shows as closed even before the desk's
`close_thread` delivery arrives, so no agent answers into a finished thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from adapters.console.journal import Note, Status, ThreadRow
from handover.sdk.contracts import OutboundMessage
from handover.sdk.model import Conversation, TranscriptEntry, parse_thread_id

__all__ = [
    "consent_asked", "detail", "effective_status", "entry_json", "erased", "last_message",
    "summary", "topic_label",
]

#: At most this many transcript entries are shown (the core gives a desk as many).
TRANSCRIPT_LIMIT = 200
_PAGE_KEYS = ("url", "title", "referrer")
ERASED_PREFIX = "erased:"
#: The payload of the "yes" button of the daemon's consent question
#: (handover.control.types.CONSENT_YES; the sdk does not export it, a test keeps the two
#: equal). Its presence in the transcript is how the desk knows consent was asked.
CONSENT_YES_PAYLOAD = "/consent_yes"
#: The key of the handover signal's `details` under which a bot may name the topic in
#: words, in the conversation's language ("Afval ophalen" for the key `waste`).
TOPIC_LABEL_DETAIL = "topic_label"
#: A list item shows the start of the last message only.
SNIPPET_LENGTH = 140
#: Whose messages a list item's snippet shows first.
SNIPPET_PARTIES = frozenset({"citizen", "agent", "note"})


def erased(conv: Conversation | None) -> bool:
    """Whether the conversation's personal data is gone (erased on request, or the
    conversation itself): then the console shows none of what it kept either.

    The store marks an erased conversation by its channel key; the contract has no
    flag for it yet.
    """
    return conv is None or conv.channel_key.startswith(ERASED_PREFIX)


def effective_status(row: ThreadRow, conv: Conversation | None) -> Status:
    if row.status is Status.CLOSED:
        return Status.CLOSED
    if conv is None or conv.desk_thread != row.thread_id:
        return Status.CLOSED
    return row.status


def _page(context: Mapping[str, Any]) -> dict[str, str | None]:
    """The page the citizen was on: top-level keys, or a `page` table of them."""
    source = context.get("page") if isinstance(context.get("page"), Mapping) else context
    assert isinstance(source, Mapping)
    return {k: str(source[k]) if source.get(k) is not None else None for k in _PAGE_KEYS}


def topic_label(signal: Mapping[str, Any]) -> str | None:
    """The topic in words: what the bot named it (`details.topic_label`), else the key
    made readable (`parking_permit` -> "Parking permit"); None without a topic."""
    details = signal.get("details")
    if isinstance(details, Mapping):
        named = details.get(TOPIC_LABEL_DETAIL)
        if isinstance(named, str) and named.strip():
            return named.strip()
    key = signal.get("topic")
    if not isinstance(key, str) or not key.strip():
        return None
    words = " ".join(key.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:]


def summary(
    row: ThreadRow, conv: Conversation | None, now: datetime, *,
    tenant_name: str | None = None, last: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One line of the agent's list. `tenant_name` is the municipality's name (the
    caller knows the configuration), `last` the thread's last message (`last_message`);
    without them the page shows the tenant's id and fetches the thread for its last
    message."""
    status = effective_status(row, conv)
    signal = row.signal or {}
    ended = row.taken_at or row.closed_at
    waited_until = ended if ended is not None else now
    return {
        "thread_id": row.thread_id,
        "conversation_id": row.conversation_id,
        "tenant": row.tenant,
        "tenant_name": tenant_name,
        "channel": row.channel,
        "language": row.language,
        "status": status.value,
        "agent": {"id": row.agent_id, "name": row.agent_name} if row.agent_id else None,
        "reason": signal.get("reason"),
        "topic": signal.get("topic"),
        "topic_label": topic_label(signal),
        "queue": signal.get("queue"),
        "consent": signal.get("consent"),
        # An erased conversation takes its page context with it.
        "page": _page({} if erased(conv) else row.context),
        "opened_at": row.opened_at.isoformat(),
        "taken_at": row.taken_at.isoformat() if row.taken_at else None,
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        # While queued this keeps growing; the page counts on from it.
        "waiting_seconds": max(0, int((waited_until - row.opened_at).total_seconds())),
        "waiting": status is Status.QUEUED,
        "outcome": row.outcome,
        # Transferred to a team (while waiting), and the last hand-off, for the list.
        "team": row.team if status is Status.QUEUED else None,
        "handoff": dict(row.handoff) if row.handoff else None,
        "close_reason": row.close_reason
        or (None if status is row.status else "ended"),
        # An erased conversation's messages are gone: so is their snippet.
        "last_message": None if last is None or erased(conv) else dict(last),
    }


def last_message(items: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The last thing the citizen, an agent or the daemon's note said (a list item shows
    who, the start of the text, when). The bot's and the daemon's standard lines ("you are
    in the queue") say nothing an agent scans for: only without anything else is the last
    of those shown."""
    spoken = [i for i in items if i.get("party") in SNIPPET_PARTIES]
    for item in reversed(spoken or items):
        text = " ".join(str(item.get("text") or "").split())
        attachments = len(item.get("attachments") or ())
        if text or attachments:
            return {
                "party": item.get("party"),
                "sender_name": item.get("sender_name"),
                "text": text if len(text) <= SNIPPET_LENGTH else text[:SNIPPET_LENGTH - 1] + "…",
                "attachments": attachments,
                "created_at": item.get("created_at"),
            }
    return None


def consent_asked(entries: Sequence[TranscriptEntry], number: int) -> bool:
    """Whether the daemon asked the citizen's consent for handover `number`: its
    question (a message with the consent "yes" button) was said before this handover
    and after the previous one. A thread opened after that question was answered yes.
    Without a thread number (a recovered thread) nothing can be told: False."""
    return number > 0 and any(
        e.handover_no == number - 1
        and any(b.payload == CONSENT_YES_PAYLOAD for b in e.content.buttons)
        for e in entries
    )


def entry_json(entry: TranscriptEntry | OutboundMessage) -> dict[str, Any]:
    content = entry.content
    return {
        "seq": entry.seq,
        "message_id": entry.message_id,
        "party": entry.party.value,
        "sender_name": entry.sender_name,
        "text": content.text,
        "buttons": [b.title for b in content.buttons],
        "attachments": [
            {"url": a.url, "name": a.name, "mime_type": a.mime_type} for a in content.attachments
        ],
        "created_at": entry.created_at.isoformat() if entry.created_at else None,
    }


def detail(
    row: ThreadRow, conv: Conversation | None, entries: Sequence[TranscriptEntry],
    notes: Sequence[Note], now: datetime, *, tenant_name: str | None = None,
) -> dict[str, Any]:
    """The whole thread: the summary, the transcript with the desk notes, and context."""
    parsed = parse_thread_id(row.thread_id)
    number = parsed[1] if parsed else 0
    # Entries of a later handover of the same citizen belong to a later thread.
    shown = [e for e in entries if not number or e.handover_no <= number][-TRANSCRIPT_LIMIT:]
    items = [entry_json(e) for e in shown]
    items.extend(
        {
            "seq": 0,
            "message_id": f"note-{i}",
            "party": "note",
            "sender_name": None,
            "text": n.text,
            "buttons": [],
            "attachments": [],
            "created_at": n.at.isoformat(),
        }
        for i, n in enumerate(notes, start=1)
    )
    # Stable: notes written at the same instant as an entry come after it.
    items.sort(key=lambda x: x["created_at"] or "")
    signal = row.signal or {}
    details = signal.get("details")
    out = summary(row, conv, now, tenant_name=tenant_name, last=last_message(items))
    out["consent_asked"] = consent_asked(entries, number) if not erased(conv) else False
    out["transcript"] = items
    out["details"] = (
        # The topic's words show as the topic, not twice.
        {k: v for k, v in details.items() if k != TOPIC_LABEL_DETAIL}
        if isinstance(details, Mapping) and not erased(conv) else {}
    )
    out["citizen_state"] = conv.state.value if conv else None
    return out
