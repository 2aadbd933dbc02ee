"""Rasa REST-channel bot messages <-> the core's `Content` and `BotResponse`.

Rasa's REST channel (`POST /webhooks/rest/webhook`) answers with a JSON array of bot
messages, each with a `recipient_id` and any of `text`, `buttons` [{title, payload}],
`quick_replies` [{title, payload, content_type}], `image` (a URL), `attachment` (a URL or
a rasa-webchat style `{type, payload: {src, title}}`), `elements` and `custom`. Rasa
usually splits one response into several messages (text first, then image, attachment,
custom), so one bot message becomes at most one `Content` here.

The handover trigger is a custom payload with a configurable key (`{"handover": {...}}`
by default, see the domain notes: Gem's own payload is not public). That message is a
signal for the daemon, not something to show, so it yields a `Content` only when it also
carries text. Every other custom payload is kept in `Content.custom` for channels that
understand it.

Parsing is lenient on purpose: a bot message with one malformed button still shows its
text and the other buttons, instead of failing the whole turn for the citizen.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from handover.sdk.contracts import BotResponse
from handover.sdk.model import Attachment, Button, Content, HandoverSignal

__all__ = ["DEFAULT_HANDOVER_KEY", "parse_rasa_messages", "to_rasa_messages"]

DEFAULT_HANDOVER_KEY = "handover"

# rasa-webchat attachment types and the media range they stand for when the URL does not
# tell the exact type. "image/*" is a range rather than a type, but it keeps the one fact
# a channel needs (show inline or as a link) without inventing a format.
_ATTACHMENT_TYPE_MIME = {"image": "image/*", "video": "video/*", "audio": "audio/*"}
_GENERIC_MIME = "application/octet-stream"


def parse_rasa_messages(
    messages: Sequence[Mapping[str, Any]], handover_key: str = DEFAULT_HANDOVER_KEY
) -> BotResponse:
    """Map Rasa REST bot messages to what the citizen sees and an optional handover.

    When several messages carry a handover signal, the first one counts. Entries that
    are not objects, and buttons without a payload, are skipped.
    """
    contents: list[Content] = []
    handover: HandoverSignal | None = None
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        custom = message.get("custom")
        extra: dict[str, Any] = {}
        if isinstance(custom, Mapping):
            extra = dict(custom)
            if handover_key in extra:
                raw = extra.pop(handover_key)
                if handover is None:
                    handover = _signal(raw)
                if not _text(message):
                    # The signal is for the daemon; without text there is nothing to show.
                    continue
        elif custom is not None:
            # A custom payload that is not an object (a list, a string) is still the bot's
            # to give to a channel that understands it.
            extra = {"value": custom}
        attachments = _image(message.get("image"))
        raw_attachment = message.get("attachment")
        attachment = _attachment(raw_attachment)
        if attachment is not None:
            attachments += (attachment,)
        elif raw_attachment:
            # An attachment template (carousel, generic) has no Content field: keep it.
            extra["attachment"] = raw_attachment
        if message.get("elements"):
            extra["elements"] = message["elements"]
        content = Content(
            text=_text(message),
            buttons=_buttons(message.get("buttons")) + _buttons(message.get("quick_replies")),
            attachments=attachments,
            custom=extra or None,
        )
        if content.text or content.buttons or content.attachments or content.custom:
            contents.append(content)
    return BotResponse(messages=tuple(contents), handover=handover)


def to_rasa_messages(
    recipient_id: str, response: BotResponse, handover_key: str = DEFAULT_HANDOVER_KEY
) -> list[dict[str, Any]]:
    """The reverse of `parse_rasa_messages`: what a Rasa bot would answer.

    One message per Content; a Content's second and further attachments become messages
    of their own (a Rasa message holds one image or attachment). The handover signal
    comes last, as the custom payload under `handover_key`.
    """
    out: list[dict[str, Any]] = []
    for content in response.messages:
        message: dict[str, Any] = {"recipient_id": recipient_id}
        if content.text:
            message["text"] = content.text
        if content.buttons:
            message["buttons"] = [{"title": b.title, "payload": b.payload} for b in content.buttons]
        if content.custom:
            message["custom"] = dict(content.custom)
        attachments = list(content.attachments)
        if attachments:
            message.update(_attachment_fields(attachments.pop(0)))
        out.append(message)
        out.extend({"recipient_id": recipient_id, **_attachment_fields(a)} for a in attachments)
    if response.handover is not None:
        signal = response.handover.to_json()
        out.append({"recipient_id": recipient_id, "custom": {handover_key: signal}})
    return out


# --- parsing helpers -----------------------------------------------------------------

_SIGNAL_KEYS = frozenset(("reason", "topic", "queue", "language", "consent", "details"))


def _signal(raw: Any) -> HandoverSignal:
    """The handover payload as a signal. `skill` is taken for `queue` (desks name it
    either way); any other key the bot adds (a summary, a case number) is kept in
    `details` for the agent rather than silently lost."""
    data = dict(raw) if isinstance(raw, Mapping) else {}
    if data.get("queue") is None and data.get("skill") is not None:
        data["queue"] = data.pop("skill")
    extra = {k: v for k, v in data.items() if k not in _SIGNAL_KEYS}
    if extra:
        given = data.get("details")
        data["details"] = {**extra, **(given if isinstance(given, Mapping) else {})}
    return HandoverSignal.from_json(data)



def _text(message: Mapping[str, Any]) -> str:
    text = message.get("text")
    if text is None:
        return ""
    return text if isinstance(text, str) else str(text)


def _buttons(raw: Any) -> tuple[Button, ...]:
    if not isinstance(raw, list | tuple):
        return ()
    out: list[Button] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        payload = item.get("payload")
        if payload is None or payload == "":
            # Quick replies such as {"content_type": "location"} ask the client for data
            # the daemon cannot relay; a button without a payload cannot be answered.
            continue
        title = item.get("title")
        out.append(Button(title=str(title) if title else str(payload), payload=str(payload)))
    return tuple(out)


def _image(url: Any) -> tuple[Attachment, ...]:
    if not isinstance(url, str) or not url:
        return ()
    return (Attachment(url=url, name=_name_of(url), mime_type=_mime_of(url, "image")),)


def _attachment(raw: Any) -> Attachment | None:
    """A URL, `{url, name?, mime_type?}` or rasa-webchat's `{type, payload: {src, title}}`."""
    if isinstance(raw, str):
        if not raw:
            return None
        return Attachment(url=raw, name=_name_of(raw), mime_type=_mime_of(raw, None))
    if not isinstance(raw, Mapping):
        return None
    kind = raw.get("type")
    inner = raw.get("payload")
    source: Mapping[str, Any] = inner if isinstance(inner, Mapping) else raw
    url = source.get("src") or source.get("url")
    if not isinstance(url, str) or not url:
        return None  # a template (carousel, generic) rather than a file
    name = source.get("name") or source.get("title") or _name_of(url)
    mime = source.get("mime_type") or source.get("mimeType")
    if not isinstance(mime, str) or not mime:
        mime = _mime_of(url, kind if isinstance(kind, str) else None)
    return Attachment(url=url, name=str(name), mime_type=mime)


def _name_of(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name


def _mime_of(url: str, kind: str | None) -> str:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    if guessed and (kind is None or guessed.startswith(f"{kind}/")):
        return guessed
    return _ATTACHMENT_TYPE_MIME.get(kind or "", _GENERIC_MIME)


# --- rendering helpers ---------------------------------------------------------------


def _attachment_fields(attachment: Attachment) -> dict[str, Any]:
    """An image as Rasa's `image` field (what an `image:` response gives), anything else
    as a rasa-webchat style attachment carrying name and type."""
    url, mime = attachment.url, attachment.mime_type
    # Only when `image` says it all: the name and type parsing would give back anyway.
    if attachment.name == _name_of(url) and mime.startswith("image/") and (
        _mime_of(url, "image") == mime
    ):
        return {"image": url}
    kind = attachment.mime_type.partition("/")[0]
    return {
        "attachment": {
            "type": kind if kind in _ATTACHMENT_TYPE_MIME else "file",
            "payload": {
                "src": attachment.url,
                "name": attachment.name,
                "mime_type": attachment.mime_type,
            },
        }
    }
