"""A fake OBI4wan on port 0 that speaks the assumed contract (adapters/obi4wan/wire.py).

The daemon's side: the custom-channel ingest (token in the query string, idempotent on
`messageId`) and the availability check. The agent's side: signed webhooks posted to
the daemon, one helper per event type. Faults can be injected per operation:

- `fail_next("ingest", Fault.http(503))`, `Fault.http(429, retry_after=2)`;
- `Fault.hang(seconds)`: answer late (the request is processed after the delay);
- `Fault.lost()`: processed, then the connection is dropped without an answer;
- `down = True`: every request answers 503 until it is set back;
  (the fault machinery and the record of calls come from the test kit's `FakeUpstream`)
- webhooks: `send(event, secret=..., timestamp=..., signature=...)` for bad signatures
  and stale timestamps, `event(...)` + `send` twice for duplicates, any order for
  out-of-order delivery, any thread id for unknown threads.

The wire names are spelled out here on purpose rather than imported from the adapter's
wire module: the fake is the other side of the contract, and a typo in one of them
must make the tests fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict
from typing import Any

from aiohttp import web

from handover.sdk.testing import FakeUpstream, Fault

__all__ = ["FakeObi4wan", "Fault"]

REQUIRED = {
    "channelIdentifier": str, "threadId": str, "messageId": str, "published": str,
    "content": str, "sender": dict,
}
OPTIONAL = {"url": str, "title": str, "attachments": list, "type": str, "metadata": dict}


class FakeObi4wan(FakeUpstream):
    def __init__(
        self,
        *,
        channel_identifier: str = "11111111-2222-3333-4444-555555555555",
        channel_token: str = "channel-token-1",
        chat_guid: str = "chat-guid-1",
        webhook_secret: str = "webhook-secret-1",
    ) -> None:
        super().__init__()
        self.channel_identifier = channel_identifier
        self.channel_token = channel_token
        self.chat_guid = chat_guid
        self.webhook_secret = webhook_secret
        #: What the availability check answers.
        self.availability: dict[str, Any] = {"available": True, "queueLength": 2,
                                             "estimatedWaitSeconds": 120}
        #: Accepted posts per thread, in the order OBI4wan accepted them.
        self.threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
        #: The daemon's webhook URL (set by the test once the daemon listens).
        self.webhook_url: str | None = None
        #: Report each accepted citizen message back as a message.created webhook, the
        #: way a desk echoes what came in through a channel (with `externalId`).
        self.echo_posts = False
        #: The answers the daemon gave to those echoes.
        self.echo_answers: list[tuple[int, Any]] = []
        self._echoes: set[asyncio.Task[None]] = set()
        self._by_message_id: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._events = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [
            self.route("POST", "/customchannels/v1/index", "ingest", self._ingest),
            self.route("GET", "/chat/availability", "availability", self._availability),
        ]

    @property
    def requests(self) -> list[tuple[str, dict[str, str], Any]]:
        """Every request that reached the fake: (operation, query, body or None)."""
        return [(c.operation, dict(c.query), c.json) for c in self.calls]

    async def stop(self) -> None:
        for task in list(self._echoes):
            task.cancel()
        await super().stop()

    # --- the daemon's side ----------------------------------------------------------

    async def _ingest(self, request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.body_exists else None
        if request.query.get("token") != self.channel_token:
            return web.json_response({"error": "invalid_token"}, status=401)
        problem = _invalid(body)
        if problem:
            return web.json_response({"error": "invalid_request", "detail": problem}, status=400)
        assert isinstance(body, dict)
        if body["channelIdentifier"] != self.channel_identifier:
            return web.json_response({"error": "unknown_channel"}, status=404)
        desk_id = self._by_message_id.get(body["messageId"])
        if desk_id is None:
            desk_id = f"obi-{next(self._ids)}"
            self._by_message_id[body["messageId"]] = desk_id
            self.threads[body["threadId"]].append({**body, "id": desk_id})
            if self.echo_posts and body.get("type", "message") == "message":
                self._echo(body, desk_id)
        return web.json_response({"id": desk_id})

    def _echo(self, body: dict[str, Any], desk_id: str) -> None:
        message = {"id": desk_id, "content": body["content"], "externalId": body["messageId"]}
        event = self.event("message.created", body["threadId"], message=message)

        async def send() -> None:
            self.echo_answers.append(await self.send(event))

        task = asyncio.create_task(send())
        self._echoes.add(task)
        task.add_done_callback(self._echoes.discard)

    async def _availability(self, request: web.Request) -> web.Response:
        if request.query.get("guid") != self.chat_guid:
            return web.json_response({"error": "unknown_chat"}, status=404)
        return web.json_response(self.availability)

    # --- reading what the desk received ---------------------------------------------

    def posts(self, thread: str, type_: str | None = "message") -> list[dict[str, Any]]:
        """Accepted posts of a thread; `type_` "message" means plain citizen messages."""
        return [p for p in self.threads.get(thread, []) if p.get("type", "message") == type_
                or type_ is None]

    def texts(self, thread: str) -> list[str]:
        return [p["content"] for p in self.posts(thread)]

    # --- the agent's side: signed webhooks --------------------------------------------

    def event(self, type_: str, thread: str, **fields: Any) -> dict[str, Any]:
        return {
            "eventId": f"evt-{next(self._events)}",
            "type": type_,
            "threadId": thread,
            "channelIdentifier": self.channel_identifier,
            "occurredAt": "2026-03-02T09:00:00Z",
            **fields,
        }

    def signed_headers(
        self, raw: bytes, *, secret: str | None = None, timestamp: int | None = None,
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        mac = hmac.new((secret or self.webhook_secret).encode(), ts.encode() + b"." + raw,
                       hashlib.sha256)
        return {
            "Content-Type": "application/json",
            "X-OBI4wan-Timestamp": ts,
            "X-OBI4wan-Signature": "sha256=" + mac.hexdigest(),
        }

    async def send(
        self, event: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None,
        headers: dict[str, str] | None = None, url: str | None = None,
    ) -> tuple[int, Any]:
        """Post one event to the daemon's webhook; returns (status, JSON answer)."""
        raw = json.dumps(event).encode()
        sent = headers if headers is not None else self.signed_headers(
            raw, secret=secret, timestamp=timestamp)
        target = url or self.webhook_url
        assert target is not None, "set webhook_url first"
        (answer,) = await self.post(target, raw, sent)
        return answer

    async def join(self, thread: str, name: str = "Sanne") -> tuple[int, Any]:
        return await self.send(self.event("agent.joined", thread, agent={"id": "a1", "name": name}))

    async def say(
        self, thread: str, text: str, attachments: list[dict[str, str]] | None = None,
        name: str = "Sanne",
    ) -> tuple[int, Any]:
        message: dict[str, Any] = {"id": f"m-{next(self._ids)}", "content": text}
        if attachments:
            message["attachments"] = attachments
        return await self.send(self.event(
            "message.created", thread, agent={"id": "a1", "name": name}, message=message))

    async def typing(self, thread: str, on: bool = True) -> tuple[int, Any]:
        return await self.send(self.event("agent.typing", thread, agent={"id": "a1"}, typing=on))

    async def close(self, thread: str, outcome: str = "solved") -> tuple[int, Any]:
        return await self.send(self.event(
            "conversation.closed", thread, closure={"reason": "agent", "outcome": outcome}))

    async def transfer(self, thread: str, name: str) -> tuple[int, Any]:
        return await self.send(self.event(
            "conversation.transferred", thread, agent={"id": "a2", "name": name}))


def _invalid(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    for key, kind in REQUIRED.items():
        if not isinstance(body.get(key), kind):
            return f"{key} is required ({kind.__name__})"
    for key in body:
        if key not in REQUIRED and key not in OPTIONAL:
            return f"unknown field {key}"
        if key in OPTIONAL and not isinstance(body[key], OPTIONAL[key]):
            return f"{key} must be {OPTIONAL[key].__name__}"
    sender = body["sender"]
    if not isinstance(sender.get("username"), str) or not isinstance(sender.get("userId"), str):
        return "sender needs username and userId"
    if body.get("type", "message") not in ("message", "note", "close"):
        return "unknown type"
    return None
