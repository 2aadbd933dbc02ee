"""From one webhook message or status to what the core must know.

Messages become `CitizenMessage` events keyed on their wamid (Meta resends for days;
the inbox drops repeats). Interactive answers carry the bot's payload again; media is
downloaded, checked and stored for the agent; a location becomes text with a map link;
types we cannot pass on get a polite answer; reactions and unknown types are dropped
and counted. Statuses update the send log, and a "failed" for an agent's message
tells the agent (a desk note, through `DeliveryFailed`).

Outcome labels (metrics and the webhook's answer): applied, duplicate, stale, refused,
unsupported, media_refused, ignored, unknown_number.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from adapters.whatsapp import wire
from adapters.whatsapp.client import MediaTooLarge
from adapters.whatsapp.media import MediaRefused, safe_name, sniff_file
from adapters.whatsapp.outbound import parse_choice_id, recipient
from adapters.whatsapp.sends import FAILED
from handover.sdk import events as ev
from handover.sdk.errors import (
    AuthError,
    DeliveryError,
    TransientError,
    UnknownTenant,
)
from handover.sdk.http import Unavailable, ingest_if_known
from handover.sdk.model import Attachment, Content, Conversation, Party

if TYPE_CHECKING:
    from adapters.whatsapp.adapter import WhatsAppChannel

POLITE = {
    "unsupported": {
        "nl": "Dit soort bericht kunnen we helaas niet lezen. Stuur uw vraag als tekst, "
              "foto, document of spraakbericht.",
        "en": "Sorry, we cannot read this kind of message. Please send your question as "
              "text, a photo, a document or a voice message.",
    },
    "media_refused": {
        "nl": "Dit bestand kunnen we helaas niet aannemen: het is te groot of van een soort "
              "dat we niet openen. Een foto, PDF of spraakbericht kan wel.",
        "en": "Sorry, we cannot accept this file: it is too large or of a kind we do not "
              "open. A photo, a PDF or a voice message is fine.",
    },
}

Reader = Callable[[wire.Inbound, Conversation], Awaitable[tuple[Content, str | None] | str]]


#: Seconds Meta is asked to wait before sending a batch again that we could not take.
RETRY_AFTER = 5
#: How long what a message's medium became is remembered: Meta resends a webhook for
#: up to 7 days.
MEDIUM_RECORD_TTL = 8 * 86400.0
#: How long one download may hold a message's medium before another request may try
#: (a crashed instance's claim runs out by itself).
CLAIM_SECONDS = 300.0


def _medium_key(wamid: str) -> str:
    return f"inbound:{wamid}"


def _unavailable() -> Unavailable:
    """Something needed for this batch is down: Meta should send it again."""
    return Unavailable(retry_after=RETRY_AFTER)


class InboundHandler:
    def __init__(self, channel: WhatsAppChannel) -> None:
        self.channel = channel
        self.ctx = channel.ctx
        self.source = channel.ctx.name
        self._readers: dict[str, Reader] = {
            "text": self._text,
            "interactive": self._interactive,
            "button": self._button,
            "location": self._location,
            "image": self._media,
            "audio": self._media,
            "document": self._media,
        }

    async def handle(self, m: wire.Inbound) -> str:
        tenant = self.channel.numbers.get(m.phone_number_id)
        if tenant is None or tenant not in self.ctx.tenants():
            self.ctx.log.warning("whatsapp.unknown_number")
            return "unknown_number"
        reader = self._readers.get(m.type)
        if reader is None and m.type not in ("video", "sticker", "contacts", "unsupported"):
            return "ignored"  # reactions, system messages, orders, types new to us
        conv = await self._conversation(tenant, m)
        if conv is None:
            return "unknown_number"
        try:
            await self.channel.sends.inbound(conv.id, self._sent_at(m))
        except Exception:
            self.ctx.log.warning("whatsapp.state_failed", conversation_id=conv.id,
                                 exc_info=True)
            raise _unavailable() from None
        if reader is None:
            await self._polite(conv, m, "unsupported")
            return "unsupported"
        read = await reader(m, conv)
        if isinstance(read, str):
            await self._polite(conv, m, read)
            return read
        content, payload = read
        result = await ingest_if_known(self.ctx, ev.CitizenMessage(
            conversation_id=conv.id, source=self.source, source_id=m.wamid,
            content=content, payload=payload,
        ), log_event="whatsapp.ingest_failed", retry_after=RETRY_AFTER)
        if result is None:
            return "unknown_number"
        if result.outcome.value == "applied" and self.channel.options.mark_read:
            # Off the webhook's path: Meta's answer (and the next batch) need not wait
            # for the blue ticks.
            self.channel.background(self._mark_read(m), "mark_read")
        return result.outcome.value

    async def _conversation(self, tenant: str, m: wire.Inbound) -> Conversation | None:
        context = {k: v for k, v in (("wa_id", m.wa_id), ("user_id", m.user_id),
                                     ("name", m.profile_name)) if v}
        try:
            conv = await self.ctx.resolve_conversation(tenant, m.identity, None, context)
        except UnknownTenant:
            return None
        except Exception:
            self.ctx.log.warning("whatsapp.resolve_failed", exc_info=True)
            raise _unavailable() from None
        return conv

    def _sent_at(self, m: wire.Inbound) -> datetime:
        """When the citizen wrote (Meta's timestamp), never later than now."""
        now = self.ctx.clock.now()
        if m.timestamp <= 0:
            return now
        return min(now, datetime.fromtimestamp(m.timestamp, UTC))

    # --- one reader per type ------------------------------------------------------------

    async def _text(self, m: wire.Inbound, conv: Conversation) -> tuple[Content, str | None]:
        return Content(text=str(m.part.get("body", ""))), None

    async def _interactive(self, m: wire.Inbound,
                           conv: Conversation) -> tuple[Content, str | None] | str:
        reply = m.part.get("button_reply") or m.part.get("list_reply")
        if not isinstance(reply, dict):
            return "unsupported"
        title = str(reply.get("title", ""))
        return Content(text=title), await self._payload(conv, str(reply.get("id", "")))

    async def _button(self, m: wire.Inbound, conv: Conversation) -> tuple[Content, str | None]:
        # A quick-reply button of a template message.
        payload = m.part.get("payload")
        return (Content(text=str(m.part.get("text", ""))),
                payload if isinstance(payload, str) and payload else None)

    async def _location(self, m: wire.Inbound,
                        conv: Conversation) -> tuple[Content, str | None]:
        loc = m.part
        lat, lon = loc.get("latitude"), loc.get("longitude")
        words = [str(loc[k]) for k in ("name", "address") if isinstance(loc.get(k), str)]
        lines = ["Locatie: " + ", ".join(words) if words else "Locatie"]
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            lines.append(f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}")
        custom = {"location": {k: loc[k] for k in ("latitude", "longitude", "name", "address")
                               if k in loc}}
        return Content(text="\n".join(lines), custom=custom), None

    async def _media(self, m: wire.Inbound, conv: Conversation) -> tuple[Content, str | None] | str:
        media_id = m.part.get("id")
        if not isinstance(media_id, str):
            return "media_refused"
        caption = m.part.get("caption")
        text = caption if isinstance(caption, str) else ""
        # Before any download: Meta sends a webhook again until it gets a 200 (and an
        # attacker may replay a signed one), and what its medium became is recorded.
        claim = await self._claim_medium(m.wamid, conv.id)
        if isinstance(claim, Attachment):
            return Content(text=text, attachments=(claim,)), None
        if claim is not None:
            return claim
        try:
            attachment = await self._download(m, media_id, conv)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.ctx.state.delete(_medium_key(m.wamid))  # a retry may try again
            raise
        if isinstance(attachment, str):
            await self.ctx.state.put(_medium_key(m.wamid), {"refused": attachment},
                                     ttl_seconds=MEDIUM_RECORD_TTL, conversation_id=conv.id)
            return attachment
        await self.ctx.state.put(_medium_key(m.wamid), {"attachment": {
            "url": attachment.url, "name": attachment.name, "mime_type": attachment.mime_type,
        }}, ttl_seconds=MEDIUM_RECORD_TTL, conversation_id=conv.id)
        return Content(text=text, attachments=(attachment,)), None

    async def _claim_medium(self, wamid: str, conversation_id: str) -> Attachment | str | None:
        """The attachment (or refusal) a redelivered message's medium already became;
        None when this request may download it (it now holds the claim)."""
        key = _medium_key(wamid)
        try:
            for _ in range(2):
                record = await self.ctx.state.get(key)
                if record is not None:
                    done = record.value.get("attachment")
                    if isinstance(done, dict):
                        return Attachment(url=str(done["url"]), name=str(done["name"]),
                                          mime_type=str(done["mime_type"]))
                    if isinstance(record.value.get("refused"), str):
                        return str(record.value["refused"])
                    # Another request (on this or another instance) is downloading it.
                    raise _unavailable()
                won = await self.ctx.state.put(key, {"claimed": True}, expect_version=0,
                                               ttl_seconds=CLAIM_SECONDS,
                                               conversation_id=conversation_id)
                if won is not None:
                    return None
        except Unavailable:
            raise
        except Exception:
            self.ctx.log.warning("whatsapp.state_failed", conversation_id=conversation_id,
                                 exc_info=True)
        raise _unavailable()

    async def _download(self, m: wire.Inbound, media_id: str,
                        conv: Conversation) -> Attachment | str:
        cap = wire.MEDIA_LIMITS[m.type]
        declared = str(m.part.get("mime_type") or "")
        media = self.channel.media
        try:
            path, answered = await media.download_file(
                lambda sink: self.channel.client.download(media_id, cap, sink))
        except MediaTooLarge as exc:
            self.ctx.log.info("whatsapp.media_refused", conversation_id=conv.id,
                              media_type=m.type, reason=str(exc)[:80])
            return "media_refused"
        except (TransientError, AuthError):
            # Not the citizen's doing (Meta down, our token refused): Meta keeps the
            # medium a while and resends the webhook, so try again then.
            self.ctx.log.warning("whatsapp.media_unavailable", conversation_id=conv.id)
            raise _unavailable() from None
        except DeliveryError:
            self.ctx.log.warning("whatsapp.media_failed", conversation_id=conv.id)
            return "media_refused"
        try:
            mime = await asyncio.to_thread(sniff_file, path, m.type, declared or answered)
        except MediaRefused as exc:
            await media.discard(path)
            self.ctx.log.info("whatsapp.media_refused", conversation_id=conv.id,
                              media_type=m.type, reason=str(exc)[:80])
            return "media_refused"
        return await media.save(path, mime, safe_name(m.part.get("filename")),
                                media_id=media_id, kind=m.type, conversation_id=conv.id,
                                now=self.ctx.clock.now())

    async def _payload(self, conv: Conversation, choice: str) -> str | None:
        """The bot's payload behind a choice id `c:<seq>:<n>` (None if unknown)."""
        parsed = parse_choice_id(choice)
        if parsed is None:
            return None
        seq, index = parsed
        for entry in await self.ctx.transcript(conv.id, after_seq=seq - 1):
            if entry.seq == seq:
                buttons = entry.content.buttons
                return buttons[index].payload if index < len(buttons) else None
            if entry.seq > seq:
                break
        return None

    # --- answers of our own ---------------------------------------------------------------

    async def _polite(self, conv: Conversation, m: wire.Inbound, key: str) -> None:
        """A fixed answer (not in the transcript); once per citizen message."""
        texts = POLITE[key]
        text = texts.get(conv.language, texts["nl"])
        number = self.channel.options.numbers_by_tenant(conv.tenant)
        try:
            body = wire.text_body(recipient(conv), f"reply:{m.wamid}", text)
            await self.channel.sender.send_part(conv, Party.SYSTEM.value, number,
                                                f"reply:{m.wamid}", body)
        except Exception as exc:
            # Best effort: the citizen's message itself cannot be passed on anyway.
            self.ctx.log.info("whatsapp.reply_failed", conversation_id=conv.id,
                              error=type(exc).__name__)

    async def _mark_read(self, m: wire.Inbound) -> None:
        try:
            await self.channel.client.mark_read(m.phone_number_id, m.wamid)
        except Exception as exc:
            # Blue ticks are a courtesy; the message is stored, so Meta gets its 200.
            self.ctx.log.debug("whatsapp.mark_read_failed", error=type(exc).__name__)

    # --- statuses -------------------------------------------------------------------------

    async def status(self, s: wire.Status) -> None:
        if s.status not in ("sent", "delivered", "read", "failed"):
            return
        try:
            part, _changed = await self.channel.sends.report(s.callback, s.wamid, s.status)
        except Exception:
            # Meta resends the batch: the status is not lost, only late.
            self.ctx.log.warning("whatsapp.state_failed", exc_info=True)
            raise _unavailable() from None
        if part.state != FAILED:
            return
        self.ctx.log.info("whatsapp.send_failed", conversation_id=part.conversation_id,
                          codes=list(s.error_codes))
        if part.party != Party.AGENT.value or not part.conversation_id:
            return
        conv = await self.ctx.get_conversation(part.conversation_id)
        if conv is None:
            return
        event = ev.DeliveryFailed(
            conversation_id=conv.id, source=self.source, source_id=f"status-failed:{s.wamid}",
            epoch=conv.epoch, kind="citizen.message",
            reason=f"whatsapp: failed ({', '.join(map(str, s.error_codes)) or 'no code'})",
            payload={"party": Party.AGENT.value, "part": part.part_id},
        )
        await ingest_if_known(self.ctx, event, log_event="whatsapp.ingest_failed",
                              retry_after=RETRY_AFTER)
