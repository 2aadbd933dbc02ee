"""End to end: a citizen (memory channel) talks to the bot, is handed over to OBI4wan
(the fake, over real HTTP), the agent joins, the desk goes down for a while and comes
back, the agent replies with text and an attachment and closes. The daemon runs
in-process with a real SQLite file and its HTTP app on loopback, where the fake's
signed webhooks arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web

from adapters.obi4wan.adapter import Obi4wanDesk
from handover.config.load import parse_config
from handover.daemon.app import Daemon
from handover.model import Party, State, thread_id
from handover.sdk.circuit import CircuitState
from handover.sdk.contracts import ControlUpdate
from handover.sdk.testing import MemoryChannel
from tests.fakes.obi4wan_server import FakeObi4wan, Fault
from tests.harness import BASE, TENANT, merge

ENV = {"OBI_TOKEN": "channel-token-1", "OBI_SECRET": "webhook-secret-1"}


@dataclass
class Stack:
    daemon: Daemon
    fake: FakeObi4wan
    url: str
    http: aiohttp.ClientSession

    @property
    def chat(self) -> MemoryChannel:
        return cast(MemoryChannel, self.daemon.adapters["chat"])

    @property
    def desk(self) -> Obi4wanDesk:
        return cast(Obi4wanDesk, self.daemon.adapters["desk"])

    async def readyz(self) -> dict[str, object]:
        async with self.http.get(f"{self.url}/readyz") as resp:
            return cast(dict[str, object], await resp.json())


def last_control(chat: MemoryChannel, conversation_id: str) -> ControlUpdate:
    """What the citizen's screen shows now (an empty update before the first one)."""
    shown = chat.controls[conversation_id]
    return shown[-1] if shown else ControlUpdate(state=State.BOT)


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack(tmp_path: Path) -> AsyncIterator[StackFactory]:
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def build(**desk_options: Any) -> Stack:
        fake = FakeObi4wan()
        await fake.start()
        cleanups.append(fake.stop)
        desk = {
            "type": "obi4wan",
            "api_url": fake.url,
            "channel_identifier": fake.channel_identifier,
            "channel_token": "${OBI_TOKEN}",
            "chat_guid": fake.chat_guid,
            "webhook_secret": "${OBI_SECRET}",
            "request_timeout_seconds": 0.3,
            "availability_cache_seconds": 0,
            "queue_poll_seconds": 0,
            "circuit_failure_threshold": 3,
            "circuit_reset_seconds": 0.3,
            **desk_options,
        }
        doc = merge(BASE, {"store": {"path": str(tmp_path / "handover.db")},
                           "delivery": {"desk_delay_notice_seconds": 0.2},
                           "adapters": {"desk": desk}})
        daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=ENV))
        cast(Obi4wanDesk, daemon.adapters["desk"]).tick_seconds = 0.05
        runner = web.AppRunner(daemon.build_app(), access_log=None)
        await runner.setup()
        cleanups.append(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        fake.webhook_url = f"{url}/desk/webhook"
        http = aiohttp.ClientSession()
        cleanups.append(http.close)
        return Stack(daemon, fake, url, http)

    try:
        yield build
    finally:
        for cleanup in reversed(cleanups):
            await cleanup()


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    return await make_stack()


async def test_handover_outage_and_close_every_message_once_in_order(stack: Stack) -> None:
    chat, fake = stack.chat, stack.fake
    fake.echo_posts = True  # OBI4wan reports citizen messages back; they must not loop
    conv = await chat.open(TENANT)
    await chat.say(conv.id, "Wanneer wordt het afval opgehaald?")
    await chat.wait_for(conv.id, lambda m: any(x.party is Party.BOT for x in m))

    # Handover: the availability check, then the thread with transcript and context.
    await chat.say(conv.id, "/handover")
    thread = thread_id(conv.id, 1)
    await fake.wait_for(lambda: fake.posts(thread))
    opening = fake.posts(thread)[0]["content"]
    assert "Wanneer wordt het afval opgehaald?" in opening
    assert "bot: Wanneer wordt het afval opgehaald?" in opening
    assert any(op == "availability" for op, _, _ in fake.requests)

    status, _ = await fake.join(thread, "Sanne")
    assert status == 200
    await chat.wait_for(conv.id, lambda m: any("Sanne" in x.content.text for x in m))
    await fake.wait_for(lambda: last_control(chat, conv.id).agent_name == "Sanne")

    await chat.say(conv.id, "een")
    await fake.wait_for(lambda: fake.texts(thread)[1:] == ["een"])

    # The desk goes down: messages wait in the outbox, the circuit opens, /readyz says
    # degraded (not unready).
    fake.down = True
    for text in ("twee", "drie", "vier"):
        await chat.say(conv.id, text)
    await fake.wait_for(lambda: stack.desk.breaker.state is CircuitState.OPEN)
    ready = await stack.readyz()
    assert ready["status"] == "degraded"
    assert ready["adapters"]["desk"]["health"] == "degraded"  # type: ignore[index]
    async with stack.http.get(f"{stack.url}/metrics") as resp:
        exported = await resp.text()
    assert 'handover_circuit_state{circuit="desk"} 2.0' in exported
    assert fake.texts(thread)[1:] == ["een"]
    # The core tells the citizen, once, that their messages are kept.
    await chat.wait_for(conv.id, lambda m: any("niet verloren" in x.content.text for x in m))

    # Back, with one answer lost on the way: every message arrives once, in order.
    fake.fail_next("ingest", Fault.lost())
    fake.down = False
    await fake.wait_for(lambda: fake.texts(thread)[1:] == ["een", "twee", "drie", "vier"])
    await fake.wait_for(lambda: stack.desk.breaker.state is CircuitState.CLOSED)

    # The agent answers with text and an attachment; the webhook is delivered twice.
    pdf = {"url": "https://files.obi4wan.example/f/1.pdf", "name": "aanvraag.pdf",
           "mimeType": "application/pdf"}
    event = fake.event("message.created", thread, agent={"id": "a1", "name": "Sanne"},
                       message={"id": "agent-1", "content": "Hier is het formulier",
                                "attachments": [pdf]})
    assert (await fake.send(event))[1] == {"outcome": "applied"}
    assert (await fake.send(event))[1] == {"outcome": "duplicate"}
    shown = await chat.wait_for(
        conv.id, lambda m: any(x.content.text == "Hier is het formulier" for x in m))
    [reply] = [m for m in shown if m.party is Party.AGENT]
    assert reply.sender_name == "Sanne"
    assert [a.url for a in reply.content.attachments] == [pdf["url"]]

    # Close, then a late (out-of-order) message: the close applies, the late one is stale.
    assert (await fake.close(thread, "solved"))[1] == {"outcome": "applied"}
    assert (await fake.say(thread, "nog iets"))[1] == {"outcome": "stale"}
    await fake.wait_for(lambda: last_control(chat, conv.id).state is State.SURVEY)
    stored = await stack.daemon.store.get_conversation(conv.id)
    assert stored is not None and stored.state is State.SURVEY

    # Nothing the citizen said reached them back as the agent's, and nothing twice.
    agent_texts = [m.content.text for m in chat.shown[conv.id] if m.party is Party.AGENT]
    assert agent_texts == ["Hier is het formulier"]
    assert fake.echo_answers and all(a == (200, {"outcome": "echo"}) for a in fake.echo_answers)
    assert chat.duplicates_dropped == 0
    assert sum("niet verloren" in t for t in chat.texts(conv.id)) == 1
    assert fake.texts(thread)[1:] == ["een", "twee", "drie", "vier"]


async def test_no_agents_gives_the_fallback_and_opens_no_thread(stack: Stack) -> None:
    chat, fake = stack.chat, stack.fake
    fake.availability = {"available": False}
    conv = await chat.open(TENANT)
    await chat.say(conv.id, "/handover")

    async def back_with_bot() -> bool:
        stored = await stack.daemon.store.get_conversation(conv.id)
        return stored is not None and stored.state is State.BOT

    await chat.wait_for(
        conv.id, lambda m: any("geen medewerker vrij" in x.content.text for x in m))
    assert await back_with_bot()
    assert not fake.threads
    assert any(op == "availability" for op, _, _ in fake.requests)


async def test_queue_figures_refresh_while_waiting_and_leaving_tells_the_agent(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(queue_poll_seconds=0.05)
    chat, fake = stack.chat, stack.fake
    fake.availability = {"available": True, "queueLength": 3, "estimatedWaitSeconds": 300}
    conv = await chat.open(TENANT)
    await chat.say(conv.id, "/handover")
    thread = thread_id(conv.id, 1)
    await fake.wait_for(lambda: fake.posts(thread))
    await fake.wait_for(lambda: last_control(chat, conv.id).queue_position == 3)

    fake.availability = {"available": True, "queueLength": 1, "estimatedWaitSeconds": 60}
    await fake.wait_for(lambda: last_control(chat, conv.id).queue_position == 1)
    assert chat.controls[conv.id][-1].estimated_wait_seconds == 60
    assert any("1" in t and "min" in t for t in chat.texts(conv.id)[-2:])

    await chat.leave(conv.id)
    await fake.wait_for(lambda: fake.posts(thread, "close"))
    [note] = fake.posts(thread, "note")
    assert note["content"] and note["sender"]["username"] == "Gem"
    [close] = fake.posts(thread, "close")
    assert close["content"] == "Gesprek gesloten: de inwoner heeft het gesprek verlaten."
    assert close["metadata"] == {"reason": "citizen_left"}
