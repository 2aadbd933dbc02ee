"""The full flow through real HTTP against the daemon running as a subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.daemon_process import ADMIN_TOKEN, Agent, Citizen, DaemonProcess

pytestmark = pytest.mark.slow


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[DaemonProcess]:
    d = DaemonProcess(tmp_path / "data")
    await d.start()
    try:
        yield d
    finally:
        d.terminate()


def texts(data: dict[str, Any], party: str | None = None) -> list[str]:
    return [m["content"]["text"] for m in data["messages"] if party in (None, m["party"])]


async def test_bot_handover_agent_close_survey_and_second_handover(daemon: DaemonProcess) -> None:
    async with aiohttp.ClientSession() as http:
        citizen, agent = Citizen(http, daemon.url), Agent(http, daemon.url)
        await citizen.open(context={"url": "https://voorbeeld.nl/afval", "title": "Afval"})
        status, body = await citizen.say("Wanneer wordt het afval opgehaald?")
        assert status == 202 and body["outcome"] == "applied"
        await citizen.wait_for(lambda d: texts(d, "bot"))

        await citizen.say("Ik wil een medewerker spreken")
        thread = f"{citizen.id}-1"
        opened = await agent.wait_thread(thread)
        said = [e["content"]["text"] for e in opened["transcript"]]
        assert said[0] == "Wanneer wordt het afval opgehaald?"
        assert "Ik wil een medewerker spreken" in said
        assert opened["context"]["url"] == "https://voorbeeld.nl/afval"

        assert await agent.post(thread, "join", {"agent_name": "Sanne"}) == 202
        assert await agent.post(thread, "messages", {"text": "Goedemiddag!"}) == 202
        data = await citizen.wait_for(lambda d: "Goedemiddag!" in texts(d, "agent"))
        assert data["agent_name"] == "Sanne"
        assert [m["sender_name"] for m in data["messages"] if m["party"] == "agent"] == ["Sanne"]

        await citizen.say("Mijn container is niet geleegd")
        await agent.wait_thread(thread, lambda t: any(
            e.get("type") == "message" and "container" in str(e) for e in t["events"]))

        assert await agent.post(thread, "close", {"outcome": "solved"}) == 202
        await citizen.wait_for(lambda d: d["state"] == "survey")
        await citizen.say("9")
        await citizen.say("Snel geholpen")
        await citizen.wait_for(lambda d: d["state"] == "bot")

        # Back with the bot, then a second handover makes a new desk thread.
        await citizen.say("paspoort")
        await citizen.say("medewerker")
        second = await agent.wait_thread(f"{citizen.id}-2")
        assert second["status"] in ("queued", "active")

        # The admin API shows the conversation with its transcript.
        async with http.get(f"{daemon.url}/admin/conversations/{citizen.id}",
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as resp:
            assert resp.status == 200
            admin = await resp.json()
        assert admin["conversation"]["handover_no"] == 2


async def _bot_turn_in_flight(http: aiohttp.ClientSession, url: str, conv_id: str) -> None:
    import asyncio

    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for _ in range(200):
        async with http.get(f"{url}/admin/conversations/{conv_id}", headers=headers) as resp:
            data = await resp.json()
        if any(r["kind"] == "bot.turn" and r["in_flight"] for r in data["outbox"]):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the bot turn was never sent")


async def test_late_bot_reply_is_not_delivered_after_handover(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "data", bot_options='slow_trigger = "traag"\ndelay_seconds = 1.5')
    await d.start()
    try:
        async with aiohttp.ClientSession() as http:
            citizen = Citizen(http, d.url)
            await citizen.open()
            await citizen.say("een traag antwoord graag")
            # Ask for a person only once the bot is working on the turn, so that its
            # reply is produced under the old epoch (else the turn is never sent).
            await _bot_turn_in_flight(http, d.url, citizen.id)
            status, _ = await citizen.action("request_agent")
            assert status == 202
            await Agent(http, d.url).wait_thread(f"{citizen.id}-1")
            import asyncio

            await asyncio.sleep(2.5)  # the slow reply has been produced by now
            data = await citizen.messages()
            assert texts(data, "bot") == []
            assert data["state"] in ("queued", "handover_pending")
            async with http.get(f"{d.url}/metrics") as resp:
                metrics = await resp.text()
            assert 'handover_stale_dropped_total{event="BotReplied"} 1.0' in metrics
    finally:
        d.terminate()


async def test_duplicate_post_is_delivered_once(daemon: DaemonProcess) -> None:
    async with aiohttp.ClientSession() as http:
        citizen = Citizen(http, daemon.url)
        await citizen.open()
        first = await citizen.say("paspoort", message_id="same-id")
        second = await citizen.say("paspoort", message_id="same-id")
        assert first == (202, {"outcome": "applied"})
        assert second == (202, {"outcome": "duplicate"})
        data = await citizen.wait_for(lambda d: texts(d, "bot"))
        import asyncio

        await asyncio.sleep(0.5)
        data = await citizen.messages()
        assert texts(data, "citizen") == ["paspoort"]
        assert len(texts(data, "bot")) == len({m["message_id"] for m in data["messages"]
                                              if m["party"] == "bot"})


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("POST", "/rest/conversations", b"{not json", {"content-type": "application/json"}, 400),
        ("POST", "/rest/conversations", b'{"tenant": "demo", "bogus": 1}',
         {"content-type": "application/json"}, 400),
        ("POST", "/rest/conversations", b'{"tenant": "nowhere"}',
         {"content-type": "application/json"}, 404),
        ("POST", "/rest/conversations", b'{"tenant": "demo", "x": "' + b"a" * 200_000 + b'"}',
         {"content-type": "application/json"}, 413),
        ("POST", "/desk/threads/" + "f" * 32 + "-1/messages", b'{"text": "hoi"}',
         {"content-type": "application/json"}, 404),
        ("GET", "/admin/dead-letters", b"", {"Authorization": "Bearer wrong-token-0123456789"}, 403),
    ],
)
async def test_bad_input_gets_a_clear_4xx(
    daemon: DaemonProcess, method: str, path: str, body: bytes, headers: dict[str, str],
    status: int,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, daemon.url + path, data=body or None,
                                headers=headers) as resp:
            assert resp.status == status, await resp.text()
            assert "error" in await resp.json()
        # And the daemon still serves.
        async with http.get(f"{daemon.url}/readyz") as resp:
            assert resp.status == 200


async def test_sigterm_drains_and_exits_cleanly(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "data")
    await d.start()
    assert d.terminate() == 0
    assert "daemon.stopped" in d.log.read_text()
