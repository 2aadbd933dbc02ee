"""The agent's tools over real HTTP: canned responses, internal notes, transfer, the
per-agent chat limit, the away status and a silent agent's chat offered back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.console.reoffer import SilenceWatch
from handover.model import Party, State
from tests.adapters.console.support import TOKENS, console_daemon, texts, until
from tests.harness import TENANT

CANNED = {TENANT: {"canned": {
    "nl": [
        {"shortcut": "tijden", "title": "Openingstijden",
         "text": "Het stadskantoor van {municipality} is open van 9 tot 17 uur. Groet, {agent}"},
        {"shortcut": "bedankt", "title": "Bedankt", "text": "Bedankt voor uw geduld."},
    ],
    "en": [{"shortcut": "hours", "title": "Opening hours", "text": "We open at 9. {agent}"}],
}}}


async def test_canned_responses_of_the_threads_tenant_and_language_with_placeholders(
    tmp_path: Path,
) -> None:
    async with console_daemon(tmp_path, tenants=CANNED) as c:
        live = await c.live("sanne")
        _, thread = await c.handover(live)
        status, body = await c.get(f"threads/{thread}/canned")
        assert status == 200
        assert body["canned"] == [
            {"shortcut": "tijden", "title": "Openingstijden",
             "text": "Het stadskantoor van Gemeente Test is open van 9 tot 17 uur. Groet, Sanne"},
            {"shortcut": "bedankt", "title": "Bedankt", "text": "Bedankt voor uw geduld."},
        ]
        # The agent's own name goes in: Ahmed's list says Ahmed.
        _, body = await c.get(f"threads/{thread}/canned", agent="ahmed")
        assert body["canned"][0]["text"].endswith("Groet, Ahmed")
        # Piet does not see this municipality: no such thread for him.
        status, _ = await c.get(f"threads/{thread}/canned", agent="piet")
        assert status == 404
        status, _ = await c.get(f"threads/{thread}/canned", agent=None)
        assert status == 401


async def test_internal_notes_reach_agents_never_the_citizen_or_the_bot(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        sanne, ahmed = await c.live("sanne"), await c.live("ahmed")
        conv, thread = await c.handover(sanne)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        secret = "Intern: inwoner belde eerder al, zaak Z-1234 (niet doorgeven)"
        status, body = await c.post(f"threads/{thread}/notes", {"note_id": "n1", "text": secret})
        assert (status, body["outcome"]) == (201, "applied")
        # A retried post stores it once; an empty one is refused.
        status, body = await c.post(f"threads/{thread}/notes", {"note_id": "n1", "text": secret})
        assert (status, body["outcome"]) == (201, "duplicate")
        status, body = await c.post(f"threads/{thread}/notes", {"note_id": "n2", "text": "  "})
        assert (status, body["error"]) == (400, "invalid_field")
        status, body = await c.post(f"threads/{thread}/notes", {"text": "x"})
        assert status == 400

        # Another agent sees it in the thread, as an internal note with its author.
        changed = await ahmed.next(lambda e: e["type"] == "changed")
        assert changed["thread_id"] == thread
        _, detail = await c.get(f"threads/{thread}", agent="ahmed")
        [note] = [i for i in detail["transcript"] if i["party"] == "internal"]
        assert (note["text"], note["sender_name"]) == (secret, "Sanne")
        assert texts(detail["transcript"], "internal") == [secret]

        # The citizen's side never has it: not shown, not stored in the transcript, not
        # given to the bot, and not in the list's snippet either.
        await c.post(f"threads/{thread}/messages", {"message_id": "m1", "text": "Ik kijk even."})
        await c.chat.wait_for(conv.id, lambda m: any(x.party is Party.AGENT for x in m))
        assert not [m for m in c.chat.shown[conv.id] if "Z-1234" in (m.content.text or "")]
        stored = await c.daemon.store.transcript(conv.id)
        assert not [e for e in stored if "Z-1234" in (e.content.text or "")]
        assert "Z-1234" not in repr(c.bot.turns)
        _, listed = await c.get("threads")
        assert "Z-1234" not in str(listed)


async def test_transfer_to_a_colleague_and_to_a_team(tmp_path: Path) -> None:
    teams = [{"id": "vergunningen", "name": "Vergunningen"}]
    async with console_daemon(tmp_path, teams=teams) as c:
        sanne = await c.live("sanne")
        conv, thread = await c.handover(sanne)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        await c.chat.wait_for(conv.id, lambda m: any("Sanne helpt" in x.content.text for x in m))

        # Ahmed is not signed in: not offered, and a transfer to him is refused.
        _, targets = await c.get(f"threads/{thread}/transfer")
        assert targets == {"agents": [], "teams": teams}
        status, body = await c.post(f"threads/{thread}/transfer", {"to": "agent:ahmed"})
        assert (status, body["error"]) == (409, "not_online")
        status, body = await c.post(f"threads/{thread}/transfer", {"to": "agent:piet"})
        assert (status, body["error"]) == (400, "invalid_field")  # Piet does not see `test`
        status, body = await c.post(f"threads/{thread}/transfer", {"to": "somewhere"})
        assert (status, body["error"]) == (400, "invalid_field")

        ahmed = await c.live("ahmed")
        _, targets = await c.get(f"threads/{thread}/transfer")
        assert targets["agents"] == [{"id": "ahmed", "name": "Ahmed"}]
        # Only the holder may hand it on.
        status, body = await c.post(f"threads/{thread}/transfer", {"to": "agent:sanne"},
                                    agent="ahmed")
        assert (status, body["error"]) == (409, "not_yours")
        status, body = await c.post(f"threads/{thread}/transfer",
                                    {"to": "agent:ahmed", "note": "Vraag over Z-77, zie boven"})
        assert status == 200
        assert body["thread"]["agent"] == {"id": "ahmed", "name": "Ahmed"}
        assert body["thread"]["handoff"] == {"kind": "transfer", "from": "Sanne"}
        # Ahmed's page is alerted; the citizen hears the new name, not the note.
        told = await ahmed.next(lambda e: e["type"] == "transferred")
        assert (told["thread_id"], told["to_agent"], told["from"]) == (thread, "ahmed", "Sanne")
        await c.chat.wait_for(conv.id, lambda m: any("Ahmed helpt" in x.content.text for x in m))
        assert not [m for m in c.chat.shown[conv.id] if "Z-77" in (m.content.text or "")]
        stored = await c.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.AGENT
        assert stored.agent_name == "Ahmed"
        _, detail = await c.get(f"threads/{thread}", agent="ahmed")
        assert texts(detail["transcript"], "internal") == [
            "Overgedragen aan Ahmed.\nVraag over Z-77, zie boven"]
        # Sanne no longer holds it; Ahmed answers.
        status, body = await c.post(f"threads/{thread}/messages", {"message_id": "x", "text": "x"})
        assert (status, body["error"]) == (409, "not_yours")
        status, _ = await c.post(f"threads/{thread}/messages",
                                 {"message_id": "a1", "text": "Ahmed hier."}, agent="ahmed")
        assert status == 202

        # To a team: the chat waits again, marked for the team, with its history.
        status, body = await c.post(f"threads/{thread}/transfer", {"to": "team:bouw"},
                                    agent="ahmed")
        assert (status, body["error"]) == (400, "invalid_field")
        status, body = await c.post(f"threads/{thread}/transfer", {"to": "team:vergunningen"},
                                    agent="ahmed")
        assert status == 200
        waiting = body["thread"]
        assert (waiting["status"], waiting["agent"], waiting["team"]) == ("queued", None,
                                                                          "vergunningen")
        _, detail = await c.get(f"threads/{thread}")
        assert texts(detail["transcript"], "agent") == ["Ahmed hier."]
        # Sanne picks it up again: the citizen is told she is back.
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        await until(lambda: [x.content.text for x in c.chat.shown[conv.id]
                             if "helpt" in x.content.text][-1:] == ["Sanne helpt u verder."])


async def test_an_agent_at_the_limit_cannot_take_more_and_does_not_count_as_available(
    tmp_path: Path,
) -> None:
    async with console_daemon(tmp_path, max_chats=2) as c:
        sanne = await c.live("sanne")
        threads = []
        for i in range(3):
            _, thread = await c.handover(sanne, key=f"inwoner-{i}")
            threads.append(thread)
        assert (await c.post(f"threads/{threads[0]}/pickup"))[0] == 200
        assert (await c.post(f"threads/{threads[1]}/pickup"))[0] == 200
        # Picking up again what she holds is harmless; a third is refused.
        assert (await c.post(f"threads/{threads[1]}/pickup"))[0] == 200
        status, body = await c.post(f"threads/{threads[2]}/pickup")
        assert (status, body["error"]) == (409, "at_limit")
        assert "at most 2 at once" in body["detail"]
        _, workspace = await c.get("me/workspace")
        assert (workspace["held"], workspace["max_chats"], workspace["away"]) == (2, 2, False)
        # The only agent online is full: the desk reports no agent available; a
        # colleague with room makes it available again.
        availability = await c.desk.availability(TENANT, None)
        assert availability.available is False
        ahmed = await c.live("ahmed")
        assert (await c.desk.availability(TENANT, None)).available is True
        await ahmed.ws.close()
        await until_async(lambda: c.desk.availability(TENANT, None), False)
        # Closing one makes room again.
        assert (await c.post(f"threads/{threads[0]}/close", {"outcome": "resolved"}))[0] == 200
        assert (await c.desk.availability(TENANT, None)).available is True
        assert (await c.post(f"threads/{threads[2]}/pickup"))[0] == 200


async def test_two_pickups_of_one_agent_racing_never_exceed_the_limit(tmp_path: Path) -> None:
    async with console_daemon(tmp_path, max_chats=1) as c:
        sanne = await c.live("sanne")
        _, a = await c.handover(sanne, key="inwoner-a")
        _, b = await c.handover(sanne, key="inwoner-b")
        results = await asyncio.gather(c.post(f"threads/{a}/pickup"),
                                       c.post(f"threads/{b}/pickup"))
        assert [s for s, _ in results].count(200) <= 1
        _, workspace = await c.get("me/workspace")
        assert workspace["held"] <= 1


async def test_an_away_agent_takes_no_new_chat_keeps_their_own_and_is_not_available(
    tmp_path: Path,
) -> None:
    async with console_daemon(tmp_path) as c:
        sanne = await c.live("sanne")
        _, held = await c.handover(sanne, key="inwoner-a")
        _, other = await c.handover(sanne, key="inwoner-b")
        assert (await c.post(f"threads/{held}/pickup"))[0] == 200
        status, body = await c.post("me/status", {"away": True})
        assert status == 200 and body["away"] is True
        status, body = await c.post("me/status", {"away": "ja"})
        assert (status, body["error"]) == (400, "invalid_field")

        status, body = await c.post(f"threads/{other}/pickup")
        assert (status, body["error"]) == (409, "away")
        assert (await c.desk.availability(TENANT, None)).available is False
        # Her own chat stays hers: she still answers it.
        status, _ = await c.post(f"threads/{held}/messages", {"message_id": "s1", "text": "Ja?"})
        assert status == 202
        _, listed = await c.get("threads")
        assert [t["agent"] for t in listed["threads"] if t["thread_id"] == held] == [
            {"id": "sanne", "name": "Sanne"}]
        # A colleague cannot hand her a chat either.
        await c.live("ahmed")
        assert (await c.post(f"threads/{other}/pickup", agent="ahmed"))[0] == 200
        status, body = await c.post(f"threads/{other}/transfer", {"to": "agent:sanne"},
                                    agent="ahmed")
        assert (status, body["error"]) == (409, "away")
        # Back: available again, on every instance (the status is in the shared state).
        status, body = await c.post("me/status", {"away": False})
        assert body["away"] is False
        assert (await c.desk.availability(TENANT, None)).available is True


async def test_a_silent_agents_chat_is_offered_back_to_the_queue(tmp_path: Path) -> None:
    async with console_daemon(tmp_path, reoffer_after_seconds=1) as c:
        sanne = await c.live("sanne")
        conv, thread = await c.handover(sanne)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        await c.post(f"threads/{thread}/messages", {"message_id": "s1", "text": "Moment."})
        await c.chat.wait_for(conv.id, lambda m: any(x.party is Party.AGENT for x in m))
        # The agent answered last: nothing is offered back, however long it stays quiet.
        await asyncio.sleep(1.2)
        assert await c.desk.silence.sweep() == []
        await c.chat.say(conv.id, "Bent u er nog?")
        # The citizen waits: offered back (by the background watch or this sweep).
        told = await sanne.next(lambda e: e["type"] == "reoffered", timeout=8)
        assert (told["thread_id"], told["agent_id"]) == (thread, "sanne")
        _, listed = await c.get("threads", agent="ahmed")
        [again] = [t for t in listed["threads"] if t["thread_id"] == thread]
        assert (again["status"], again["agent"]) == ("queued", None)
        assert again["handoff"] == {"kind": "reoffer", "from": "Sanne"}
        _, detail = await c.get(f"threads/{thread}", agent="ahmed")
        assert texts(detail["transcript"], "citizen")[-1] == "Bent u er nog?"
        assert texts(detail["transcript"], "agent") == ["Moment."]
        assert [n for n in texts(detail["transcript"], "internal") if "wachtrij" in n]
        assert await c.desk.silence.sweep() == []  # once
        # Ahmed picks it up; the citizen hears his name.
        assert (await c.post(f"threads/{thread}/pickup", agent="ahmed"))[0] == 200
        await c.chat.wait_for(conv.id, lambda m: any("Ahmed helpt" in x.content.text for x in m))


async def test_two_instances_offering_back_one_chat_do_it_once(tmp_path: Path) -> None:
    async with console_daemon(tmp_path, reoffer_after_seconds=600) as c:
        sanne = await c.live("sanne")
        conv, thread = await c.handover(sanne)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        await c.chat.say(conv.id, "Hallo?")
        # Two watches on one store (as on two instances), both when the time has passed.
        later = _Later(c.desk.ctx, c.daemon.clock.now() + timedelta(seconds=601))
        watches = [SilenceWatch(later, "desk", c.desk.journal, c.desk.api.internal_notes,
                                c.desk.api.announce, c.desk.api._publish_thread, 600)
                   for _ in range(2)]
        first, second = await asyncio.gather(*(w.sweep() for w in watches))
        assert sorted(first + second) == [thread]
        _, listed = await c.get("threads")
        assert [t["status"] for t in listed["threads"]] == ["queued"]
        _, detail = await c.get(f"threads/{thread}")
        assert len(texts(detail["transcript"], "internal")) == 1


async def until_async(read: Any, available: bool) -> None:
    for _ in range(200):
        if (await read()).available is available:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"availability never became {available}")


class _Later:
    """The adapter context with its clock read later (the rest is the real context)."""

    def __init__(self, ctx: Any, at: datetime) -> None:
        self._ctx = ctx
        self._at = at

    @property
    def clock(self) -> Any:
        ctx = self

        class Clock:
            def now(self) -> datetime:
                return ctx._at

        return Clock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


async def test_bad_input_to_the_tools_gets_a_clear_4xx(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        live = await c.live("sanne")
        _, thread = await c.handover(live)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        bodies: list[bytes] = [
            b"", b"{", b"[]", b"null", b'"x"', b'{"to": 5}', b'{"to": "agent:"}',
            b'{"to": "team:"}', b'{"to": "queue", "extra": 1}', b'{"note_id": "", "text": "x"}',
            b'{"note_id": "a:b", "text": "x"}', b'{"note_id": "n", "text": 1}',
            b'{"note_id": "n", "text": "' + b"x" * 5000 + b'"}', b'{"away": null}',
            b'{"away": "true"}', b'{"to": "agent:' + b"a" * 300 + b'"}',
        ]
        for path in (f"threads/{thread}/notes", f"threads/{thread}/transfer", "me/status"):
            for body in bodies:
                resp = await c.client.post(f"/desk/api/{path}", data=body, headers={
                    "Authorization": f"Bearer {TOKENS['sanne']}",
                    "Content-Type": "application/json"})
                assert 400 <= resp.status < 500, (path, body[:40], resp.status)
                assert "error" in await resp.json()
        for path in ("threads/nope/canned", "threads/nope/transfer", "threads/" + "x" * 500
                     + "/canned"):
            status, body = await c.get(path)
            assert (status, body["error"]) == (404, "unknown_thread")
        resp = await c.client.post(f"/desk/api/threads/{thread}/notes",
                                   json={"note_id": "n", "text": "x"})
        assert resp.status == 401


async def test_an_agent_who_picks_up_and_says_nothing_gets_it_offered_back(
    tmp_path: Path,
) -> None:
    async with console_daemon(tmp_path, reoffer_after_seconds=1) as c:
        sanne = await c.live("sanne")
        _, thread = await c.handover(sanne)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        told = await sanne.next(lambda e: e["type"] == "reoffered", timeout=8)
        assert told["thread_id"] == thread
        _, listed = await c.get("threads")
        assert [t["status"] for t in listed["threads"]] == ["queued"]


async def test_a_thread_in_english_offers_the_english_answers(tmp_path: Path) -> None:
    async with console_daemon(tmp_path, tenants=CANNED) as c:
        live = await c.live("sanne")
        conv = await c.chat.ctx.resolve_conversation(TENANT, "inwoner-en", "en", {})
        await c.chat.say(conv.id, "/handover")
        thread = f"{conv.id}-1"
        await live.next(lambda e: e["type"] == "thread" and e["thread"]["thread_id"] == thread)
        _, body = await c.get(f"threads/{thread}/canned")
        assert body["canned"] == [{"shortcut": "hours", "title": "Opening hours",
                                   "text": "We open at 9. Sanne"}]
