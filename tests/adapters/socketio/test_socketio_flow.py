"""rasa-webchat's protocol against a real daemon: a bot turn, the handover, the agent,
the NPS question as quick replies, and a reconnect that replays the gap once."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.adapters.socketio.conftest import ORIGIN, Running, browser_client


def has_text(part: str) -> Any:
    return lambda p: part in (p.get("text") or "")


async def test_bot_handover_agent_and_survey_over_socketio(running: Running) -> None:
    widget = await running.widget()
    session_id = await widget.session(None)
    assert len(session_id) >= 32

    ack = await widget.say("Wanneer wordt het afval opgehaald?",
                           customData={"language": "nl", "tenant": "demo",
                                       "url": "https://www.gemeente.example/afval?q=mijn+adres",
                                       "title": "Afval"})
    assert ack == {"outcome": "applied"}
    got = await widget.until(lambda p: p["metadata"]["party"] == "bot")
    bot = got[-1]
    assert bot["text"] and bot["metadata"]["seq"] >= 2

    await widget.say("Ik wil een medewerker spreken")
    got = await widget.until(has_text("wachtrij"))
    assert all(p["metadata"]["party"] in ("bot", "system") for p in got)
    conv, thread = await running.queued()
    assert conv.context["url"] == "https://www.gemeente.example/afval"  # no query string

    await running.desk("POST", f"/threads/{thread}/join", {"agent_name": "Sanne"})
    await running.desk("POST", f"/threads/{thread}/messages",
                       {"message_id": "s1", "text": "Goedemiddag, waarmee kan ik helpen?"})
    got = await widget.until(has_text("Goedemiddag"))
    agent = got[-1]
    assert agent["metadata"]["party"] == "agent"
    assert agent["metadata"]["sender_name"] == "Sanne"
    assert agent["text"] == "Sanne: Goedemiddag, waarmee kan ik helpen?"

    await widget.say("Mijn container is niet geleegd")
    await asyncio.sleep(0.2)
    detail = await running.desk("GET", f"/threads/{thread}")
    assert "Mijn container is niet geleegd" in str(detail)

    await running.desk("POST", f"/threads/{thread}/close", {"outcome": "solved"})
    got = await widget.until(lambda p: len(p.get("quick_replies", [])) == 11)
    scale = got[-1]["quick_replies"]
    assert [q["title"] for q in scale] == [str(n) for n in range(11)]
    assert all(q["content_type"] == "text" for q in scale)
    # A click on a quick reply sends its payload as the message.
    assert await widget.say(scale[9]["payload"]) == {"outcome": "applied"}
    await asyncio.sleep(0.2)
    answers = await running.daemon.store.survey_answers("demo")
    assert [a.score for a in answers] == [9]


async def test_a_reconnect_replays_the_gap_once_and_in_order(running: Running) -> None:
    widget = await running.widget()
    session_id = await widget.session(None)
    await widget.say("Ik wil een medewerker spreken")
    shown = await widget.until(has_text("wachtrij"))
    _, thread = await running.queued()
    await widget.close()

    # While the widget is away the agent joins and writes twice.
    await running.desk("POST", f"/threads/{thread}/join", {"agent_name": "Sanne"})
    await running.desk("POST", f"/threads/{thread}/messages", {"message_id": "s1", "text": "Een"})
    await running.desk("POST", f"/threads/{thread}/messages", {"message_id": "s2", "text": "Twee"})
    await asyncio.sleep(0.5)

    widget = await running.widget(transports=["polling"])
    assert await widget.session(session_id) == session_id
    replayed = await widget.until(has_text("Twee"))
    seqs = [p["metadata"]["seq"] for p in replayed]
    assert seqs == sorted(set(seqs)) and min(seqs) > max(p["metadata"]["seq"] for p in shown)
    assert [p["text"] for p in replayed if p["metadata"]["party"] == "agent"] == ["Sanne: Een", "Sanne: Twee"]

    # Live from here on, and nothing replayed comes again.
    await running.desk("POST", f"/threads/{thread}/messages", {"message_id": "s3", "text": "Drie"})
    live = await widget.until(has_text("Drie"))
    assert [p["text"] for p in live] == ["Sanne: Drie"]
    await asyncio.sleep(0.3)
    assert [e for e in widget.pending() if e[0] == "bot_uttered"] == []


async def test_a_second_session_request_on_the_same_page_load_sends_nothing_twice(
    running: Running,
) -> None:
    widget = await running.widget()
    session_id = await widget.session(None)
    await widget.say("Wanneer wordt het afval opgehaald?")
    await widget.until(lambda p: p["metadata"]["party"] == "bot")
    # rasa-webchat asks again on every (re)connect of the same socket.io client.
    assert await widget.session(session_id) == session_id
    await asyncio.sleep(0.3)
    assert [e for e in widget.pending() if e[0] == "bot_uttered"] == []


async def test_an_unknown_or_weak_session_id_gets_a_new_session(running: Running) -> None:
    widget = await running.widget()
    assert await widget.session("1") != "1"
    fresh = await widget.session(None)
    other = await running.widget()
    assert await other.session(None) != fresh


async def test_without_session_persistence_every_connection_is_new(start: Any) -> None:
    running = await start(session_persistence=False)
    widget = await running.widget()
    first = await widget.session(None)
    await widget.say("Wanneer wordt het afval opgehaald?")
    assert await widget.session(first) != first


async def test_event_names_namespace_and_path_are_configurable(start: Any) -> None:
    running = await start(user_message_evt="citizen_says", bot_message_evt="gem_says",
                          namespace="/chat", socketio_path="/gem/sio")
    client = browser_client()
    got: asyncio.Queue[Any] = asyncio.Queue()
    confirmed: asyncio.Queue[Any] = asyncio.Queue()
    client.on("gem_says", got.put, namespace="/chat")
    client.on("session_confirm", confirmed.put, namespace="/chat")
    await client.connect(f"{running.url}/?tenant=demo", headers={"Origin": ORIGIN},
                         namespaces=["/chat"], socketio_path="/gem/sio/",
                         transports=["websocket"], wait_timeout=5)
    try:
        await client.emit("session_request", {"session_id": None}, namespace="/chat")
        session_id = await asyncio.wait_for(confirmed.get(), 5)
        ack = await client.call("citizen_says", {"message": "Wanneer wordt het afval opgehaald?",
                                                 "session_id": session_id},
                                namespace="/chat", timeout=5)
        assert ack == {"outcome": "applied"}
        reply = await asyncio.wait_for(got.get(), 5)
        assert reply["metadata"]["party"] == "bot" and reply["text"]
    finally:
        await client.disconnect()

