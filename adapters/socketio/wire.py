"""Rasa's socket.io channel protocol as rasa-webchat speaks it: the one place that reads
the widget's event payloads and writes the daemon's.

Widget -> daemon:
    session_request   {"session_id": str | null}
    user_uttered      {"message": str, "customData": {...}?, "session_id": str?,
                       "message_id": str?}     (the event name is configurable)
Daemon -> widget:
    session_confirm   "<session_id>"  (a bare string, as Rasa sends it)
    bot_uttered       {"text": ..., "quick_replies"?: [...]} or {"attachment": {...}}
                       (the event name is configurable)

The README of this package is the reference.
"""

from __future__ import annotations

import math
import re
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from handover.sdk.contracts import OutboundMessage
from handover.sdk.model import Content, Party, TranscriptEntry
from handover.sdk.pagecontext import clean_page_context

#: A session id names a conversation, so it is a secret: long and random. Rasa issues
#: 32 hex digits (uuid4), which passes, so widgets moved from Rasa keep their session.
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
#: What a client-chosen session id must show to count as random (`valid_session_id`).
MIN_SESSION_BITS = 96
MIN_OBSERVED_BITS = 72
MIN_DISTINCT_CHARS = 8
_HEX = re.compile(r"^[0-9a-fA-F]+$")
MAX_ID_LENGTH = 100
MAX_CONTEXT_VALUE_LENGTH = 2048
MAX_LANGUAGE_LENGTH = 16
MAX_CUSTOM_DATA_KEYS = 50
#: Page context kept from `customData`; anything else a page puts there is not stored.
CONTEXT_KEYS = ("url", "title", "referrer")
#: Media rasa-webchat shows inline; any other attachment becomes a link in the text.
INLINE_MEDIA = ("image", "video")


class WireError(ValueError):
    """A widget event that cannot be accepted; `code` goes back in the ack."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class UserUttered:
    text: str
    session_id: str | None
    #: The widget's own id for the message when it sends one (a dedup key); rasa-webchat
    #: sends none, then every event is a new message.
    message_id: str | None = None
    tenant: str | None = None
    language: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def valid_session_id(value: Any) -> bool:
    """A usable session id: 32-128 URL-safe characters that look random.

    A client chooses the id it resumes, and the id alone opens the conversation, so a
    guessable one (`"0" * 32`, `"abab..."`, `"0123456789abcdef" * 2`) is refused and the
    widget gets a new session. Two measures: the id's length times the bits of its
    alphabet (hex 4, URL-safe base64 6) must reach MIN_SESSION_BITS (a uuid4 hex as Rasa
    issues has 128, our own ids 258); and the id itself must look random: at least
    MIN_DISTINCT_CHARS different characters, MIN_OBSERVED_BITS by its own character
    frequencies (random hex shows about 113) and no repetition of a shorter block.
    """
    if not isinstance(value, str) or _SESSION_ID.match(value) is None:
        return False
    n = len(value)
    alphabet_bits = 4 if _HEX.match(value) else 6
    if n * alphabet_bits < MIN_SESSION_BITS:
        return False
    counts = Counter(value)
    if len(counts) < MIN_DISTINCT_CHARS:
        return False
    observed = -sum(c * math.log2(c / n) for c in counts.values())
    if observed < MIN_OBSERVED_BITS:
        return False
    return not any(n % p == 0 and value == value[:p] * (n // p) for p in range(1, n // 2 + 1))


def parse_session_request(data: Any) -> str | None:
    """The session id a widget asks to resume, None for a new one (or an unusable one)."""
    if data is None or (isinstance(data, str) and not data):
        return None
    if isinstance(data, str):
        return data if valid_session_id(data) else None
    if not isinstance(data, Mapping):
        raise WireError("invalid_field", "session_request takes {\"session_id\": ...}")
    value = data.get("session_id")
    return value if valid_session_id(value) else None


def parse_user_uttered(data: Any, max_text_length: int) -> UserUttered:
    if not isinstance(data, Mapping):
        raise WireError("invalid_field", "the message must be an object with a `message`")
    text = data.get("message")
    if not isinstance(text, str):
        raise WireError("missing_field", "`message` must be a string")
    if not text.strip():
        raise WireError("empty_message", "`message` must not be empty")
    if len(text) > max_text_length:
        raise WireError("text_too_long", f"`message` may be at most {max_text_length} characters")
    session_id = data.get("session_id")
    if session_id is not None and not valid_session_id(session_id):
        raise WireError("invalid_field", "`session_id` is not one this channel issued")
    message_id = data.get("message_id")
    if message_id is not None and not (
        isinstance(message_id, str) and 0 < len(message_id) <= MAX_ID_LENGTH
        and message_id.isprintable() and message_id == message_id.strip()
    ):
        raise WireError("invalid_field", f"`message_id` must be 1-{MAX_ID_LENGTH} printable "
                        "characters without surrounding spaces")
    custom = data.get("customData")
    if custom is None:
        custom = {}
    if not isinstance(custom, Mapping) or len(custom) > MAX_CUSTOM_DATA_KEYS:
        raise WireError("invalid_field", "`customData` must be an object of at most "
                        f"{MAX_CUSTOM_DATA_KEYS} keys")
    return UserUttered(
        text=text, session_id=session_id, message_id=message_id,
        tenant=_short(custom, "tenant", MAX_ID_LENGTH),
        language=_short(custom, "language", MAX_LANGUAGE_LENGTH),
        context=_context(custom),
    )


def _short(custom: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = custom.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise WireError("invalid_field", f"customData.{key} must be a string of at most "
                        f"{limit} characters")
    return value


def _context(custom: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in CONTEXT_KEYS:
        value = _short(custom, key, MAX_CONTEXT_VALUE_LENGTH)
        if value is None:
            continue
        out[key] = value
    # The same rule as every channel: addresses without their query string.
    return clean_page_context(out)


# --- daemon -> widget ----------------------------------------------------------------


def bot_uttered(message: OutboundMessage, agent_name_prefix: bool) -> list[dict[str, Any]]:
    """The `bot_uttered` payloads showing one message: inline media first, then the text
    with its quick replies (rasa-webchat offers the quick replies of the last message).

    Each payload also carries `metadata` with `message_id`, `seq`, `party` and
    `sender_name`. Only there: rasa-webchat recognises a message by its exact set of keys
    (`text` alone, `text` + `quick_replies`, `attachment`), and sets `metadata` aside.
    """
    content = message.content
    meta = {"metadata": {"message_id": message.message_id, "seq": message.seq,
                         "party": message.party.value, "sender_name": message.sender_name}}
    out: list[dict[str, Any]] = []
    links: list[str] = []
    for attachment in content.attachments:
        kind = attachment.mime_type.partition("/")[0]
        if kind in INLINE_MEDIA:
            out.append({"attachment": {"type": kind, "payload": {
                "src": attachment.url, "title": attachment.name}}, **meta})
        else:
            links.append(f"[{attachment.name or attachment.url}]({attachment.url})")
    text = "\n\n".join(t for t in (content.text, *links) if t)
    if text and agent_name_prefix and message.party is Party.AGENT and message.sender_name:
        text = f"{message.sender_name}: {text}"
    if text or content.buttons:
        payload: dict[str, Any] = {"text": text, **meta}
        if content.buttons:
            payload["quick_replies"] = [
                {"content_type": "text", "title": b.title, "payload": b.payload}
                for b in content.buttons
            ]
        out.append(payload)
    return out


def entry_message(entry: TranscriptEntry) -> OutboundMessage:
    return OutboundMessage(seq=entry.seq, message_id=entry.message_id, party=entry.party,
                           content=entry.content, sender_name=entry.sender_name,
                           created_at=entry.created_at)


def notice(text: str) -> dict[str, Any]:
    """A message from the channel itself (a refusal the citizen must see)."""
    return {"text": text, "metadata": {"party": Party.SYSTEM.value}}


def citizen_content(text: str, offered: Mapping[str, str]) -> tuple[Content, str | None]:
    """The content and payload of a citizen's message.

    rasa-webchat sends a quick reply's payload as the message, so a message equal to a
    payload just offered is that button (its title is what the citizen chose); a message
    starting with "/" is a Rasa intent payload typed or sent by a page.
    """
    title = offered.get(text)
    if title is not None:
        return Content(text=title), text
    if text.startswith("/"):
        return Content(text=text), text
    return Content(text=text), None
