"""The whole conversation flow in-process: memory adapters, real SQLite, real workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from handover.model import Party, State, thread_id
from handover.sdk.contracts import IngestOutcome
from handover.sdk.errors import PermanentError, TransientError
from tests.harness import TENANT, running


async def test_bot_turn_handover_agent_close_survey_and_second_handover(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "Wanneer wordt het afval opgehaald?")
        await r.chat.wait_for(conv.id, lambda m: any(x.party is Party.BOT for x in m))
        assert "bot: Wanneer wordt het afval opgehaald?" in r.chat.texts(conv.id)

        await r.chat.say(conv.id, "/handover")
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        opened = r.desk.threads[thread]
        said = [e.content.text for e in opened.transcript]
        assert said[:2] == ["Wanneer wordt het afval opgehaald?", "bot: Wanneer wordt het afval opgehaald?"]
        assert opened.signal.topic == "test"
        assert opened.tenant == TENANT

        await r.desk.join(thread, "Sanne")
        await r.desk.reply(thread, "Goedemiddag, waar kan ik mee helpen?")
        await r.chat.wait_for(conv.id, lambda m: any(x.party is Party.AGENT for x in m))
        agent_msgs = [m for m in r.chat.shown[conv.id] if m.party is Party.AGENT]
        assert agent_msgs[0].sender_name == "Sanne"

        await r.chat.say(conv.id, "Mijn container is niet geleegd")
        await r.desk.wait_for(lambda: len(r.desk.received[thread]) == 1)
        assert r.desk.received[thread][0].content.text == "Mijn container is niet geleegd"
        turns_before_close = len(r.bot.turns)

        await r.desk.close(thread, "solved")
        await r.settle()
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.SURVEY
        assert r.bot.handbacks == [(conv.id, "solved")]
        # The bot never saw the messages of the human stretch.
        assert len(r.bot.turns) == turns_before_close

        await r.chat.say(conv.id, "8")
        await r.chat.say(conv.id, "Fijn geholpen")
        await r.settle()
        answers = await r.daemon.store.survey_answers(TENANT)
        assert [(a.score, a.comment, a.outcome) for a in answers] == [(8, "Fijn geholpen", "solved")]

        await r.chat.say(conv.id, "Nog een vraag over parkeren")
        await r.settle()
        assert r.chat.texts(conv.id)[-1] == "bot: Nog een vraag over parkeren"

        # A second handover for the same citizen is a new desk thread.
        await r.chat.request_agent(conv.id)
        second = thread_id(conv.id, 2)
        await r.desk.wait_for(lambda: second in r.desk.threads)
        await r.desk.reply(second, "Hallo weer")
        await r.chat.wait_for(conv.id, lambda m: m[-1].content.text == "Hallo weer")


async def test_late_bot_reply_after_handover_is_not_delivered(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        r.bot.gate = asyncio.Event()  # hold the bot's answer back
        await r.chat.say(conv.id, "Een trage vraag")
        for _ in range(100):
            if r.bot.turns:
                break
            await asyncio.sleep(0.01)
        await r.chat.request_agent(conv.id)
        await r.desk.wait_for(lambda: thread_id(conv.id, 1) in r.desk.threads)
        r.bot.gate.set()  # the reply now arrives, produced before the handover
        await r.settle()
        assert not any(m.party is Party.BOT for m in r.chat.shown[conv.id])
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.QUEUED


async def test_same_inbound_message_twice_is_delivered_once(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        first = await r.chat.say(conv.id, "Hallo", message_id="dup-1")
        second = await r.chat.say(conv.id, "Hallo", message_id="dup-1")
        assert first.outcome is IngestOutcome.APPLIED
        assert second.outcome is IngestOutcome.DUPLICATE
        await r.settle()
        assert len(r.bot.turns) == 1
        assert r.chat.texts(conv.id).count("bot: Hallo") == 1


async def test_agent_messages_arrive_in_order_through_channel_outage(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.request_agent(conv.id)
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await r.desk.join(thread, "Sanne")
        await r.settle()
        r.chat.faults.fail_next(TransientError("channel down"), times=5)
        for n in range(10):
            await r.desk.reply(thread, f"bericht {n}")
        await r.settle()
        agent = [m.content.text for m in r.chat.shown[conv.id] if m.party is Party.AGENT]
        assert agent == [f"bericht {n}" for n in range(10)]
        seqs = [m.seq for m in r.chat.shown[conv.id]]
        assert seqs == sorted(seqs)


async def test_permanent_desk_failure_is_dead_lettered_and_citizen_told(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.request_agent(conv.id)
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        r.desk.faults.fail_next(PermanentError("rejected"))
        await r.chat.say(conv.id, "Is er iemand?")
        await r.settle()
        dead = await r.daemon.store.dead_letters()
        assert [d.kind for d in dead] == ["desk.message"]
        last = r.chat.shown[conv.id][-1]
        assert last.party is Party.SYSTEM
        assert "niet" in last.content.text  # the "could not be delivered" notice


async def test_numbered_choices_map_back_to_button_payloads(tmp_path: Path) -> None:
    from handover.model import Button, Content
    from handover.sdk.contracts import BotResponse

    extra = {"adapters": {"chat": {"type": "memory_channel", "max_buttons": 0}}}
    async with running(tmp_path, extra) as r:
        def menu(conv: object, turn: object) -> BotResponse:
            payload = getattr(turn, "payload", None)
            if payload:
                return BotResponse((Content(f"gekozen: {payload}"),))
            return BotResponse((Content("Kies", buttons=(Button("Afval", "/afval"),
                                                           Button("Paspoort", "/paspoort"))),))

        r.bot.responder = menu
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "menu")
        await r.settle()
        assert r.chat.texts(conv.id)[-1] == "Kies\n1. Afval\n2. Paspoort"
        await r.chat.say(conv.id, "2")
        await r.settle()
        assert r.chat.texts(conv.id)[-1] == "gekozen: /paspoort"


async def test_typing_reaches_the_other_side_only_while_a_human_stretch_is_live(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        # With the bot in control nobody sees the citizen type, and an agent's typing
        # about a thread that is not live is dropped.
        await r.daemon.relay_typing(conv.id, Party.CITIZEN, True)
        await r.daemon.relay_typing(conv.id, Party.AGENT, True)
        assert r.desk.typing_events == [] and r.chat.typing_events == []

        await r.chat.say(conv.id, "/handover")
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await r.daemon.relay_typing(conv.id, Party.CITIZEN, True)
        # Queued: the desk sees the citizen typing; the agent has not taken it yet.
        await r.daemon.relay_typing(conv.id, Party.AGENT, True)
        assert r.desk.typing_events == [(conv.id, thread, True)]
        assert r.chat.typing_events == []

        await r.desk.join(thread, "Sanne")
        await r.settle()
        await r.daemon.relay_typing(conv.id, Party.AGENT, True)
        await r.daemon.relay_typing(conv.id, Party.CITIZEN, False)
        assert r.chat.typing_events == [(conv.id, Party.AGENT, True)]
        assert r.desk.typing_events[-1] == (conv.id, thread, False)


async def test_daemon_asks_consent_and_the_desk_sees_it_was_given(tmp_path: Path) -> None:
    extra = {"tenants": {TENANT: {"handover": {"consent": "daemon"}}}}
    async with running(tmp_path, extra) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.request_agent(conv.id)
        shown = await r.chat.wait_for(conv.id, lambda m: any(x.content.buttons for x in m))
        question = shown[-1]
        assert question.party is Party.SYSTEM
        assert [b.title for b in question.content.buttons] == ["Ja, graag", "Nee, liever niet"]
        assert not r.desk.threads and r.desk.checks == 0

        # Declined: nothing reaches the desk, the bot holds the conversation.
        await r.chat.say(conv.id, "Nee, liever niet", payload=question.content.buttons[1].payload)
        await r.settle()
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.BOT
        assert not r.desk.threads

        # Asked again and given: the thread opens with the consent and the answer in it.
        await r.chat.request_agent(conv.id)
        await r.settle()
        await r.chat.say(conv.id, "ja")
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        opened = r.desk.threads[thread]
        assert opened.signal.consent is True
        assert [e.content.text for e in opened.transcript if e.party is Party.CITIZEN][-1] == "ja"


async def test_desk_outage_keeps_messages_in_order_and_tells_the_citizen_once(
    tmp_path: Path,
) -> None:
    extra = {"delivery": {"desk_delay_notice_seconds": 0.2}}
    async with running(tmp_path, extra) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.request_agent(conv.id)
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        await r.desk.join(thread, "Sanne")
        await r.settle()

        # The desk is down for a while: every send fails until it comes back.
        r.desk.faults.fail_next(TransientError("503 from the desk"), times=40)
        for text in ("een", "twee", "drie"):
            await r.chat.say(conv.id, text)
        await r.desk.wait_for(lambda: len(r.desk.received[thread]) == 3, timeout=15)
        await r.settle()
        assert [m.content.text for m in r.desk.received[thread]] == ["een", "twee", "drie"]
        delayed = [m for m in r.chat.shown[conv.id] if "langer dan normaal" in m.content.text]
        assert len(delayed) == 1 and delayed[0].party is Party.SYSTEM


async def test_bot_and_desk_see_the_page_context_not_the_engines_bookkeeping(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        page = {"page": {"url": "https://www.example.nl/afval", "title": "Afval"}}
        await r.chat.request_agent(conv.id)  # the handover leaves its signal in the context
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        opened = r.desk.threads[thread]
        assert opened.queued_at is not None
        assert "handover" not in opened.context
        await r.desk.close(thread)
        await r.settle()
        await r.chat.say(conv.id, "iets anders", context=page)
        await r.settle()
        metadata = r.bot.turns[-1].metadata
        assert metadata["context"] == page


async def test_the_desk_gets_the_end_of_a_long_conversation(tmp_path: Path) -> None:
    from handover.model import Content, TranscriptEntry
    from handover.store.base import Step

    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "eerste vraag")
        await r.settle()
        # Over a thousand entries: the store's page is 1000, the desk must see the end.
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None
        extra = [TranscriptEntry(conv.id, stored.seq + n, Party.CITIZEN, Content(f"regel {n}"),
                                 message_id=f"bulk-{n}") for n in range(1, 1501)]
        await r.daemon.store.commit(Step(stored.evolve(seq=stored.seq + 1500), transcript=extra))
        await r.chat.say(conv.id, "/handover")
        thread = thread_id(conv.id, 1)
        await r.desk.wait_for(lambda: thread in r.desk.threads)
        said = [e.content.text for e in r.desk.threads[thread].transcript]
        assert "/handover" in said[-3:]
        assert "regel 1500" in said and "eerste vraag" not in said
