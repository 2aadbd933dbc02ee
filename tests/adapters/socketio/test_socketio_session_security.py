"""A socket.io session is opened only by the widget that asked for it: a leaked engine.io
`sid` without the page's Origin, or without the session id, opens nothing; guessable
session ids are not resumed; one address cannot hold thousands of connections."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.adapters.socketio.conftest import ORIGIN, Running
from tests.adapters.socketio.test_socketio_security import HANDSHAKE, stored


async def handshake(running: Running) -> str:
    async with running.http.get(running.url + HANDSHAKE + "&tenant=demo",
                                headers={"Origin": ORIGIN}) as resp:
        assert resp.status == 200
        body = await resp.text()
    sid: str = json.loads(body[1:])["sid"]
    return sid


async def test_a_request_with_a_known_sid_but_no_origin_is_refused(running: Running) -> None:
    sid = await handshake(running)
    url = f"{running.url}{HANDSHAKE}&tenant=demo&sid={sid}"
    # A script replaying a logged sid sends no Origin (or another one): refused.
    async with running.http.post(url, data="40") as resp:
        assert resp.status == 403
    async with running.http.post(url, data="40",
                                 headers={"Origin": "https://evil.example"}) as resp:
        assert resp.status == 403
    # The widget's own page still gets through.
    async with running.http.post(url, data="40", headers={"Origin": ORIGIN}) as resp:
        assert resp.status == 200


async def test_a_message_without_the_session_id_is_refused_and_not_stored(
    running: Running,
) -> None:
    widget = await running.widget()
    session_id = await widget.session(None)
    # Whoever drives the connection without knowing the session id speaks in no chat.
    ack = await widget.client.call("user_uttered", {"message": "ingevoegd"}, timeout=5)
    assert ack["error"] == "no_session"
    other = "A" + session_id[1:] if session_id[0] != "A" else "B" + session_id[1:]
    ack = await widget.client.call("user_uttered", {"message": "ingevoegd",
                                                    "session_id": other}, timeout=5)
    assert ack["error"] == "invalid_field"
    assert await stored(running, widget) == []
    assert await widget.say("Wanneer wordt het afval opgehaald?") == {"outcome": "applied"}
    assert await stored(running, widget) == ["Wanneer wordt het afval opgehaald?"]


@pytest.mark.parametrize("weak", [
    "0" * 32, "0123456789abcdef" * 2, "ab" * 20, "a" * 31 + "b", "abcdefgh" * 4,
    "Aa0_" * 8,
])
async def test_a_guessable_session_id_is_not_resumed(running: Running, weak: str) -> None:
    widget = await running.widget()
    given = await widget.session(weak)
    assert given != weak and len(given) >= 32


async def test_a_rasa_session_id_is_still_resumed(running: Running) -> None:
    widget = await running.widget()
    rasa_id = "9f1c2b7e4d3a4e0f8b6c5a1d2e3f4a5b"  # uuid4 hex, as Rasa issues them
    assert await widget.session(rasa_id) == rasa_id


async def test_connections_per_address_are_capped(start: Any) -> None:
    running: Running = await start(connections_per_address=2)
    first = await running.widget()
    await running.widget()
    async with running.http.get(running.url + HANDSHAKE + "&tenant=demo",
                                headers={"Origin": ORIGIN}) as resp:
        assert resp.status == 429
    await first.close()
    for _ in range(50):
        if running.daemon.adapters["sio"].endpoint.registry.count_from("127.0.0.1") < 2:
            break
        await asyncio.sleep(0.05)
    await running.widget()  # a closed one makes room
