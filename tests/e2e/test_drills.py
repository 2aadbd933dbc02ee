"""Fault drills: the desk and the bot go down for "a minute" (scaled, see drill_stack)
or flap; afterwards everything has arrived once, in order, and the citizen was told of
a long desk delay once. WhatsApp outages are drilled with that channel's fake."""

from __future__ import annotations

import asyncio
from pathlib import Path

from handover import metrics
from handover.model import Party, State, thread_id
from tests.e2e.drill_stack import OUTAGE_SECONDS, Drill, drill_stack, healthz
from tests.harness import TENANT

DELAY_NOTICE = "niet verloren"


async def handed_over(d: Drill) -> tuple[str, str]:
    chat, obi = d.chat, d.obi
    conv = await chat.open(TENANT)
    await chat.say(conv.id, "/handover")
    thread = thread_id(conv.id, 1)
    await obi.wait_for(lambda: obi.posts(thread))
    status, _ = await obi.join(thread, "Sanne")
    assert status == 200
    await chat.wait_for(conv.id, lambda m: any("Sanne" in x.content.text for x in m))
    return conv.id, thread


def agent_texts(d: Drill, conversation_id: str) -> list[str]:
    return [m.content.text for m in d.chat.shown[conversation_id] if m.party is Party.AGENT]


async def test_desk_down_for_a_minute_then_everything_arrives_once_in_order(
    tmp_path: Path,
) -> None:
    async with drill_stack(tmp_path) as d:
        cid, thread = await handed_over(d)
        d.obi.down = True
        sent = [f"bericht {n}" for n in range(6)]
        for text in sent:
            await d.chat.say(cid, text)
            await asyncio.sleep(OUTAGE_SECONDS / 12)
        # The agent keeps typing meanwhile: webhooks still come in.
        for n in range(3):
            assert (await d.obi.say(thread, f"antwoord {n}"))[0] == 200
        await asyncio.sleep(OUTAGE_SECONDS / 2)
        assert d.obi.texts(thread)[1:] == []
        assert await healthz(d.url) == 200
        d.obi.down = False
        await d.obi.wait_for(lambda: len(d.obi.texts(thread)) > len(sent), timeout=10)
        await asyncio.sleep(3 * OUTAGE_SECONDS / 10)  # room for a duplicate to show up
        assert d.obi.texts(thread)[1:] == sent
        assert agent_texts(d, cid) == [f"antwoord {n}" for n in range(3)]
        # Told once (per handover) that their messages are kept.
        assert sum(DELAY_NOTICE in t for t in d.chat.texts(cid)) == 1
        assert d.chat.duplicates_dropped == 0


async def test_desk_flapping_both_ways_once_in_order(tmp_path: Path) -> None:
    async with drill_stack(tmp_path) as d:
        cid, thread = await handed_over(d)
        stop = asyncio.Event()

        async def flap() -> None:
            while not stop.is_set():
                d.obi.down = not d.obi.down
                await asyncio.sleep(0.15)
            d.obi.down = False

        failed_before = _errors("desk")
        flapping = asyncio.create_task(flap())
        sent = [f"burger {n}" for n in range(12)]
        answers = [f"agent {n}" for n in range(12)]
        for text, answer in zip(sent, answers, strict=True):
            await d.chat.say(cid, text)
            assert (await d.obi.say(thread, answer))[0] == 200
            await asyncio.sleep(0.1)
        stop.set()
        await flapping
        await d.obi.wait_for(lambda: len(d.obi.texts(thread)) > len(sent), timeout=15)
        await asyncio.sleep(0.5)
        assert _errors("desk") > failed_before, "the flapping never hit a delivery"
        assert d.obi.texts(thread)[1:] == sent
        assert agent_texts(d, cid) == answers
        assert d.chat.duplicates_dropped == 0


async def test_bot_down_for_a_minute_then_every_turn_answered_in_order(
    tmp_path: Path,
) -> None:
    async with drill_stack(tmp_path, bot="rasa") as d:
        chat = d.chat
        conv = await chat.open(TENANT)
        await chat.say(conv.id, "hallo")
        await chat.wait_for(conv.id, lambda m: any(x.party is Party.BOT for x in m))
        await d.bot_link.down()
        said = [f"vraag {n}" for n in range(4)]
        for text in said:
            await chat.say(conv.id, text)
        await asyncio.sleep(OUTAGE_SECONDS)
        assert d.rasa.messages_from(conv.id) == ["hallo"]
        await d.bot_link.up()
        expected = [f"gem: {t}" for t in ["hallo", *said]]

        def bot_texts() -> list[str]:
            return [m.content.text for m in chat.shown[conv.id] if m.party is Party.BOT]

        await chat.wait_for(conv.id, lambda m: len(bot_texts()) >= len(expected), timeout=15)
        await asyncio.sleep(0.3)
        # Refused connections never reached Rasa: each turn once, in order, answered.
        assert d.rasa.messages_from(conv.id) == ["hallo", *said]
        assert bot_texts() == expected
        stored = await d.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.BOT


async def test_bot_flapping_no_turn_twice_each_answered_or_apologised_in_order(
    tmp_path: Path,
) -> None:
    async with drill_stack(tmp_path, bot="rasa") as d:
        chat = d.chat
        conv = await chat.open(TENANT)
        refused_before = _bot_errors("transient")
        said = [f"vraag {n}" for n in range(10)]
        # Down and up every 150 ms, every other question asked while it is down (taking
        # the link down may also cut a turn in flight).
        for n, text in enumerate(said):
            if n % 2:
                await d.bot_link.down()
            await chat.say(conv.id, text)
            await asyncio.sleep(0.15)
            if n % 2:
                await d.bot_link.up()

        def replies() -> list[str]:
            return [m.content.text for m in chat.shown[conv.id]
                    if m.party in (Party.BOT, Party.SYSTEM)]

        await chat.wait_for(conv.id, lambda m: len(replies()) >= len(said), timeout=20)
        await asyncio.sleep(0.5)
        received = d.rasa.messages_from(conv.id)
        # A turn that may have reached Rasa is never sent again ...
        assert len(received) == len(set(received))
        # ... and every turn got its answer or, when it was cut off mid-request, the
        # apology: one reply each, in the order asked.
        got = replies()
        assert _bot_errors("transient") > refused_before, "the flapping never hit a turn"
        assert len(got) == len(said), got
        for question, reply in zip(said, got, strict=True):
            assert reply == f"gem: {question}" or reply.startswith("Sorry"), (question, reply)
            if reply == f"gem: {question}":
                assert question in received


def _bot_errors(error_class: str) -> float:
    return _errors("bot", error_class)


def _errors(adapter: str, *classes: str) -> float:
    """Failed upstream calls so far (the counters are process-wide: compare deltas)."""
    return sum(metrics.REGISTRY.get_sample_value(
        "handover_upstream_errors_total", {"adapter": adapter, "error": c}) or 0.0
        for c in classes or ("transient", "ambiguous", "auth", "permanent"))
