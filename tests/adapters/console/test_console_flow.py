"""The console as the daemon's desk, over real HTTP and websockets: the whole flow."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from handover.model import Party, State
from tests.adapters.console.support import PAGE, console_daemon, texts, until
from tests.harness import TENANT


async def test_waiting_pickup_reply_live_typing_and_close_with_outcome(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        sanne, ahmed = await c.live("sanne"), await c.live("ahmed")
        conv, thread = await c.handover(sanne)

        # It shows as waiting, with why, where from and consent.
        status, data = await c.get("threads")
        assert status == 200
        [waiting] = [t for t in data["threads"] if t["thread_id"] == thread]
        assert waiting["status"] == "queued" and waiting["waiting"] is True
        assert (waiting["tenant"], waiting["channel"], waiting["language"]) == (TENANT, "chat", "nl")
        assert (waiting["reason"], waiting["topic"], waiting["consent"]) == ("citizen_request", "test", True)
        assert waiting["page"] == PAGE
        assert waiting["agent"] is None
        # What an agent scans the list for: the municipality by name, the last words.
        assert waiting["tenant_name"] == "Gemeente Test"
        assert waiting["last_message"]["party"] == "citizen"
        assert waiting["last_message"]["text"] == "/handover"

        status, detail = await c.get(f"threads/{thread}")
        assert status == 200
        assert texts(detail["transcript"], "citizen") == ["Mijn container is niet geleegd", "/handover"]
        assert "bot: Mijn container is niet geleegd" in texts(detail["transcript"], "bot")
        assert texts(detail["transcript"], "system"), "the citizen's queue notice is shown"

        # Sanne picks it up: the other agents see it taken, the citizen sees her name.
        status, body = await c.post(f"threads/{thread}/pickup")
        assert status == 200 and body["thread"]["status"] == "active"
        taken = await ahmed.next(lambda e: e["type"] == "thread" and e["thread"]["status"] == "active")
        assert taken["thread"]["agent"] == {"id": "sanne", "name": "Sanne"}
        await c.chat.wait_for(conv.id, lambda m: any("Sanne" in x.content.text for x in m))
        await until(lambda: any(u.agent_name == "Sanne" for u in c.chat.controls[conv.id]))

        # Only the holder answers.
        status, body = await c.post(f"threads/{thread}/messages",
                                    {"message_id": "a1", "text": "Mag ik meekijken?"}, agent="ahmed")
        assert (status, body["error"]) == (409, "not_yours")

        status, body = await c.post(f"threads/{thread}/messages",
                                    {"message_id": "s1", "text": "Goedemiddag, ik help u verder."})
        assert (status, body["outcome"]) == (202, "applied")
        shown = await c.chat.wait_for(conv.id, lambda m: any(x.party is Party.AGENT for x in m))
        [reply] = [m for m in shown if m.party is Party.AGENT]
        assert (reply.content.text, reply.sender_name) == ("Goedemiddag, ik help u verder.", "Sanne")
        # A retried post (same message id) reaches the citizen once.
        status, body = await c.post(f"threads/{thread}/messages",
                                    {"message_id": "s1", "text": "Goedemiddag, ik help u verder."})
        assert (status, body["outcome"]) == (202, "duplicate")

        # The citizen's answer and typing reach the page live.
        await c.daemon.relay_typing(conv.id, Party.CITIZEN, True)
        typing = await sanne.next(lambda e: e["type"] == "typing")
        assert (typing["thread_id"], typing["on"]) == (thread, True)
        await c.chat.say(conv.id, "Het gaat om de groene container")
        pushed = await sanne.next(lambda e: e["type"] == "message")
        assert pushed["thread_id"] == thread
        assert (pushed["entry"]["party"], pushed["entry"]["text"]) == ("citizen", "Het gaat om de groene container")

        # The agent's typing reaches the citizen.
        status, _ = await c.post(f"threads/{thread}/typing", {"on": True})
        assert status == 202
        await until(lambda: (conv.id, Party.AGENT, True) in c.chat.typing_events)

        status, detail = await c.get(f"threads/{thread}")
        assert texts(detail["transcript"], "agent") == ["Goedemiddag, ik help u verder."]
        assert texts(detail["transcript"], "citizen")[-1] == "Het gaat om de groene container"

        # Close with an outcome: control goes back, the survey starts.
        status, body = await c.post(f"threads/{thread}/close", {"outcome": "unknown"})
        assert (status, body["error"]) == (400, "invalid_field")
        status, body = await c.post(f"threads/{thread}/close", {"outcome": "resolved"})
        assert status == 200
        assert (body["thread"]["status"], body["thread"]["outcome"]) == ("closed", "resolved")
        stored = await c.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.SURVEY
        await c.chat.wait_for(conv.id, lambda m: any("aanraadt" in x.content.text for x in m))
        assert c.bot.handbacks == [(conv.id, "resolved")]
        closed = await ahmed.next(lambda e: e["type"] == "thread" and e["thread"]["status"] == "closed")
        assert closed["thread"]["outcome"] == "resolved"

        # After the close nobody can act on it any more.
        status, body = await c.post(f"threads/{thread}/messages", {"message_id": "s2", "text": "Nog iets"})
        assert (status, body["error"]) == (409, "thread_closed")


async def test_two_agents_racing_for_one_conversation_one_wins(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        live = await c.live("sanne")
        conv, thread = await c.handover(live)
        (s1, b1), (s2, b2) = await asyncio.gather(
            c.post(f"threads/{thread}/pickup", agent="sanne"),
            c.post(f"threads/{thread}/pickup", agent="ahmed"),
        )
        assert sorted([s1, s2]) == [200, 409]
        winner = "Sanne" if s1 == 200 else "Ahmed"
        loser_body = b2 if s1 == 200 else b1
        assert loser_body["error"] == "taken" and winner in loser_body["detail"]
        stored = await c.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.AGENT and stored.agent_name == winner
        # Picking up again as the holder is harmless.
        status, body = await c.post(f"threads/{thread}/pickup", agent=winner.lower())
        assert status == 200 and body["thread"]["agent"]["name"] == winner


async def test_no_agent_signed_in_means_no_agents_available(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        conv = await c.chat.open(TENANT)
        await c.chat.say(conv.id, "/handover")
        await c.chat.wait_for(conv.id, lambda m: len(m) >= 3)
        stored = await c.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.BOT
        status, data = await c.get("threads")
        assert status == 200 and data["threads"] == []


async def test_citizen_leaving_ends_the_thread_with_a_note(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        live = await c.live("sanne")
        conv, thread = await c.handover(live)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        await c.chat.leave(conv.id)
        ended = await live.next(lambda e: e["type"] == "thread" and e["thread"]["status"] == "closed")
        assert ended["thread"]["close_reason"] == "citizen_left"
        status, detail = await c.get(f"threads/{thread}")
        assert status == 200 and texts(detail["transcript"], "note")
        status, body = await c.post(f"threads/{thread}/close", {"outcome": "resolved"})
        assert (status, body["error"]) == (409, "thread_closed")


async def test_restart_keeps_the_view_and_who_holds_what(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        live = await c.live("sanne")
        conv, thread = await c.handover(live)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        await c.post(f"threads/{thread}/messages", {"message_id": "s1", "text": "Een moment."})
        await c.chat.wait_for(conv.id, lambda m: any(x.party is Party.AGENT for x in m))
        _, before = await c.get(f"threads/{thread}")

    async with console_daemon(tmp_path) as c:
        _, data = await c.get("threads")
        [again] = data["threads"]
        assert again["thread_id"] == thread and again["status"] == "active"
        assert again["agent"] == {"id": "sanne", "name": "Sanne"}
        assert again["page"] == PAGE and again["opened_at"] == before["opened_at"]
        _, after = await c.get(f"threads/{thread}")
        assert after["transcript"] == before["transcript"]
        status, body = await c.post(f"threads/{thread}/pickup", agent="ahmed")
        assert (status, body["error"]) == (409, "taken")
        status, body = await c.post(f"threads/{thread}/messages", {"message_id": "s2", "text": "Daar ben ik weer."})
        assert (status, body["outcome"]) == (202, "applied")
        await c.chat.wait_for(conv.id, lambda m: any(x.content.text == "Daar ben ik weer." for x in m))


async def test_a_lost_thread_record_shows_the_thread_again_when_the_citizen_writes(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        live = await c.live("sanne")
        conv, thread = await c.handover(live)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        # The thread's record is gone (restored from an old backup, say).
        store = c.daemon.store
        assert await store.state_delete("desk", f"thread:{thread}", now=c.daemon.clock.now())

    async with console_daemon(tmp_path) as c:
        ahmed = await c.live("ahmed")
        assert (await c.get("threads"))[1]["threads"] == []
        await c.chat.say(conv.id, "Hallo? Is daar iemand?")
        event = await ahmed.next(lambda e: e["type"] == "message")
        assert event["thread_id"] == thread
        _, data = await c.get("threads", agent="ahmed")
        [recovered] = data["threads"]
        assert recovered["thread_id"] == thread and recovered["status"] == "queued"
        _, detail = await c.get(f"threads/{thread}", agent="ahmed")
        assert texts(detail["transcript"], "citizen")[-1] == "Hallo? Is daar iemand?"
        # Another agent can take it over and answer under their own name.
        assert (await c.post(f"threads/{thread}/pickup", agent="ahmed"))[0] == 200
        status, _ = await c.post(f"threads/{thread}/messages", {"message_id": "a1", "text": "Ja, Ahmed hier."}, agent="ahmed")
        assert status == 202
        shown = await c.chat.wait_for(conv.id, lambda m: any(x.content.text == "Ja, Ahmed hier." for x in m))
        assert shown[-1].sender_name == "Ahmed"


async def test_shutdown_closes_the_pages_with_going_away(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        live = await c.live("sanne")
        await c.client.server.close()
        msg = await live.ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY


async def test_an_erased_conversation_leaves_nothing_personal_in_the_console(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        live = await c.live("sanne")
        conv, thread = await c.handover(live)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        assert await c.daemon.store.erase_conversation(conv.id)
        # The thread's record names the conversation, so erasure deleted it with its
        # page context and notes: the console has nothing of it to show any more.
        _, data = await c.get("threads")
        assert data["threads"] == []
        status, detail = await c.get(f"threads/{thread}")
        assert status == 404 and "Mijn container" not in str(detail)


async def test_with_availability_always_a_thread_waits_for_the_first_agent(tmp_path: Path) -> None:
    async with console_daemon(tmp_path, availability="always") as c:
        conv = await c.chat.open(TENANT)
        await c.chat.say(conv.id, "/handover")
        await until(lambda: any("wachtrij" in m.content.text for m in c.chat.shown[conv.id]))
        # An agent who signs in later finds it waiting.
        live = await c.live("sanne")
        _, data = await c.get("threads")
        [waiting] = data["threads"]
        assert waiting["status"] == "queued" and waiting["conversation_id"] == conv.id
        assert (await c.post(f"threads/{waiting['thread_id']}/pickup"))[0] == 200
        taken = await live.next(lambda e: e["type"] == "thread" and e["thread"]["agent"] is not None)
        assert taken["thread"]["agent"]["name"] == "Sanne"
