"""End to end: a WhatsApp citizen (the fake Graph API posting signed webhooks to the
daemon over loopback) talks to the bot, picks a reply button, is handed over, the agent
replies, replies again after the 24-hour window closed (the template goes out and the
agent is told), the citizen answers, the agent closes and the satisfaction question
arrives. The daemon runs in-process with a real SQLite file and a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from prometheus_client import generate_latest

from handover import metrics
from handover.clock import FakeClock
from handover.config.load import parse_config
from handover.daemon.app import Daemon
from handover.model import Button, Content, Conversation, State, thread_id
from handover.sdk.contracts import BotResponse, BotTurn
from handover.sdk.testing import MemoryBot, MemoryDesk, echo_responder
from tests.fakes.whatsapp_server import VERSION, FakeGraph
from tests.harness import BASE, TENANT

CITIZEN = "31612345678"
ENV = {"WA_TOKEN": "graph-token-1", "WA_SECRET": "app-secret-1", "WA_VERIFY": "verify-1"}
DAY = 86400.0


@dataclass
class Stack:
    daemon: Daemon
    fake: FakeGraph
    clock: FakeClock

    @property
    def bot(self) -> MemoryBot:
        return cast(MemoryBot, self.daemon.adapters["bot"])

    @property
    def desk(self) -> MemoryDesk:
        return cast(MemoryDesk, self.daemon.adapters["desk"])

    async def settle(self) -> None:
        for _ in range(300):
            await asyncio.sleep(0.02)
            depth, _ = await self.daemon.store.outbox_stats(self.daemon.clock.now())
            if depth == 0:
                await self.daemon.worker.idle()
                depth, _ = await self.daemon.store.outbox_stats(self.daemon.clock.now())
                if depth == 0:
                    return
        raise AssertionError("outbox did not drain")

    async def shown(self, predicate: Any) -> None:
        await self.fake.wait_for(lambda: predicate(self.fake.texts()), timeout=10)


def menu_responder(conv: Conversation, turn: BotTurn) -> BotResponse:
    if turn.text == "menu":
        return BotResponse((Content("Waarmee kan ik helpen?", buttons=(
            Button("Afvalkalender", "/afval"), Button("Een medewerker", "/handover"))),))
    return echo_responder(conv, turn)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    clock = FakeClock()
    fake = FakeGraph(clock=clock)
    await fake.start()
    wa = {
        "type": "whatsapp", "graph_url": fake.url, "api_version": VERSION,
        "access_token": "${WA_TOKEN}", "app_secret": "${WA_SECRET}",
        "verify_token": "${WA_VERIFY}", "public_url": "https://handover.test/wa",
        "media_dir": str(tmp_path / "media"), "state_path": str(tmp_path / "wa.db"),
        "request_timeout_seconds": 2,
        "tenants": {TENANT: {"phone_number_id": fake.phone_number_id,
                             "template_name": "agent_reply", "template_language": "nl"}},
    }
    doc: dict[str, Any] = {
        **BASE,
        "store": {"path": str(tmp_path / "handover.db")},
        "adapters": {"wa": wa, "bot": {"type": "memory_bot"}, "desk": {"type": "memory_desk"}},
        "tenants": {TENANT: {
            **BASE["tenants"][TENANT], "channels": ["wa"],
            "handover": {"phone": "14 012", "queue_fallback": "bot",
                         "agent_inactivity_seconds": "3d", "citizen_inactivity_seconds": "3d",
                         "queue_timeout_seconds": "3d"},
        }},
    }
    daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=ENV), clock=clock)
    runner = web.AppRunner(daemon.build_app(), access_log=None)
    await runner.setup()  # starts the daemon (its cleanup context)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.webhook_url = f"http://127.0.0.1:{port}/wa/webhook"
    try:
        yield Stack(daemon, fake, clock)
    finally:
        await runner.cleanup()  # stops the daemon
        await fake.stop()


async def test_whatsapp_citizen_bot_handover_late_agent_reply_close_and_survey(
    stack: Stack, capsys: pytest.CaptureFixture[str],
) -> None:
    fake, desk = stack.fake, stack.desk
    stack.bot.responder = menu_responder
    assert (await fake.say(CITIZEN, "Wanneer wordt het afval opgehaald?"))[0] == 200
    await stack.shown(lambda t: "bot: Wanneer wordt het afval opgehaald?" in t)

    # The bot's choices arrive as reply buttons; the citizen's tap carries the payload.
    await fake.say(CITIZEN, "menu")
    await stack.shown(lambda t: "Waarmee kan ik helpen?" in t)
    menu = fake.sent[-1]
    assert menu["interactive"]["type"] == "button"
    (_, medewerker) = menu["interactive"]["action"]["buttons"]
    await fake.post(fake.batch(fake.value([fake.reply(
        CITIZEN, medewerker["reply"]["id"], medewerker["reply"]["title"])])))
    await stack.settle()
    assert stack.bot.turns[-1].payload == "/handover"

    conv = next(iter(await _conversations(stack)))
    thread = thread_id(conv.id, 1)
    await desk.wait_for(lambda: thread in desk.threads)
    said = [e.content.text for e in desk.threads[thread].transcript]
    assert said[0] == "Wanneer wordt het afval opgehaald?"
    await desk.join(thread, "Sanne")
    await desk.reply(thread, "Goedemiddag, ik zoek het voor u uit.")
    await stack.shown(lambda t: "Goedemiddag, ik zoek het voor u uit." in t)

    # A day and more later the agent answers: only the approved template may go out.
    stack.clock.advance(DAY + 3600)
    await desk.reply(thread, "Uw container wordt morgen geleegd.")
    await stack.shown(lambda t: any(x.startswith("template:agent_reply:Uw container") for x in t))
    await stack.settle()
    assert any("sjabloon" in note for note in desk.notes[thread])

    # The citizen answers: the window is open again and ordinary messages flow.
    await fake.say(CITIZEN, "Dank u wel!")
    await desk.wait_for(lambda: any(m.content.text == "Dank u wel!"
                                    for m in desk.received[thread]))
    await desk.close(thread, "resolved")
    await stack.settle()
    stored = await stack.daemon.store.get_conversation(conv.id)
    assert stored is not None and stored.state is State.SURVEY
    # The 0-10 question: eleven choices, more than one list holds (10 rows), so they
    # come as two lists, 0-5 and 6-10; the citizen taps 9 in the second.
    await stack.shown(lambda t: any(x.startswith("Of kies") for x in t[-2:]))
    first, second = fake.sent[-2:]
    rows = [[row for section in m["interactive"]["action"]["sections"]
             for row in section["rows"]] for m in (first, second)]
    assert [m["interactive"]["type"] for m in (first, second)] == ["list", "list"]
    assert [[r["title"] for r in part] for part in rows] == [
        [str(n) for n in range(6)], [str(n) for n in range(6, 11)]]
    nine = rows[1][3]
    await fake.post(fake.batch(fake.value([fake.reply(
        CITIZEN, nine["id"], nine["title"], kind="list_reply")])))
    await stack.settle()
    await fake.say(CITIZEN, "Snel geholpen")
    await stack.settle()
    answers = await stack.daemon.store.survey_answers(TENANT)
    assert [(a.score, a.comment, a.outcome) for a in answers] == [
        (9, "Snel geholpen", "resolved")]

    # Every send went out once: statuses for all of them change nothing.
    count = len(fake.sent)
    await fake.post(fake.batch(fake.value(statuses=[fake.status_of(s, "delivered")
                                                    for s in fake.sent])))
    await stack.settle()
    assert len(fake.sent) == count
    assert len({s["_wamid"] for s in fake.sent}) == count
    assert len({s["biz_opaque_callback_data"] for s in fake.sent}) == count

    # Privacy: the phone number and what was said appear in no log line and no metric.
    logs = capsys.readouterr()
    exposition = generate_latest(metrics.REGISTRY).decode()
    assert "conversation.state_changed" in logs.out + logs.err  # the logs were captured
    for secret in (CITIZEN, "Dank u wel!", "Uw container wordt morgen geleegd."):
        assert secret not in logs.out + logs.err
        assert secret not in exposition


async def _conversations(stack: Stack) -> list[Conversation]:
    conv = await stack.daemon.store.find_conversation(TENANT, "wa", CITIZEN) \
        if hasattr(stack.daemon.store, "find_conversation") else None
    if conv is not None:
        return [conv]
    thread_convs = [t.rpartition("-")[0] for t in stack.desk.threads]
    if thread_convs:
        found = await stack.daemon.store.get_conversation(thread_convs[0])
        assert found is not None
        return [found]
    await stack.desk.wait_for(lambda: bool(stack.desk.threads))
    return await _conversations(stack)


async def test_a_citizen_waiting_while_the_window_runs_out_is_told_once(stack: Stack) -> None:
    fake = stack.fake
    await fake.say(CITIZEN, "/handover")
    await stack.desk.wait_for(lambda: bool(stack.desk.threads))
    await stack.settle()
    before = len(fake.sent)
    stack.clock.advance(21 * 3600)  # three hours left: nothing yet
    await asyncio.sleep(0.1)
    await stack.settle()
    assert len(fake.sent) == before
    for _ in range(3):  # the watch runs every minute; the citizen hears it once
        stack.clock.advance(3600)
        await asyncio.sleep(0.1)
        await stack.settle()
    assert [t for t in fake.texts() if "24 uur" in t] == [
        "Het is druk, u blijft in de wachtrij staan. Antwoordt de medewerker pas na meer "
        "dan 24 uur na uw laatste bericht, dan krijgt u het antwoord als apart "
        "WhatsApp-bericht van de gemeente. Stuur dan een bericht terug om verder te chatten."]
