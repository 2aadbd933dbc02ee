"""One conversation open in two tabs whose sockets two instances hold: what either
instance delivers, and what the citizen types in either tab, shows in both, once each
and in order (the other instance catches up from the transcript on a peer notice)."""

from __future__ import annotations

from handover.model import Content, Party, State
from handover.sdk.contracts import OutboundMessage
from tests.adapters.web.conftest import MakeRig, section
from tests.adapters.web.test_web_leaving import sharing_store_with


def _out(seq: int, text: str) -> OutboundMessage:
    return OutboundMessage(seq=seq, message_id=f"id{seq}", party=Party.AGENT,
                           content=Content(text=text))


async def test_two_tabs_on_two_instances_both_get_every_message_once(make_rig: MakeRig):
    a = await make_rig(section())
    b = await make_rig(section(), sharing_store_with(a.ctx))
    first, welcome = await a.opened()
    cid, token = welcome["conversation_id"], welcome["token"]
    second = await b.connect()
    await second.hello(conversation_id=cid, token=token)

    # The agent's messages are delivered by A (say, the lease's holder).
    for text in ("Goedemorgen", "Waarmee kan ik helpen?"):
        entry = a.ctx.add_entry(cid, Party.AGENT, text, sender_name="Sanne")
        await a.channel.deliver(a.ctx.conversations[cid], _out(entry.seq, text))
    assert a.ctx.peer_notices == [cid, cid]
    for notice in a.ctx.peer_notices:  # what the store's hint carries to instance B
        await b.channel.catch_up(notice)
    a.ctx.set_state(cid, State.AGENT, "Sanne")
    await b.channel.catch_up(cid)
    for tab in (first, second):
        got = [await tab.recv_type("message") for _ in range(2)]
        assert [(m["seq"], m["content"]["text"]) for m in got] == [
            (1, "Goedemorgen"), (2, "Waarmee kan ik helpen?")]
    state = await second.recv_type("state")
    assert (state["state"], state["agent_name"]) == ("agent", "Sanne")

    # The citizen types in the tab on B; the tab on A shows it.
    await second.send(type="message", message_id="m1", text="Mijn paspoort is verlopen")
    assert (await second.recv_type("ack"))["message_id"] == "m1"
    assert b.ctx.peer_notices == [cid]
    await a.channel.catch_up(cid)
    await a.channel.catch_up(cid)  # a repeated notice shows nothing twice
    shown = await first.recv_type("message")
    assert (shown["seq"], shown["party"], shown["content"]["text"]) == (
        3, "citizen", "Mijn paspoort is verlopen")
    entry = a.ctx.add_entry(cid, Party.AGENT, "Dan maak ik een afspraak")
    await a.channel.deliver(a.ctx.conversations[cid], _out(entry.seq, entry.content.text or ""))
    assert (await first.recv_type("message"))["seq"] == 4


async def test_a_notice_for_a_conversation_not_held_here_reads_nothing(make_rig: MakeRig):
    rig = await make_rig(section())
    reads: list[str] = []
    original = rig.ctx.get_conversation

    async def counting(conversation_id: str):  # type: ignore[no-untyped-def]
        reads.append(conversation_id)
        return await original(conversation_id)

    rig.ctx.get_conversation = counting  # type: ignore[method-assign]
    await rig.channel.catch_up("0" * 32)
    assert reads == []
