"""What the widget missed is kept until a connection holds its session again: across a
daemon restart, and never counted as sent while nobody could be shown it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.socketio.adapter import SocketIOChannel
from handover.model import thread_id
from handover.sdk import events as ev
from handover.sdk.contracts import OutboundMessage
from handover.sdk.errors import TransientError
from handover.sdk.model import Content, Party
from tests.adapters.socketio.conftest import Running


def has_text(part: str) -> Any:
    return lambda p: part in (p.get("text") or "")


async def test_the_agent_writes_after_a_restart_before_the_widget_returns(start: Any) -> None:
    first: Running = await start()
    widget = await first.widget()
    session_id = await widget.session(None)
    await widget.say("Ik wil een medewerker spreken")
    await widget.until(has_text("wachtrij"))
    conv, thread = await first.queued()
    await first.desk("POST", f"/threads/{thread}/join", {"agent_name": "Sanne"})
    await first.desk("POST", f"/threads/{thread}/messages", {"message_id": "s1", "text": "Een"})
    await widget.until(has_text("Een"))
    await widget.close()
    await first.runner.cleanup()

    # The daemon is back; the agent writes (a desk webhook) before the widget returns.
    second: Running = await start()
    result = await second.daemon.router.ingest(ev.AgentMessage(
        conversation_id=conv.id, source="desk", source_id="desk:s2",
        thread=thread_id(conv.id, 1), content=Content(text="Twee"), agent_name="Sanne",
    ))
    assert result.outcome.value == "applied"
    await asyncio.sleep(0.5)

    widget = await second.widget()
    assert await widget.session(session_id) == session_id
    got = await widget.until(has_text("Twee"), timeout=10)
    assert [p["text"] for p in got] == ["Sanne: Twee"]
    await asyncio.sleep(0.5)
    assert [e for e in widget.pending() if e[0] == "bot_uttered"] == []


async def test_a_delivery_to_a_session_without_a_connection_here_is_kept(
    running: Running,
) -> None:
    channel = running.daemon.adapters["sio"]
    assert isinstance(channel, SocketIOChannel)
    message = OutboundMessage(seq=3, message_id="m3", party=Party.AGENT,
                              content=Content(text="Hallo"), sender_name="Sanne")
    # Never seen here (another instance's widget, or before a restart): not sent.
    with pytest.raises(TransientError):
        await channel.endpoint.deliver("key-of-a-session", "c1", message)
