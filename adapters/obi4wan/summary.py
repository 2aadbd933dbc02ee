"""What the agent sees first: the handover as one readable message plus its metadata.

OBI4wan's agent screen shows message text; whether it shows custom metadata is not
known, so everything the agent needs is in the text (in Dutch, the KCC's language), and
the same facts go along as structured `metadata` for when OBI4wan can display or route
on it.

Consent: Gem asks the citizen before handing over whether the employee may see the
conversation. Without consent the transcript is left out; the context stays, because
the agent needs it to help at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from handover.sdk.contracts import DeskThread
from handover.sdk.model import Conversation, Party, TranscriptEntry

#: Context keys that describe the page the citizen was on (from the web widget).
PAGE_KEYS = ("url", "title", "referrer")
#: Context keys a channel may fill with what it knows of the citizen (name, the number a
#: WhatsApp or phone citizen uses...). Sent to the desk, which needs them; never logged.
IDENTITY_KEYS = ("name", "phone", "email", "user_id", "wa_id", "caller")

#: The agents' time zone, for the times in the transcript.
AGENT_ZONE = ZoneInfo("Europe/Amsterdam")

_PARTY_LABELS = {
    Party.CITIZEN: "Inwoner",
    Party.BOT: "Gem",
    Party.AGENT: "Medewerker",
    Party.SYSTEM: "Systeem",
}


#: What the agent reads when the daemon ends a thread, by the core's reason code (the
#: code itself goes along in the close post's metadata, for a desk that routes on it).
CLOSE_TEXTS = {
    "citizen_left": "Gesprek gesloten: de inwoner heeft het gesprek verlaten.",
    "queue_timeout": "Gesprek gesloten: de inwoner wachtte te lang in de wachtrij.",
    "citizen_inactive": "Gesprek gesloten: de inwoner reageerde niet meer.",
    "agent_inactive": "Gesprek gesloten: er kwam geen reactie van de medewerker; de inwoner "
                      "is teruggestuurd naar Gem.",
}
CLOSE_TEXT_OTHER = "Gesprek gesloten door Gem."


def close_text(reason: str) -> str:
    """Readable text for a close post: a desk that ignores the post's type shows it."""
    return CLOSE_TEXTS.get(reason, CLOSE_TEXT_OTHER)


def metadata(conversation: Conversation, thread: DeskThread) -> dict[str, Any]:
    """The handover's facts as structured data."""
    signal = thread.signal
    data: dict[str, Any] = {
        "tenant": thread.tenant,
        "channel": thread.channel,
        "language": thread.language,
        "handover": {
            "reason": signal.reason,
            "topic": signal.topic,
            "queue": signal.queue,
            "consent": signal.consent,
        },
        "identity": identity(conversation, thread.context),
    }
    if signal.details:
        data["handover"]["details"] = dict(signal.details)
    page = {k: thread.context[k] for k in PAGE_KEYS if thread.context.get(k)}
    if page:
        data["page"] = page
    return data


def identity(conversation: Conversation, context: Mapping[str, Any]) -> dict[str, Any]:
    """What the channel knows of the citizen: the channel's own key plus named facts."""
    found: dict[str, Any] = {"channel": conversation.channel, "key": conversation.channel_key}
    for key in IDENTITY_KEYS:
        value = context.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            found[key] = value
    return found


def title(thread: DeskThread) -> str:
    return f"{thread.tenant}: {thread.signal.topic or thread.signal.reason}"


def text(conversation: Conversation, thread: DeskThread) -> str:
    """The first message the agent reads: who, why, from where, and what was said."""
    s = thread.signal
    lines = [
        f"Doorverbonden vanuit Gem ({thread.channel}, taal: {thread.language}).",
        f"Reden: {s.reason}" + (f"; onderwerp: {s.topic}" if s.topic else "")
        + (f"; wachtrij: {s.queue}" if s.queue else ""),
    ]
    who = identity(conversation, thread.context)
    known = [f"{k}: {v}" for k, v in who.items() if k in IDENTITY_KEYS]
    if known:
        lines.append("Inwoner: " + ", ".join(known))
    page = [str(thread.context[k]) for k in PAGE_KEYS if thread.context.get(k)]
    if page:
        lines.append("Pagina: " + " | ".join(page))
    for key, value in s.details.items():
        lines.append(f"{key}: {value}")
    if not s.consent:
        lines.append("De inwoner gaf geen toestemming om het gesprek met Gem te delen.")
        return "\n".join(lines)
    lines.append("Toestemming om het gesprek te delen: ja.")
    lines.append("")
    lines.append("--- Gesprek tot nu toe ---")
    lines.extend(_entry(e) for e in thread.transcript)
    return "\n".join(lines)


def _entry(entry: TranscriptEntry) -> str:
    when = entry.created_at.astimezone(AGENT_ZONE).strftime("%H:%M ") if entry.created_at else ""
    who = entry.sender_name or _PARTY_LABELS.get(entry.party, entry.party.value)
    parts = [entry.content.text] if entry.content.text else []
    parts.extend(f"[bijlage: {a.name or 'bestand'} {a.url}]" for a in entry.content.attachments)
    return f"{when}{who}: {' '.join(parts)}"
