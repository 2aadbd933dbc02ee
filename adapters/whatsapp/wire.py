"""The WhatsApp Cloud API wire format: webhook signatures and payloads, send bodies,
error codes. Nothing here does I/O.

Payload facts (Meta's documentation): a webhook POST is
`{object: "whatsapp_business_account", entry: [{id, changes: [{field: "messages",
value: {metadata: {phone_number_id}, contacts: [...], messages: [...], statuses:
[...]}}]}]}`, signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body
with the app secret>`. Since 2026 contacts and messages may carry a business-scoped user
id (`user_id`); for username users the phone number (`wa_id`, `from`) may be absent.
Sending to such a user uses `recipient: <user_id>` instead of `to` (an assumption to
confirm against Meta's reference when it is final; only `send_target` depends on it).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SIGNATURE_HEADER = "X-Hub-Signature-256"
MESSAGING_PRODUCT = "whatsapp"

#: Meta's limits on interactive messages.
MAX_REPLY_BUTTONS = 3
MAX_LIST_ROWS = 10
REPLY_TITLE_CHARS = 20
ROW_TITLE_CHARS = 24
ROW_DESCRIPTION_CHARS = 72
INTERACTIVE_BODY_CHARS = 1024
TEXT_BODY_CHARS = 4096

#: Media types passed on to the agent, with Meta's size limit for each.
MEDIA_LIMITS = {"image": 5 * 1024 * 1024, "audio": 16 * 1024 * 1024,
                "document": 100 * 1024 * 1024}

#: Error codes (Graph `error.code`) and what they mean for a send.
REENGAGEMENT_REQUIRED = 131047  # outside the 24-hour window: only templates pass
AUTH_CODES = frozenset({190, 0, 10, 200})
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131048, 131056})
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016, 133004})


class WireError(ValueError):
    """A payload that breaks the documented shape."""


def check_signature(header: str | None, body: bytes, secrets: Sequence[str]) -> bool:
    """True when `header` is `sha256=<hex>` of `body` under one of `secrets`."""
    if not header or not header.startswith("sha256="):
        return False
    given = header[len("sha256="):].strip().lower()
    ok = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        # Check every secret (no early exit), so timing does not tell which one matched.
        ok |= hmac.compare_digest(expected, given)
    return ok


def sign(body: bytes, secret: str) -> str:
    """The header value Meta would send (for tests and tools)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- inbound --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inbound:
    """One citizen message of a batch, with the number it was sent to."""

    phone_number_id: str
    wamid: str
    type: str
    wa_id: str | None
    user_id: str | None
    profile_name: str | None
    timestamp: int
    body: Mapping[str, Any]

    @property
    def identity(self) -> str:
        """The conversation key: the business-scoped user id when present."""
        return self.user_id or self.wa_id or ""

    @property
    def part(self) -> Mapping[str, Any]:
        """The type-specific object (`text`, `image`, `interactive`...)."""
        value = self.body.get(self.type)
        return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Status:
    """Meta's report about one message we sent."""

    phone_number_id: str
    wamid: str
    status: str
    timestamp: int
    #: What we put in `biz_opaque_callback_data` at the send: our part id.
    callback: str | None
    error_codes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Batch:
    messages: tuple[Inbound, ...] = ()
    statuses: tuple[Status, ...] = ()
    #: Changes of other fields (account updates...), counted and ignored.
    other_fields: tuple[str, ...] = field(default_factory=tuple)


def parse_batch(data: Any) -> Batch:
    """Every message and status of every change of every entry, in payload order."""
    if not isinstance(data, Mapping) or data.get("object") != "whatsapp_business_account":
        raise WireError("not a whatsapp_business_account payload")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise WireError("entry: expected an array")
    messages: list[Inbound] = []
    statuses: list[Status] = []
    other: list[str] = []
    for value, field_name in _changes(entries):
        if field_name != "messages":
            other.append(field_name[:40])
            continue
        metadata = value.get("metadata")
        number = metadata.get("phone_number_id") if isinstance(metadata, Mapping) else None
        if not isinstance(number, str):
            raise WireError("value.metadata.phone_number_id missing")
        contacts = _contacts(value.get("contacts"))
        for msg in _objects(value.get("messages"), "messages"):
            messages.append(_inbound(number, msg, contacts))
        for st in _objects(value.get("statuses"), "statuses"):
            statuses.append(_status(number, st))
    return Batch(tuple(messages), tuple(statuses), tuple(other))


def _changes(entries: list[Any]) -> Iterator[tuple[Mapping[str, Any], str]]:
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("changes"), list):
            raise WireError("entry[].changes: expected an array")
        for change in entry["changes"]:
            if not isinstance(change, Mapping) or not isinstance(change.get("value"), Mapping):
                raise WireError("entry[].changes[].value: expected an object")
            yield change["value"], str(change.get("field", ""))


def _objects(value: Any, name: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise WireError(f"{name}: expected an array of objects")
    return value


def _contacts(value: Any) -> dict[str, Mapping[str, Any]]:
    """Contacts by wa_id and by user_id, so a message finds its profile either way."""
    out: dict[str, Mapping[str, Any]] = {}
    for contact in _objects(value, "contacts"):
        for key in ("wa_id", "user_id"):
            if isinstance(contact.get(key), str):
                out[contact[key]] = contact
    return out


def _inbound(number: str, msg: Mapping[str, Any],
             contacts: Mapping[str, Mapping[str, Any]]) -> Inbound:
    wamid, kind = msg.get("id"), msg.get("type")
    if not isinstance(wamid, str) or not wamid or not isinstance(kind, str):
        raise WireError("messages[]: id and type are required")
    wa_id = msg.get("from") if isinstance(msg.get("from"), str) else None
    user_id = msg.get("from_user_id") or msg.get("user_id")
    contact = contacts.get(wa_id or "") or contacts.get(str(user_id or "")) or {}
    if not isinstance(user_id, str):
        user_id = contact.get("user_id") if isinstance(contact.get("user_id"), str) else None
    if wa_id is None and isinstance(contact.get("wa_id"), str):
        wa_id = contact["wa_id"]
    if not wa_id and not user_id:
        raise WireError("messages[]: neither from nor user_id")
    profile = contact.get("profile")
    name = profile.get("name") if isinstance(profile, Mapping) else None
    return Inbound(number, wamid, kind, wa_id, user_id,
                   name if isinstance(name, str) else None, _int(msg.get("timestamp")), msg)


def _status(number: str, st: Mapping[str, Any]) -> Status:
    wamid, status = st.get("id"), st.get("status")
    if not isinstance(wamid, str) or not isinstance(status, str):
        raise WireError("statuses[]: id and status are required")
    codes = tuple(_int(e.get("code")) for e in _objects(st.get("errors"), "errors"))
    callback = st.get("biz_opaque_callback_data")
    return Status(number, wamid, status, _int(st.get("timestamp")),
                  callback if isinstance(callback, str) else None, codes)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# --- outbound -------------------------------------------------------------------------


def send_target(wa_id: str | None, user_id: str | None) -> dict[str, str]:
    """Who a send goes to: the WhatsApp id when known, else the business-scoped id."""
    if wa_id:
        return {"to": wa_id}
    if user_id:
        return {"recipient": user_id}
    raise WireError("no recipient")


def _base(target: Mapping[str, str], callback: str) -> dict[str, Any]:
    return {"messaging_product": MESSAGING_PRODUCT, "recipient_type": "individual",
            **target, "biz_opaque_callback_data": callback}


def text_body(target: Mapping[str, str], callback: str, text: str) -> dict[str, Any]:
    return {**_base(target, callback), "type": "text",
            "text": {"body": text[:TEXT_BODY_CHARS], "preview_url": False}}


def buttons_body(target: Mapping[str, str], callback: str, text: str,
                 choices: Sequence[tuple[str, str]], list_label: str) -> dict[str, Any]:
    """Up to 3 choices as reply buttons, up to 10 as a list; `choices` = (id, title)."""
    if len(choices) <= MAX_REPLY_BUTTONS:
        action: dict[str, Any] = {"buttons": [
            {"type": "reply", "reply": {"id": cid, "title": _cut(title, REPLY_TITLE_CHARS)}}
            for cid, title in choices
        ]}
        kind = "button"
    elif len(choices) <= MAX_LIST_ROWS:
        rows = []
        for cid, title in choices:
            row = {"id": cid, "title": _cut(title, ROW_TITLE_CHARS)}
            if len(title) > ROW_TITLE_CHARS:
                # The whole title stays readable under the shortened one.
                row["description"] = _cut(title, ROW_DESCRIPTION_CHARS)
            rows.append(row)
        action = {"button": _cut(list_label, REPLY_TITLE_CHARS),
                  "sections": [{"rows": rows}]}
        kind = "list"
    else:
        raise WireError(f"{len(choices)} choices do not fit an interactive message")
    return {**_base(target, callback), "type": "interactive", "interactive": {
        "type": kind, "body": {"text": text[:INTERACTIVE_BODY_CHARS]}, "action": action}}


def media_body(target: Mapping[str, str], callback: str, kind: str, url: str,
               name: str) -> dict[str, Any]:
    media: dict[str, Any] = {"link": url}
    if kind == "document" and name:
        media["filename"] = name
    return {**_base(target, callback), "type": kind, kind: media}


def template_body(target: Mapping[str, str], callback: str, name: str, language: str,
                  text: str | None) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if text is not None:
        # Template parameters may not hold newlines, tabs or 4+ spaces in a row.
        flat = " ".join(text.split())[:1000]
        template["components"] = [{"type": "body", "parameters": [
            {"type": "text", "text": flat}]}]
    return {**_base(target, callback), "type": "template", "template": template}


def read_body(wamid: str) -> dict[str, Any]:
    return {"messaging_product": MESSAGING_PRODUCT, "status": "read", "message_id": wamid}


def sent_wamid(data: Any) -> str | None:
    """The new message id from a send answer."""
    if isinstance(data, Mapping):
        msgs = data.get("messages")
        if isinstance(msgs, list) and msgs and isinstance(msgs[0], Mapping):
            wamid = msgs[0].get("id")
            return wamid if isinstance(wamid, str) else None
    return None


def error_code(data: Any) -> int | None:
    if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
        code = data["error"].get("code")
        return code if isinstance(code, int) else None
    return None


def media_kind(mime_type: str) -> str:
    """How an attachment of this type is sent: image, audio, video or document."""
    major = mime_type.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "document"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
