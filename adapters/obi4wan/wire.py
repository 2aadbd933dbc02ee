"""The assumed OBI4wan contract: every wire detail in this one module.

OBI4wan publishes no API reference. What is below is built from what public third-party
code shows (the custom-channel ingest) plus assumptions, each marked ASSUMED. When
OBI4wan confirms its partner API, this module is what changes: paths, query parameters,
field names, the signature scheme, event type names and status-code meanings. The rest
of the adapter speaks only in the names defined here.

To OBI4wan (our client):
    POST {api}/customchannels/v1/index?token=<channel token>
        {channelIdentifier, threadId, messageId, published, content, sender: {username,
         userId}, url?, title?, attachments?, type?, metadata?}
        -> 2xx {"id": <OBI4wan's message id>}    (the id: ASSUMED)
        messageId is OBI4wan's idempotency field: the same messageId again is accepted
        without a second message (ASSUMED: 2xx or 409, with the first message's id).
        attachments, type ("message" | "note" | "close") and metadata: ASSUMED.
    GET {api}/chat/availability?guid=<chat guid>
        -> 200 {available, queueLength?, estimatedWaitSeconds?}          (ASSUMED)

From OBI4wan (the agent side), a webhook we serve (ASSUMED as a whole):
    headers  X-OBI4wan-Timestamp: <unix seconds>
             X-OBI4wan-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
    body     {eventId, type, threadId, channelIdentifier, occurredAt, agent?: {id, name},
              message?: {id, content, attachments?: [{url, name, mimeType}], externalId?},
              closure?: {reason, outcome}, typing?: bool}
    `message.externalId` is ASSUMED to carry our messageId on events about messages that
    came in through the custom channel (so we can drop them as echoes even before we
    know OBI4wan's id for them); `typing` is ASSUMED on agent.typing (absent: typing on).

Tokens travel in query strings: a URL built here must only be logged through
`handover.observability.logs.redact_url` (the parameter is called `token`, which it masks).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from handover.sdk.contracts import Availability
from handover.sdk.model import Attachment

# --- paths and query parameters --------------------------------------------------------

INGEST_PATH = "/customchannels/v1/index"
AVAILABILITY_PATH = "/chat/availability"
TOKEN_PARAM = "token"  # noqa: S105 (the name of the parameter, not a token)
GUID_PARAM = "guid"

# --- status codes ----------------------------------------------------------------------

#: An ingest with a messageId OBI4wan already has (ASSUMED; treated as success).
DUPLICATE_STATUS = 409
AUTH_STATUSES = frozenset({401, 403})
RATE_LIMIT_STATUS = 429
RETRY_AFTER_HEADER = "Retry-After"
#: Statuses that say "not now" rather than "never": retried.
RETRYABLE_STATUSES = frozenset({408, 425, 500, 502, 503, 504})

# --- the webhook's signature -------------------------------------------------------------

TIMESTAMP_HEADER = "X-OBI4wan-Timestamp"
SIGNATURE_HEADER = "X-OBI4wan-Signature"
SIGNATURE_PREFIX = "sha256="
#: A Unix time in seconds: ASCII digits, at most 12 of them (beyond the year 33000).
#: Anything else is refused before it is converted: `int()` of a few hundred digits
#: compared with a float raises OverflowError, and `str.isdigit` also takes "²".
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureCheck(StrEnum):
    OK = "ok"
    MISSING = "missing"
    MALFORMED = "malformed"
    STALE = "stale"
    MISMATCH = "mismatch"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (for fakes and tests)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def check_signature(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
    tolerance_seconds: float,
) -> SignatureCheck:
    """Whether a webhook request is OBI4wan's, signed within the tolerance window.

    Every configured secret (two during a rotation) is compared, in constant time and
    without stopping at the first match, so timing tells nothing about which matched.
    """
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not timestamp or not given:
        return SignatureCheck.MISSING
    if not _TIMESTAMP.fullmatch(timestamp) or not given.startswith(SIGNATURE_PREFIX):
        return SignatureCheck.MALFORMED
    if abs(now.timestamp() - int(timestamp)) > tolerance_seconds:
        return SignatureCheck.STALE
    matches = [
        hmac.compare_digest(given.encode(), sign(secret, timestamp, body).encode())
        for secret in secrets
    ]
    return SignatureCheck.OK if any(matches) else SignatureCheck.MISMATCH


# --- webhook events ----------------------------------------------------------------------


class EventType(StrEnum):
    AGENT_JOINED = "agent.joined"
    MESSAGE_CREATED = "message.created"
    AGENT_TYPING = "agent.typing"
    CLOSED = "conversation.closed"
    TRANSFERRED = "conversation.transferred"


class WireError(ValueError):
    """A webhook body that does not follow the contract; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One agent-side event, in the adapter's terms. `type` is None for a type this
    module does not know (OBI4wan may add some): acknowledged and ignored."""

    event_id: str
    type: EventType | None
    raw_type: str
    thread_id: str
    channel_identifier: str
    agent_name: str | None = None
    #: OBI4wan's identifier of the agent (`agent.id`), when the event carries one: the
    #: core registers it with the finished contact (e.g. the medewerker in Open Klant).
    agent_id: str | None = None
    message_id: str | None = None
    external_id: str | None = None
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    outcome: str | None = None
    typing: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)


MAX_ID_LENGTH = 200
MAX_ATTACHMENTS = 10


def parse_event(data: Any) -> WebhookEvent:
    """Read a webhook body (already JSON-decoded). Raises WireError."""
    if not isinstance(data, Mapping):
        raise WireError("the body must be a JSON object")
    event_id = _ident(data, "eventId")
    raw_type = _text(data, "type", required=True) or ""
    thread = _ident(data, "threadId")
    channel = _text(data, "channelIdentifier", required=True) or ""
    try:
        kind: EventType | None = EventType(raw_type)
    except ValueError:
        kind = None
    agent = _object(data, "agent")
    message = _object(data, "message")
    closure = _object(data, "closure")
    agent_name = _text(agent, "name", where="agent.") if agent else None
    agent_id = _agent_id(agent) if agent else None
    message_id = external_id = None
    text = ""
    attachments: tuple[Attachment, ...] = ()
    if kind is EventType.MESSAGE_CREATED:
        if message is None:
            raise WireError("message.created needs a message object")
        message_id = _ident(message, "id", where="message.")
        external_id = _text(message, "externalId", where="message.")
        text = _text(message, "content", where="message.", allow_empty=True) or ""
        attachments = _attachments(message.get("attachments"))
        if not text.strip() and not attachments:
            raise WireError("message has neither content nor attachments")
    outcome = None
    if closure is not None:
        outcome = _text(closure, "outcome", where="closure.") or _text(
            closure, "reason", where="closure.")
    typing = data.get("typing", True)
    if not isinstance(typing, bool):
        raise WireError("typing must be true or false")
    return WebhookEvent(
        event_id=event_id, type=kind, raw_type=raw_type, thread_id=thread,
        channel_identifier=channel, agent_name=agent_name, agent_id=agent_id,
        message_id=message_id,
        external_id=external_id, text=text, attachments=attachments, outcome=outcome,
        typing=typing,
    )


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise WireError(f"{key} must be an object")
    return value


def _text(
    data: Mapping[str, Any], key: str, *, where: str = "", required: bool = False,
    allow_empty: bool = False,
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise WireError(f"{where}{key} is required")
        return None
    if not isinstance(value, str):
        raise WireError(f"{where}{key} must be a string")
    if not value.strip() and not allow_empty:
        if required:
            raise WireError(f"{where}{key} must not be empty")
        return None
    return value


def _agent_id(agent: Mapping[str, Any]) -> str | None:
    """`agent.id`: a string, or a whole number (platforms often number their users);
    absent or empty is None."""
    value = agent.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _ident(agent, "id", where="agent.")


def _ident(data: Mapping[str, Any], key: str, *, where: str = "") -> str:
    value = _text(data, key, where=where, required=True) or ""
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise WireError(f"{where}{key} must be at most {MAX_ID_LENGTH} printable characters")
    return value


def _attachments(raw: Any) -> tuple[Attachment, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_ATTACHMENTS:
        raise WireError(f"message.attachments must be a list of at most {MAX_ATTACHMENTS}")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise WireError(f"message.attachments[{i}] must be an object")
        url = _text(item, "url", where=f"message.attachments[{i}].", required=True) or ""
        if not url.startswith(("https://", "http://")):
            raise WireError(f"message.attachments[{i}].url must be http(s)")
        out.append(Attachment(
            url=url,
            name=_text(item, "name", where=f"message.attachments[{i}].") or "",
            mime_type=_text(item, "mimeType", where=f"message.attachments[{i}].")
            or "application/octet-stream",
        ))
    return tuple(out)


# --- ingest (what we post) -----------------------------------------------------------------


class PostType(StrEnum):
    """ASSUMED: how an ingest says what it is. A plain citizen message needs no type."""

    MESSAGE = "message"
    NOTE = "note"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Sender:
    username: str
    user_id: str


@dataclass(frozen=True, slots=True)
class Post:
    """One ingest request in the adapter's terms."""

    thread_id: str
    message_id: str
    published: datetime
    content: str
    sender: Sender
    type: PostType = PostType.MESSAGE
    title: str | None = None
    url: str | None = None
    attachments: tuple[Attachment, ...] = ()
    metadata: Mapping[str, Any] | None = None


def message_id(*parts: str) -> str:
    """A stable messageId (OBI4wan's idempotency field) from our own ids.

    Hashed to a fixed length of safe characters, since OBI4wan's limits on the field are
    unknown. The prefix marks ids we made, so an echo is recognisable.
    """
    return MESSAGE_ID_PREFIX + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


MESSAGE_ID_PREFIX = "ho-"


def ingest_body(channel_identifier: str, post: Post) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channelIdentifier": channel_identifier,
        "threadId": post.thread_id,
        "messageId": post.message_id,
        "published": post.published.isoformat(),
        "content": post.content,
        "sender": {"username": post.sender.username, "userId": post.sender.user_id},
    }
    if post.type is not PostType.MESSAGE:
        body["type"] = post.type.value
    if post.title:
        body["title"] = post.title
    if post.url:
        body["url"] = post.url
    if post.attachments:
        body["attachments"] = [
            {"url": a.url, "name": a.name, "mimeType": a.mime_type} for a in post.attachments
        ]
    if post.metadata:
        body["metadata"] = dict(post.metadata)
    return body


def ingest_params(channel_token: str) -> dict[str, str]:
    return {TOKEN_PARAM: channel_token}


def ingest_receipt(data: Any) -> str | None:
    """OBI4wan's id for what we posted (ASSUMED field `id`), when the answer has one."""
    if isinstance(data, Mapping):
        value = data.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


# --- availability --------------------------------------------------------------------------


def availability_params(chat_guid: str) -> dict[str, str]:
    return {GUID_PARAM: chat_guid}


def parse_availability(data: Any) -> Availability:
    """Raises WireError when `available` is missing; the optional numbers are dropped
    when they are not non-negative integers rather than failing the whole answer."""
    if not isinstance(data, Mapping) or not isinstance(data.get("available"), bool):
        raise WireError("the availability answer has no boolean `available`")
    return Availability(
        available=data["available"],
        queue_length=_count(data.get("queueLength")),
        estimated_wait_seconds=_count(data.get("estimatedWaitSeconds")),
    )


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return int(value)
    return None
