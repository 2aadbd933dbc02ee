"""The socket.io channel's limits: origin and tenant before anything opens, connection,
event and message rates, sizes, malformed events, and a store that fails. Each refusal
is clear to the sender and stores nothing; what was accepted stays."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import pytest
import socketio

from adapters.socketio.metrics import REFUSED
from handover.model import Party
from tests.adapters.socketio.conftest import ORIGIN, Running

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


async def stored(running: Running, widget: Any) -> list[str]:
    """The citizen's stored texts of the widget's conversation (via a sent message)."""
    key_conv = [c for c in running.daemon.adapters["sio"].endpoint.registry._sessions.values()
                if c.conversation_id]
    texts: list[str] = []
    for session in key_conv:
        assert session.conversation_id is not None
        entries = await running.daemon.store.transcript(session.conversation_id, 0)
        texts += [e.content.text for e in entries if e.party is Party.CITIZEN]
    return texts


@pytest.mark.parametrize(("query", "origin", "status"), [
    ("&tenant=demo", "https://evil.example", 403),
    ("&tenant=demo", "https://www.gemeente.example.evil.example", 403),
    ("&tenant=demo", "http://www.gemeente.example", 403),
    ("&tenant=demo", None, 403),
    ("&tenant=elsewhere", ORIGIN, 404),
])
async def test_a_handshake_from_elsewhere_is_refused_before_anything_opens(
    running: Running, query: str, origin: str | None, status: int,
) -> None:
    headers = {"Origin": origin} if origin else {}
    async with running.http.get(running.url + HANDSHAKE + query, headers=headers) as resp:
        assert resp.status == status
    with pytest.raises(socketio.exceptions.ConnectionError):
        await running.widget(origin=origin or "https://evil.example", query="?" + query[1:])
    assert running.daemon.adapters["sio"].endpoint.registry.count() == 0


async def test_the_allowed_origin_gets_cors_headers_for_long_polling(running: Running) -> None:
    async with running.http.get(running.url + HANDSHAKE, headers={"Origin": ORIGIN}) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "gzip" not in resp.headers.get("Content-Encoding", "")


async def test_too_many_connections_from_one_address_get_429(start: Any) -> None:
    running = await start(connections_per_minute=2)
    for _ in range(2):
        async with running.http.get(running.url + HANDSHAKE, headers={"Origin": ORIGIN}) as r:
            assert r.status == 200
    async with running.http.get(running.url + HANDSHAKE, headers={"Origin": ORIGIN}) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"]


async def test_malformed_events_get_a_clear_answer_and_store_nothing(running: Running) -> None:
    widget = await running.widget()
    # Before session_request, and without a session id: nothing to attach it to.
    assert (await widget.client.call("user_uttered", {"message": "hallo"}, timeout=5))[
        "error"] == "no_session"
    sid = await widget.session(None)
    for bad, code in [
        ("just a string", "invalid_field"),
        ({"text": "no message key"}, "missing_field"),
        ({"message": 42}, "missing_field"),
        ({"message": "   "}, "empty_message"),
        ({"message": "hallo", "customData": "not an object"}, "invalid_field"),
        ({"message": "hallo", "customData": {"url": ["x"]}}, "invalid_field"),
        ({"message": "hallo", "customData": {"tenant": "elsewhere"}, "session_id": sid},
         "invalid_field"),
        ({"message": "hallo", "session_id": "x" * 40}, "invalid_field"),
        ({"message": "hallo", "message_id": " padded "}, "invalid_field"),
    ]:
        ack = await widget.client.call("user_uttered", bad, timeout=5)
        assert ack["error"] == code, (bad, ack)
        assert ack["detail"]
    # A session_request that is not an object gets a fresh session, not a crash.
    await widget.client.emit("session_request", ["x"])
    assert len(await widget.next("session_confirm")) >= 32
    assert await stored(running, widget) == []
    # The connection still works.
    assert await widget.say("Wanneer wordt het afval opgehaald?") == {"outcome": "applied"}
    assert await stored(running, widget) == ["Wanneer wordt het afval opgehaald?"]


async def test_a_too_long_message_is_refused_with_a_message_the_citizen_sees(
    start: Any,
) -> None:
    running = await start(max_text_length=50)
    widget = await running.widget()
    await widget.session(None)
    ack = await widget.say("x" * 51)
    assert ack["error"] == "text_too_long"
    [notice] = await widget.until(lambda p: True)
    assert "te lang" in notice["text"] and "50" in notice["text"]
    assert notice["metadata"]["party"] == "system"
    assert await stored(running, widget) == []


async def test_a_message_id_makes_a_resent_message_count_once(running: Running) -> None:
    widget = await running.widget()
    await widget.session(None)
    assert await widget.say("Mijn afval", message_id="m-1") == {"outcome": "applied"}
    assert await widget.say("Mijn afval", message_id="m-1") == {"outcome": "duplicate"}
    assert await stored(running, widget) == ["Mijn afval"]


async def test_too_many_messages_are_refused_and_not_stored(start: Any) -> None:
    running = await start(messages_per_minute=2)
    refused = REFUSED.labels("sio", "message_rate")
    before = refused._value.get()
    widget = await running.widget()
    await widget.session(None)
    assert await widget.say("een") == {"outcome": "applied"}
    assert await widget.say("twee") == {"outcome": "applied"}
    ack = await widget.say("drie")
    assert ack["error"] == "rate_limited"
    assert refused._value.get() == before + 1
    await widget.until(lambda p: "Wacht even" in p["text"])
    assert sorted(await stored(running, widget)) == ["een", "twee"]


async def test_an_event_flood_drops_the_connection(start: Any) -> None:
    running = await start(events_per_minute=5)
    widget = await running.widget()
    await widget.session(None)
    for n in range(10):
        if not widget.client.connected:
            break
        with contextlib.suppress(socketio.exceptions.SocketIOError):
            await widget.client.emit("typing", {"n": n})
    for _ in range(50):
        if not widget.client.connected:
            break
        await asyncio.sleep(0.05)
    assert not widget.client.connected


async def test_an_oversized_packet_drops_the_connection(start: Any) -> None:
    running = await start(max_packet_bytes=2048, max_text_length=1000)
    widget = await running.widget()
    await widget.session(None)
    await widget.client.emit("user_uttered", {"message": "x" * 5000,
                                              "session_id": widget.session_id})
    for _ in range(50):
        if not widget.client.connected:
            break
        await asyncio.sleep(0.05)
    assert not widget.client.connected
    assert await stored(running, widget) == []


async def test_a_store_failure_says_send_it_again_and_the_retry_is_stored(
    running: Running, monkeypatch: pytest.MonkeyPatch,
) -> None:
    widget = await running.widget()
    await widget.session(None)
    router = running.daemon.router
    real = router.ingest

    async def broken(event: Any) -> Any:
        raise OSError("disk I/O error")

    monkeypatch.setattr(router, "ingest", broken)
    ack = await widget.say("Mijn afval", message_id="m-1")
    assert ack["error"] == "unavailable"
    await widget.until(lambda p: "opnieuw" in p["text"])
    monkeypatch.setattr(router, "ingest", real)
    assert await widget.say("Mijn afval", message_id="m-1") == {"outcome": "applied"}
    assert await stored(running, widget) == ["Mijn afval"]


async def test_status_route_answers_like_rasa(running: Running) -> None:
    async with aiohttp.ClientSession() as http, http.get(running.url + "/sio/") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}
