"""The widget socket: open, resume with replay, messages and acks, live delivery."""

from __future__ import annotations

from handover import events as ev
from handover.metrics import REGISTRY
from handover.model import Button, Content, Party, State
from handover.sdk.contracts import ControlUpdate, OutboundMessage
from tests.adapters.web.conftest import MakeRig, section


def _out(seq: int, text: str, party: Party = Party.BOT, **kw: object) -> OutboundMessage:
    return OutboundMessage(seq=seq, message_id=f"id{seq}", party=party,
                           content=Content(text=text), **kw)  # type: ignore[arg-type]


async def test_open_gives_a_token_once_and_the_store_keeps_only_its_hash(make_rig: MakeRig):
    rig = await make_rig()
    _, welcome = await rig.opened(language="en", context={"url": "https://x.example/afval",
                                                         "title": "Afval"})
    assert welcome["resumed"] is False
    assert welcome["language"] == "en"
    assert welcome["state"]["state"] == "bot"
    token = welcome["token"]
    conv = rig.ctx.conversations[welcome["conversation_id"]]
    assert token not in conv.channel_key and len(conv.channel_key) == 64
    assert conv.context == {"url": "https://x.example/afval", "title": "Afval"}


async def test_message_is_acknowledged_after_ingest_and_a_retry_is_a_duplicate(make_rig: MakeRig):
    rig = await make_rig()
    widget, welcome = await rig.opened()
    await widget.send(type="message", message_id="m1", text="Wanneer komt het afval?")
    assert await widget.recv_type("ack") == {"type": "ack", "message_id": "m1",
                                             "outcome": "applied"}
    await widget.send(type="message", message_id="m1", text="Wanneer komt het afval?")
    assert (await widget.recv_type("ack"))["outcome"] == "duplicate"
    msgs = rig.ctx.events_of(ev.CitizenMessage)
    assert len(msgs) == 1
    assert msgs[0].content.text == "Wanneer komt het afval?"
    assert msgs[0].source_id == f"m:{welcome['conversation_id']}:m1"


async def test_button_payload_and_request_agent_with_page_context(make_rig: MakeRig):
    rig = await make_rig()
    widget, _ = await rig.opened()
    await widget.send(type="message", message_id="b1", text="Paspoort", payload="/passport")
    await widget.recv_type("ack")
    await widget.send(type="action", action="request_agent", action_id="a1",
                      context={"url": "https://x.example/paspoort", "referrer": "https://q"})
    assert (await widget.recv_type("ack"))["action_id"] == "a1"
    assert rig.ctx.events_of(ev.CitizenMessage)[0].payload == "/passport"
    request = rig.ctx.events_of(ev.CitizenRequestsAgent)[0]
    assert request.context == {"url": "https://x.example/paspoort", "referrer": "https://q"}


async def test_store_failure_is_an_error_and_the_same_id_is_stored_once_later(make_rig: MakeRig):
    rig = await make_rig()
    widget, _ = await rig.opened()
    rig.ctx.ingest_error = RuntimeError("disk full")
    await widget.send(type="message", message_id="m1", text="hallo")
    error = await widget.recv_type("error")
    assert (error["code"], error["ref"]) == ("unavailable", "m1")
    rig.ctx.ingest_error = None
    await widget.send(type="message", message_id="m1", text="hallo")
    assert (await widget.recv_type("ack"))["outcome"] == "applied"
    assert len(rig.ctx.events_of(ev.CitizenMessage)) == 1


async def test_invalid_frames_get_an_error_and_the_socket_stays(make_rig: MakeRig):
    rig = await make_rig(section(max_text_length=10))
    widget, _ = await rig.opened()
    await widget.send(type="message", message_id="m1", text="x" * 11)
    assert (await widget.recv_type("error"))["code"] == "text_too_long"
    await widget.send(type="message", message_id="m2", text="  ")
    assert (await widget.recv_type("error"))["code"] == "empty_message"
    await widget.send(type="shout", text="hi")
    assert (await widget.recv_type("error"))["code"] == "unknown_type"
    await widget.send(type="message", message_id="m3", text="ok", colour="red")
    assert (await widget.recv_type("error"))["code"] == "unknown_field"
    await widget.send(type="ping")
    assert (await widget.recv())["type"] == "pong"
    assert rig.ctx.events == []


async def test_live_delivery_state_and_typing_reach_every_socket_of_the_conversation(
    make_rig: MakeRig,
):
    rig = await make_rig()
    first, welcome = await rig.opened()
    conv = rig.ctx.conversations[welcome["conversation_id"]]
    second, _ = await rig.opened(conversation_id=conv.id, token=welcome["token"])
    other, _ = await rig.opened()
    survey = Content(text="Cijfer?", buttons=tuple(Button(str(n), str(n)) for n in range(11)))
    await rig.channel.deliver(conv, OutboundMessage(seq=1, message_id="q", party=Party.SYSTEM,
                                                    content=survey))
    await rig.channel.control_changed(conv, ControlUpdate(State.QUEUED, queue_position=2,
                                                          estimated_wait_seconds=120))
    await rig.channel.typing(conv, Party.AGENT, True)
    for widget in (first, second):
        message = await widget.recv_type("message")
        assert message["seq"] == 1 and message["party"] == "system"
        assert [b["payload"] for b in message["content"]["buttons"]] == [str(n) for n in range(11)]
        state = await widget.recv_type("state")
        assert (state["state"], state["queue_position"], state["estimated_wait_seconds"]) == (
            "queued", 2, 120)
        assert await widget.recv_type("typing") == {"type": "typing", "party": "agent", "on": True}
    # Nothing of that conversation reaches another one's socket.
    await other.send(type="ping")
    assert (await other.recv())["type"] == "pong"


async def test_resume_replays_the_gap_once_and_live_delivery_does_not_repeat_it(
    make_rig: MakeRig,
):
    rig = await make_rig()
    widget, welcome = await rig.opened()
    cid, token = welcome["conversation_id"], welcome["token"]
    await widget.send(type="message", message_id="m1", text="vraag")  # seq 1, the citizen's
    await widget.recv_type("ack")
    rig.ctx.add_entry(cid, Party.BOT, "antwoord 1")  # seq 2
    rig.ctx.add_entry(cid, Party.BOT, "antwoord 2")  # seq 3
    await widget.ws.close()

    replays = REGISTRY.get_sample_value("handover_web_replayed_messages_total",
                                        {"adapter": "web"}) or 0
    again, welcome2 = await rig.opened(conversation_id=cid, token=token, last_seq=2)
    assert welcome2["resumed"] is True and "token" not in welcome2
    replayed = await again.recv_type("message")
    assert (replayed["seq"], replayed["content"]["text"]) == (3, "antwoord 2")
    assert REGISTRY.get_sample_value("handover_web_replayed_messages_total",
                                     {"adapter": "web"}) == replays + 1
    conv = rig.ctx.conversations[cid]
    # The outbox now delivers seq 3 (already replayed) and then seq 4.
    await rig.channel.deliver(conv, _out(3, "antwoord 2"))
    await rig.channel.deliver(conv, _out(4, "antwoord 3"))
    nxt = await again.recv_type("message")
    assert nxt["seq"] == 4

    # A page reload starts from 0: the citizen's own message comes back with its own id.
    reloaded, _ = await rig.opened(conversation_id=cid, token=token, last_seq=0)
    seen = [await reloaded.recv_type("message") for _ in range(3)]
    assert [m["seq"] for m in seen] == [1, 2, 3]
    assert (seen[0]["party"], seen[0]["message_id"]) == ("citizen", "m1")


async def test_resume_shows_the_last_known_waiting_state(make_rig: MakeRig):
    rig = await make_rig()
    widget, welcome = await rig.opened()
    cid = welcome["conversation_id"]
    rig.ctx.set_state(cid, State.QUEUED)
    await rig.channel.control_changed(rig.ctx.conversations[cid],
                                      ControlUpdate(State.QUEUED, queue_position=3))
    await widget.ws.close()
    _, again = await rig.opened(conversation_id=cid, token=welcome["token"])
    assert again["state"]["state"] == "queued"
    assert again["state"]["queue_position"] == 3
    rig.ctx.set_state(cid, State.AGENT, agent_name="Sanne")
    _, agent = await rig.opened(conversation_id=cid, token=welcome["token"])
    assert (agent["state"]["state"], agent["state"]["agent_name"]) == ("agent", "Sanne")


async def test_citizen_typing_goes_to_the_core(make_rig: MakeRig):
    rig = await make_rig()
    widget, welcome = await rig.opened()
    await widget.send(type="typing", on=True)
    await widget.send(type="ping")
    await widget.recv_type("pong")
    assert rig.ctx.typing == [(welcome["conversation_id"], Party.CITIZEN, True)]


async def test_shutdown_closes_sockets_with_going_away(make_rig: MakeRig):
    rig = await make_rig()
    widget, _ = await rig.opened()
    await rig.channel.stop()
    assert await widget.closed() == 1001


async def test_server_shutdown_closes_sockets_at_once_with_going_away(make_rig: MakeRig):
    rig = await make_rig()
    widget, _ = await rig.opened()
    await rig.client.server.app.shutdown()  # what aiohttp runs first on SIGTERM
    assert await widget.closed() == 1001


async def test_a_citizen_message_shows_in_the_other_tab_of_the_same_conversation(
    make_rig: MakeRig,
):
    rig = await make_rig()
    tab_a, welcome = await rig.opened()
    tab_b, _ = await rig.opened(conversation_id=welcome["conversation_id"],
                                token=welcome["token"])
    await tab_a.send(type="message", message_id="m1", text="vanuit tab A")
    await tab_a.recv_type("ack")
    shown = await tab_b.recv_type("message")
    assert (shown["party"], shown["message_id"], shown["content"]["text"]) == (
        "citizen", "m1", "vanuit tab A")
    # Tab A shows its own message itself: it gets no copy.
    await tab_a.send(type="ping")
    assert (await tab_a.recv())["type"] == "pong"
