"""Durable timers on a fake clock: queue timeout, inactivity, survey timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path

from handover.clock import FakeClock
from handover.model import Party, State, thread_id
from tests.harness import TENANT, Running, running


async def advance(r: Running, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    r.daemon.timers.wake()
    await asyncio.sleep(0.05)
    await r.settle()


async def state_of(r: Running, conversation_id: str) -> State:
    conv = await r.daemon.store.get_conversation(conversation_id)
    assert conv is not None
    return conv.state


async def test_queue_timeout_falls_back_to_bot_and_tells_desk(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(tmp_path, clock=clock) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.request_agent(conv.id)
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await advance(r, clock, 599)
        assert await state_of(r, conv.id) is State.QUEUED
        await advance(r, clock, 2)
        assert await state_of(r, conv.id) is State.BOT
        assert r.desk.closed == {thread: "queue_timeout"}
        assert len(r.desk.notes[thread]) == 1
        last = r.chat.shown[conv.id][-1]
        assert last.party is Party.SYSTEM
        # A late agent join for the abandoned thread is dropped.
        await r.desk.join(thread, "Te laat")
        await r.settle()
        assert await state_of(r, conv.id) is State.BOT


async def test_agent_inactivity_hands_back_to_bot(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(tmp_path, clock=clock) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.request_agent(conv.id)
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await r.desk.join(thread, "Sanne")  # agent timer due at 900 s, citizen's at 600 s
        await advance(r, clock, 500)
        await r.desk.reply(thread, "Ik kijk even")  # agent's timer now due at 1400 s
        await r.chat.say(conv.id, "Dank u")  # citizen's now due at 1100 s
        await advance(r, clock, 500)
        assert await state_of(r, conv.id) is State.AGENT
        await r.chat.say(conv.id, "Hallo?")  # citizen's now due at 1600 s
        await advance(r, clock, 401)
        assert await state_of(r, conv.id) is State.BOT
        assert r.desk.closed[thread] == "agent_inactive"
        assert r.bot.handbacks == [(conv.id, "agent_inactive")]


async def test_survey_times_out_quietly(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(tmp_path, clock=clock) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.request_agent(conv.id)
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await r.desk.join(thread, "Sanne")
        await r.desk.close(thread)
        await r.settle()
        assert await state_of(r, conv.id) is State.SURVEY
        shown = len(r.chat.shown[conv.id])
        await advance(r, clock, 301)
        assert await state_of(r, conv.id) is State.BOT
        assert len(r.chat.shown[conv.id]) == shown
        answers = await r.daemon.store.survey_answers(TENANT)
        assert [(a.score, a.outcome) for a in answers] == [(None, "resolved")]
