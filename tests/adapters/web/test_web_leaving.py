"""A citizen who closes the page while someone waits for them: after the grace period
the desk's thread ends (CitizenLeft); a widget back in time, or a page that was visible,
does not count as leaving. The history replayed on resume is counted in `welcome`."""

from __future__ import annotations

import asyncio

from handover import events as ev
from handover.model import State
from tests.adapters.web.conftest import MakeRig, section

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
