"""The HTTP side of the VoiceAI Connect channel (mounted at `/<instance name>/`).

    GET  bots/{tenant}                           health check (the gateway's botURL)
    POST bots/{tenant}                           a call starts: create the conversation
    POST bots/{tenant}/calls/{id}/activities     the caller's turns and the call's events
    POST bots/{tenant}/calls/{id}/refresh        keep-alive
    POST bots/{tenant}/calls/{id}/disconnect     the call ended
    GET  transcripts/{reference}                 the transcript for a transfer reference

The gateway authenticates with `Authorization: Bearer <bot_token>`, the contact centre's
system with its own `transcript_token`. Wire details are in `adapters.voiceai.wire`.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from adapters.voiceai import wire
from adapters.voiceai.caller import e164
from adapters.voiceai.calls import Answerer, Call, Calls
from adapters.voiceai.options import VoiceOptions
from adapters.voiceai.reference import read_reference
from adapters.voiceai.speech import spoken_choice
from handover.sdk import events as ev
from handover.sdk.contracts import AdapterContext, IngestOutcome
from handover.sdk.http import (
    ApiError,
    Unavailable,
    ingest_or_error,
    json_errors,
    read_json,
    resolve_or_error,
)
from handover.sdk.model import Content, Conversation, Party, State
from handover.sdk.registration import CALLER_NUMBER_CONTEXT_KEY


def _bearer(request: web.Request, tokens: Sequence[str]) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>",
                       {"WWW-Authenticate": "Bearer"})
    # Compare with every configured token (a rotation has two), each in constant time.
    matched = False
    for expected in tokens:
        matched |= hmac.compare_digest(token.strip().encode(), expected.encode())
    if not matched:
        raise ApiError(401, "unauthorized", "the token is not valid",
                       {"WWW-Authenticate": 'Bearer error="invalid_token"'})


_UNAVAILABLE = "the activity could not be stored; send it again"


class VoiceRoutes:
    def __init__(
        self, ctx: AdapterContext, name: str, options: VoiceOptions, calls: Calls
    ) -> None:
        self.ctx = ctx
        self.name = name
        self.options = options
        self.calls = calls
        self.answerer = Answerer(ctx, options)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors])
        call = "/bots/{tenant}/calls/{cid}"
        app.router.add_get("/bots/{tenant}", self.health)
        app.router.add_post("/bots/{tenant}", self.create)
        app.router.add_post(f"{call}/activities", self.activities, name="activities")
        app.router.add_post(f"{call}/refresh", self.refresh, name="refresh")
        app.router.add_post(f"{call}/disconnect", self.disconnect, name="disconnect")
        app.router.add_get("/transcripts/{reference}", self.transcript)
        return app

    # --- the gateway ------------------------------------------------------------------

    def _tenant(self, request: web.Request) -> str:
        _bearer(request, self.options.bot_tokens)
        tenant = request.match_info["tenant"]
        if tenant not in self.ctx.tenants():
            raise ApiError(404, "unknown_tenant", f"no tenant {tenant!r} uses this channel")
        return tenant

    async def health(self, request: web.Request) -> web.Response:
        self._tenant(request)
        return web.json_response({"type": "ac-bot-api", "success": True})

    async def create(self, request: web.Request) -> web.Response:
        tenant = self._tenant(request)
        key = wire.conversation_of(await read_json(request))
        # The gateway's conversation is one call: a second call from the same caller
        # is a new conversation. A retried create finds the same one.
        conv = await resolve_or_error(
            self.ctx, tenant, key, log_event="voiceai.create_failed", detail=_UNAVAILABLE
        )
        self.ctx.log.info("voiceai.call_started", conversation_id=conv.id, tenant=tenant)
        urls = {name: self._url(request, name, tenant, conv.id) for name in wire.CALL_URLS}
        return web.json_response(wire.created(urls, self.options.expires_seconds))

    def _url(self, request: web.Request, route: str, tenant: str, conversation_id: str) -> str:
        """Absolute under the daemon's public URL when it is configured, else
        root-relative: never relative to the botURL, which a gateway that joins URLs by
        concatenation turns into a 404. The route's path includes the prefix the
        daemon mounted this channel under."""
        path = str(request.app.router[route].url_for(tenant=tenant, cid=conversation_id))
        base = self.ctx.public_url
        return f"{base.rstrip('/')}{path}" if base else path

    async def _call(self, request: web.Request) -> tuple[Conversation, dict[str, Any]]:
        tenant = self._tenant(request)
        body = await read_json(request)
        key = wire.conversation_of(body)
        conv = await self.ctx.get_conversation(request.match_info["cid"])
        if conv is None or conv.channel != self.name or conv.tenant != tenant or (
            conv.channel_key != key
        ):
            raise ApiError(404, "unknown_conversation", "no such call on this channel")
        return conv, body

    async def refresh(self, request: web.Request) -> web.Response:
        await self._call(request)
        return web.json_response({"expiresSeconds": self.options.expires_seconds})

    async def disconnect(self, request: web.Request) -> web.Response:
        conv, _body = await self._call(request)
        await self._ingest(ev.CitizenLeft(
            conversation_id=conv.id, source=self.name, source_id=f"{conv.id}:disconnect"))
        await self.calls.forget(conv.id)
        self.ctx.log.info("voiceai.call_ended", conversation_id=conv.id)
        return web.json_response({})

    async def activities(self, request: web.Request) -> web.Response:
        deadline = asyncio.get_running_loop().time() + self.options.response_budget_seconds
        conv, body = await self._call(request)
        activities = wire.parse_activities(body)
        local = self.calls.local(conv.id)
        async with local.lock:
            call = await self._load(conv.id)
            ids = tuple(a.id for a in activities)
            if ids and ids == call.last_ids:
                # The gateway retried a POST whose answer it did not get.
                return web.json_response({"activities": call.last_answer})
            await self.answerer.recover_cursor(call, conv.id)
            answer = await self._turns(conv, call, local.changed, activities, deadline)
            call.last_ids, call.last_answer = ids, answer
            await self._save(conv.id, call)
        return web.json_response({"activities": answer})

    async def _load(self, conversation_id: str) -> Call:
        try:
            return await self.calls.load(conversation_id)
        except Exception:
            self.ctx.log.warning("voiceai.state_failed", conversation_id=conversation_id,
                                 exc_info=True)
            raise Unavailable(_UNAVAILABLE) from None

    async def _save(self, conversation_id: str, call: Call) -> None:
        try:
            await self.calls.save(conversation_id, call)
        except Exception:
            # The answer is built: better spoken than lost. The next request recovers
            # the cursor from the transcript (at worst something is said again).
            self.ctx.log.warning("voiceai.state_failed", conversation_id=conversation_id,
                                 exc_info=True)

    async def _turns(
        self, conv: Conversation, call: Call, changed: asyncio.Event,
        activities: list[wire.Activity], deadline: float,
    ) -> list[dict[str, Any]]:
        before: list[dict[str, Any]] = []
        expect_reply = silence = False
        for activity in activities:
            event = self._event(conv, call, activity, before)
            if activity.type == "event" and activity.name == wire.NO_INPUT:
                silence = True
            if event is None:
                continue
            outcome, state = await self._ingest(event)
            if outcome is IngestOutcome.APPLIED and state not in (State.TRANSFER, State.CLOSED):
                expect_reply = expect_reply or not isinstance(event, ev.CitizenLeft)
            elif isinstance(event, ev.TransferStatus) and not event.answered:
                expect_reply = True
        answer = await self.answerer.collect(
            call, changed, conv.id, expect_reply=expect_reply, deadline=deadline
        )
        if silence and not answer:
            answer = await self.answerer.repeat_last(conv.id, conv.language)
        return before + answer

    def _event(
        self, conv: Conversation, call: Call, activity: wire.Activity,
        before: list[dict[str, Any]],
    ) -> ev.Event | None:
        """The core event for one activity (None: nothing for the core)."""
        common: dict[str, Any] = {"conversation_id": conv.id, "source": self.name,
                  "source_id": f"{conv.id}:{activity.id}"}
        if activity.type == "event" and activity.name == wire.START:
            call.caller = e164(wire.caller(activity))
        # Every caller turn carries the caller's number into the conversation's context
        # (merged, so it is there whichever turn the core takes first): a callback
        # request on this call offers it. Never logged; the core keeps it from bots
        # and desks.
        said: dict[str, Any] = dict(common)
        if call.caller:
            said["context"] = {CALLER_NUMBER_CONTEXT_KEY: call.caller}
        if activity.type == "message":
            text = activity.text.strip()
            if not text:
                return None
            call.silences = 0
            if "choices" in conv.context:
                text = spoken_choice(text) or text
            return ev.CitizenMessage(**said, content=Content(text=text))
        name = activity.name
        if name == wire.START:
            before.append(wire.config(
                self.ctx.clock.now(),
                no_input_ms=int(self.options.no_input_timeout_seconds * 1000),
                no_input_retries=self.options.max_no_input,
                dtmf_max_digits=self.options.dtmf_max_digits,
            ))
            if not self.options.start_payload:
                return None
            return ev.CitizenMessage(**said, content=Content(text=""),
                                     payload=self.options.start_payload)
        if name == wire.DTMF:
            call.silences = 0
            return ev.CitizenMessage(**said, content=Content(text=wire.dtmf_digits(activity)))
        if name == wire.NO_INPUT:
            call.silences += 1
            if call.silences >= self.options.max_no_input:
                return ev.CitizenLeft(**common)
            return None
        if name == wire.TRANSFER_STATUS:
            answered, reason = wire.transfer_answered(activity)
            self.ctx.log.info("voiceai.transfer_status", conversation_id=conv.id,
                              answered=answered)
            return ev.TransferStatus(**common, answered=answered, reason=reason,
                                     fallback=self.options.transfer_failure)
        if name == wire.HANGUP:
            return ev.CitizenLeft(**common)
        self.ctx.log.debug("voiceai.event_ignored", conversation_id=conv.id, event_name=name)
        return None

    async def _ingest(self, event: ev.Event) -> tuple[IngestOutcome, State | None]:
        result = await ingest_or_error(
            self.ctx, event, log_event="voiceai.ingest_failed", detail=_UNAVAILABLE
        )
        state = result.conversation.state if result.conversation else None
        return result.outcome, state

    # --- the contact centre -------------------------------------------------------------

    async def transcript(self, request: web.Request) -> web.Response:
        _bearer(request, self.options.transcript_tokens)
        ref = read_reference(self.options.reference_secret, request.match_info["reference"],
                             self.ctx.clock.now().timestamp())
        conv = await self.ctx.get_conversation(ref[0]) if ref else None
        if ref is None or conv is None or conv.channel != self.name:
            # The same answer for a forged or expired reference and an erased
            # conversation.
            raise ApiError(404, "unknown_reference", "no transcript for this reference")
        entries = await self.ctx.transcript_tail(conv.id, 1000)
        return web.json_response({
            "reference": request.match_info["reference"],
            "tenant": conv.tenant,
            "language": conv.language,
            "handover_no": ref[1],
            "started_at": conv.created_at.isoformat() if conv.created_at else None,
            "entries": [
                {
                    "seq": e.seq,
                    "party": e.party.value,
                    "sender_name": e.sender_name,
                    "text": e.content.text,
                    "created_at": e.created_at.isoformat() if e.created_at else None,
                }
                for e in entries
                # The call's start is recorded as an empty caller turn: not worth reading.
                if e.content.text.strip() or e.party is not Party.CITIZEN
            ],
        })
