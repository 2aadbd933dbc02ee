"""A citizen who closes the page while someone waits for them: after the grace period
the desk's thread ends (CitizenLeft); a widget back in time, or a page that was visible,
does not count as leaving. The history replayed on resume is counted in `welcome`."""

from __future__ import annotations

import asyncio

from handover import events as ev
from handover.model import State
from tests.adapters.conftest import FakeContext
from tests.adapters.web.conftest import MakeRig, Widget, section

GRACE = 0.3


async def test_a_socket_closed_while_hidden_and_not_back_counts_as_left(make_rig: MakeRig):
    rig = await make_rig(section(leave_grace_seconds=GRACE))
    widget, welcome = await rig.opened()
    conv_id = welcome["conversation_id"]
    rig.ctx.set_state(conv_id, State.AGENT, "Sanne")
    await widget.send(type="visibility", hidden=True)
    await widget.send(type="ping")
    await widget.recv_type("pong")  # the visibility frame has been read
    await widget.ws.close()
    await asyncio.sleep(GRACE * 3)
    left = rig.ctx.events_of(ev.CitizenLeft)
    assert [e.conversation_id for e in left] == [conv_id]


async def test_back_within_the_grace_period_or_visible_is_not_leaving(make_rig: MakeRig):
    rig = await make_rig(section(leave_grace_seconds=GRACE))
    widget, welcome = await rig.opened()
    conv_id, token = welcome["conversation_id"], welcome["token"]
    rig.ctx.set_state(conv_id, State.QUEUED)
    # A navigation: hidden, closed, and the next page resumes at once.
    await widget.send(type="visibility", hidden=True)
    await widget.send(type="ping")
    await widget.recv_type("pong")
    await widget.ws.close()
    again = await rig.connect()
    await again.hello(conversation_id=conv_id, token=token)
    # A dropped network while the page is in view: the widget reconnects by itself.
    await again.send(type="visibility", hidden=False)
    await again.send(type="ping")
    await again.recv_type("pong")
    await again.ws.close()
    await asyncio.sleep(GRACE * 3)
    assert rig.ctx.events_of(ev.CitizenLeft) == []


async def test_welcome_counts_the_replay_that_follows(make_rig: MakeRig):
    rig = await make_rig()
    widget, welcome = await rig.opened()
    assert welcome["replay"] == 0
    conv_id, token = welcome["conversation_id"], welcome["token"]
    for n in (1, 2):
        await widget.send(type="message", message_id=f"m{n}", text=f"bericht {n}")
        await widget.recv_type("ack")
    await widget.ws.close()
    again = await rig.connect()
    resumed = await again.hello(conversation_id=conv_id, token=token, last_seq=1)
    assert resumed["replay"] == 1
    assert (await again.recv_type("message"))["content"]["text"] == "bericht 2"


async def test_visibility_frames_are_checked(make_rig: MakeRig):
    rig = await make_rig()
    widget, _ = await rig.opened()
    await widget.send(type="visibility", hidden="yes")
    assert (await widget.recv_type("error"))["code"] == "invalid_field"


def sharing_store_with(ctx: FakeContext) -> FakeContext:
    """A second instance's context on the same store as `ctx` (state, conversations)."""
    other = FakeContext("web")
    other.state = ctx.state
    other.conversations = ctx.conversations
    other.entries = ctx.entries
    other.seen = ctx.seen
    return other


async def closed_while_hidden(widget: Widget) -> None:
    await widget.send(type="visibility", hidden=True)
    await widget.send(type="ping")
    await widget.recv_type("pong")  # the visibility frame has been read
    await widget.ws.close()


async def test_a_departure_seen_by_an_instance_that_died_is_settled_by_another(
    make_rig: MakeRig,
):
    a = await make_rig(section(leave_grace_seconds=GRACE))
    b = await make_rig(section(leave_grace_seconds=GRACE), sharing_store_with(a.ctx))
    widget, welcome = await a.opened()
    conv_id = welcome["conversation_id"]
    a.ctx.set_state(conv_id, State.QUEUED)
    await closed_while_hidden(widget)
    await asyncio.sleep(GRACE / 3)
    await a.ctx.aclose()  # instance A dies within the grace period, its timer with it
    await asyncio.sleep(GRACE * 4)
    left = b.ctx.events_of(ev.CitizenLeft)
    assert [e.conversation_id for e in left] == [conv_id]
    assert a.ctx.events_of(ev.CitizenLeft) == []


async def test_a_citizen_back_on_another_instance_is_not_leaving(make_rig: MakeRig):
    a = await make_rig(section(leave_grace_seconds=GRACE))
    b = await make_rig(section(leave_grace_seconds=GRACE), sharing_store_with(a.ctx))
    widget, welcome = await a.opened()
    conv_id, token = welcome["conversation_id"], welcome["token"]
    a.ctx.set_state(conv_id, State.AGENT, "Sanne")
    await closed_while_hidden(widget)
    # The next page's widget lands on instance B; A (alive) timed the departure.
    again = await b.connect()
    await again.hello(conversation_id=conv_id, token=token)
    await asyncio.sleep(GRACE * 4)
    assert a.ctx.events_of(ev.CitizenLeft) == b.ctx.events_of(ev.CitizenLeft) == []


async def test_a_tab_still_open_on_another_instance_is_not_leaving(make_rig: MakeRig):
    a = await make_rig(section(leave_grace_seconds=GRACE))
    b = await make_rig(section(leave_grace_seconds=GRACE), sharing_store_with(a.ctx))
    widget, welcome = await a.opened()
    conv_id, token = welcome["conversation_id"], welcome["token"]
    a.ctx.set_state(conv_id, State.QUEUED)
    other_tab = await b.connect()
    await other_tab.hello(conversation_id=conv_id, token=token)
    await closed_while_hidden(widget)  # one of two tabs closed
    await asyncio.sleep(GRACE * 4)
    assert a.ctx.events_of(ev.CitizenLeft) == b.ctx.events_of(ev.CitizenLeft) == []


async def test_sockets_closed_by_a_draining_daemon_start_no_grace_period(make_rig: MakeRig):
    """A rolling restart closes hidden pages' sockets too: that is not the citizen
    leaving, and no instance may later count it as such."""
    rig = await make_rig(section(leave_grace_seconds=GRACE))
    widget, welcome = await rig.opened()
    rig.ctx.set_state(welcome["conversation_id"], State.QUEUED)
    await widget.send(type="visibility", hidden=True)
    await widget.send(type="ping")
    await widget.recv_type("pong")
    await rig.channel.close_all()
    assert await widget.closed() == 1001
    await asyncio.sleep(GRACE * 3)
    assert await rig.ctx.state.scan("away:") == []
    assert rig.ctx.events_of(ev.CitizenLeft) == []
