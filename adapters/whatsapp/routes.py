"""Meta's webhook at `/<instance name>/webhook`, and the media links for the desk.

    GET  /webhook       the verification handshake (hub.mode, hub.verify_token,
                        hub.challenge): the challenge echoed, or 403
    POST /webhook       a signed batch of messages and statuses
    GET  /media/{name}  a citizen's medium for the agent (unguessable name, expires;
                        an instance without the file fetches it again by media id)

Answers to a POST, and why (Meta retries anything but 2xx, for days):

- 401 a missing or wrong `X-Hub-Signature-256` (checked on the raw bytes against
  every configured app secret, before anything is parsed);
- 413 a body over 256 KiB; 400 a body that is not a WhatsApp payload (or JSON nested
  too deeply);
- 503 + Retry-After when a message could not be stored, or a medium could not be
  fetched for now: Meta sends the whole batch again and the messages already stored
  are recognised by their wamid;
- 200 `{"messages": {outcome: n}, "statuses": n}` otherwise, including what we drop on
  purpose (reactions, unknown types, numbers of no tenant): retrying cannot change
  them. Every message and status is counted in `handover_whatsapp_inbound_total`
  and `handover_whatsapp_statuses_total`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections import Counter as Tally
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import Counter

from adapters.whatsapp import wire
from adapters.whatsapp.client import MediaTooLarge
from adapters.whatsapp.media import MediaRefused, Stored, sniff_file
from handover.sdk import metrics
from handover.sdk.errors import AuthError, DeliveryError, TransientError
from handover.sdk.http import ApiError, Unavailable, json_errors, read_capped

if TYPE_CHECKING:
    from adapters.whatsapp.adapter import WhatsAppChannel

MAX_WEBHOOK_BYTES = 256 * 1024

INBOUND = Counter(
    "handover_whatsapp_inbound_total",
    "Citizen messages from the webhook by WhatsApp type and what became of them.",
    ["adapter", "type", "outcome"],
    registry=metrics.REGISTRY,
)
STATUSES = Counter(
    "handover_whatsapp_statuses_total",
    "Status webhooks about our messages (sent, delivered, read, failed, other).",
    ["adapter", "status"],
    registry=metrics.REGISTRY,
)

#: Types a citizen may send that we cannot pass on: they get a polite answer.
UNSUPPORTED = frozenset({"video", "sticker", "contacts", "unsupported"})
_KNOWN_TYPES = frozenset({"text", "interactive", "button", "location", "image", "audio",
                          "document", "reaction", "system", "order", *UNSUPPORTED})


class WebhookRoutes:
    def __init__(self, channel: WhatsAppChannel) -> None:
        self.channel = channel
        self.ctx = channel.ctx
        self.options = channel.options

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors])
        app.add_routes([
            web.get("/webhook", self.verify),
            web.post("/webhook", self.receive),
            web.get("/media/{token}", self.media),
        ])
        return app

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        token = q.get("hub.verify_token", "")
        good = hmac.compare_digest(token.encode(), self.options.verify_token.encode())
        if q.get("hub.mode") != "subscribe" or not good or "hub.challenge" not in q:
            self.ctx.log.warning("whatsapp.verify_refused")
            return web.Response(status=403, text="forbidden")
        return web.Response(text=q["hub.challenge"], content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        body = await read_capped(request, MAX_WEBHOOK_BYTES)
        if not wire.check_signature(request.headers.get(wire.SIGNATURE_HEADER), body,
                                    self.options.app_secrets):
            metrics.WEBHOOK_SIGNATURE_FAILURES.labels(self.ctx.name).inc()
            self.ctx.log.warning("whatsapp.webhook_refused", reason="bad_signature")
            raise ApiError(401, "bad_signature", "X-Hub-Signature-256 missing or wrong")
        try:
            batch = wire.parse_batch(json.loads(body))
        except RecursionError:  # thousands of nested brackets
            self.ctx.log.warning("whatsapp.webhook_invalid", detail="nested too deeply")
            raise ApiError(400, "invalid_payload", "the body is nested too deeply") from None
        except ValueError as exc:  # WireError, JSONDecodeError, UnicodeDecodeError
            self.ctx.log.warning("whatsapp.webhook_invalid", detail=str(exc)[:200])
            raise ApiError(400, "invalid_payload", str(exc)[:200]) from None
        outcomes: Tally[str] = Tally()
        for message in batch.messages:
            kind = message.type if message.type in _KNOWN_TYPES else "other"
            outcome = await self.channel.inbound.handle(message)
            INBOUND.labels(self.ctx.name, kind, outcome).inc()
            outcomes[outcome] += 1
        for status in batch.statuses:
            await self.channel.inbound.status(status)
            STATUSES.labels(self.ctx.name, status.status if status.status in
                            ("sent", "delivered", "read", "failed") else "other").inc()
        answer: dict[str, Any] = {"messages": dict(outcomes), "statuses": len(batch.statuses)}
        return web.json_response(answer)

    async def media(self, request: web.Request) -> web.StreamResponse:
        stored = await self.channel.media.find(request.match_info["token"],
                                               self.ctx.clock.now())
        if stored is None:
            raise ApiError(404, "not_found", "no such medium, or it has expired")
        if not await asyncio.to_thread(stored.path.exists):
            await self._fetch_again(stored)
        inline = stored.mime_type.startswith("image/")
        disposition = "inline" if inline else "attachment"
        # RFC 6266 with a plain fallback name: the real name may hold any character.
        quoted = stored.name.encode("ascii", "replace").decode().replace('"', "'")
        return web.FileResponse(stored.path, headers={
            "Content-Type": stored.mime_type,
            "Content-Disposition": f'{disposition}; filename="{quoted}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
        })


    async def _fetch_again(self, stored: Stored) -> None:
        """Another instance downloaded this medium: fetch this instance's copy from the
        Graph API by its media id, and serve it only if it is still what was checked."""
        media, kind = self.channel.media, stored.kind
        cap = wire.MEDIA_LIMITS.get(kind, 0)
        if not stored.media_id or not cap:
            raise ApiError(404, "not_found", "no such medium, or it has expired")
        try:
            path, declared = await media.download_file(
                lambda sink: self.channel.client.download(stored.media_id, cap, sink))
        except (TransientError, AuthError):
            raise Unavailable("the medium cannot be fetched now; retry", 5) from None
        except (DeliveryError, MediaTooLarge):
            # Meta no longer has it (or it changed): gone for this link, too.
            self.ctx.log.info("whatsapp.media_gone")
            raise ApiError(404, "not_found", "no such medium, or it has expired") from None
        try:
            mime = await asyncio.to_thread(sniff_file, path, kind, declared)
        except MediaRefused:
            mime = ""
        if mime != stored.mime_type:
            await media.discard(path)
            raise ApiError(404, "not_found", "no such medium, or it has expired")
        await media.adopt(path, stored)


__all__ = ["INBOUND", "STATUSES", "WebhookRoutes"]
