"""A bare in-memory relay for `bench/relay.py`: the REST channel's paths, no persistence.

Usage: python bench/bare_relay.py PORT

It serves the three REST paths the benchmark client uses (POST /rest/conversations,
POST /rest/conversations/{id}/messages, GET /rest/conversations/{id}/messages with
`after` and `wait` long-polling) plus GET /readyz. Conversations live in a dict; a
citizen message is answered by the demo bot's own logic (`adapters.demo_bot.script.match`
and `DemoBot._answer`, the Rasa-style messages the daemon's demo bot returns), scheduled
as a separate task like the daemon's outbox delivery. No auth check beyond the header's
presence, no validation, no store: a floor for what the HTTP hops alone cost.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from adapters.demo_bot import script
from adapters.demo_bot.adapter import DemoBot, DemoBotOptions

BOT = DemoBot("gem", DemoBotOptions(), None)  # _answer needs no ctx


class Conv:
    __slots__ = ("language", "log", "token", "waiters")

    def __init__(self, token: str, language: str) -> None:
        self.token = token
        self.language = language
        self.log: list[dict[str, Any]] = []
        self.waiters: set[asyncio.Future[None]] = set()

    def add(self, party: str, message_id: str, text: str) -> None:
        self.log.append({
            "seq": len(self.log) + 1, "message_id": message_id, "party": party,
            "sender_name": None, "content": {"text": text},
            "created_at": datetime.now(UTC).isoformat(),
        })
        for future in self.waiters:
            if not future.done():
                future.set_result(None)
        self.waiters.clear()


CONVS: dict[str, Conv] = {}
TASKS: set[asyncio.Task[None]] = set()


def _conv(request: web.Request) -> Conv:
    conv = CONVS.get(request.match_info["cid"])
    if conv is None or request.headers.get("Authorization") != f"Bearer {conv.token}":
        raise web.HTTPForbidden()
    return conv


async def create(request: web.Request) -> web.Response:
    body = await request.json()
    cid, token = secrets.token_hex(16), secrets.token_urlsafe(32)
    language = body.get("language") or "nl"
    CONVS[cid] = Conv(token, language)
    return web.json_response(
        {"conversation_id": cid, "token": token, "language": language}, status=201
    )


async def _reply(cid: str, conv: Conv, text: str, payload: str | None) -> None:
    answer = BOT._answer(cid, script.match(text, payload), conv.language)
    for i, content in enumerate(answer.messages):
        if content.text:
            conv.add("bot", f"bot:{len(conv.log)}:{i}", content.text)


async def message(request: web.Request) -> web.Response:
    conv = _conv(request)
    body = await request.json()
    text = body.get("text") or ""
    conv.add("citizen", body["message_id"], text)
    task = asyncio.create_task(_reply(request.match_info["cid"], conv, text, body.get("payload")))
    TASKS.add(task)
    task.add_done_callback(TASKS.discard)
    return web.json_response({"outcome": "applied"}, status=202)


async def poll(request: web.Request) -> web.Response:
    conv = _conv(request)
    after = int(request.query.get("after", "0"))
    wait = min(float(request.query.get("wait", "0")), 25.0)
    if len(conv.log) <= after and wait > 0:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        conv.waiters.add(future)
        try:
            await asyncio.wait([future], timeout=wait)
        finally:
            conv.waiters.discard(future)
    visible = conv.log[after:]
    return web.json_response({
        "messages": visible, "state": "bot", "agent_name": None,
        "last_seq": visible[-1]["seq"] if visible else after,
    })


async def ready(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def app() -> web.Application:
    application = web.Application()
    application.add_routes([
        web.post("/rest/conversations", create),
        web.post("/rest/conversations/{cid}/messages", message),
        web.get("/rest/conversations/{cid}/messages", poll),
        web.get("/readyz", ready),
    ])
    return application


if __name__ == "__main__":
    web.run_app(app(), host="127.0.0.1", port=int(sys.argv[1]), print=None)
