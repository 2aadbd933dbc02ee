"""A bare aiohttp websocket server for `bench/web.py`: what an idle socket costs aiohttp.

Usage: python bench/bare_ws.py PORT

It answers the widget's websocket path the way the web channel does on the wire
(`/web/ws`, the same WebSocketResponse settings: no compression, the same frame limit,
a 30 s heartbeat; `hello` answered with a `welcome` frame) and then waits for frames,
with no middlewares, no conversation, no store. The daemon's memory per idle socket
minus this server's is what the daemon adds to aiohttp's own websocket.
"""

from __future__ import annotations

import json
import secrets
import sys

from aiohttp import WSMsgType, web


async def widget(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=8 * 1024, heartbeat=30.0,
                               autoping=True)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            break
        frame = json.loads(msg.data)
        if frame.get("type") == "hello":
            await ws.send_str(json.dumps({
                "type": "welcome", "conversation_id": secrets.token_hex(16),
                "token": secrets.token_urlsafe(32), "state": {"state": "bot"}}))
    return ws


async def ready(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_get("/web/ws", widget)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
