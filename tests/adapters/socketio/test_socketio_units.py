"""The channel's configuration checks and wire format, the refused compression, and a
shutdown that does not wait for idle connections."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.socketio import wire
from adapters.socketio.adapter import SocketIOChannel
from handover.model import Attachment, Button, Content, Party
from handover.sdk.contracts import ConfigIssues, OutboundMessage
from tests.adapters.socketio.conftest import ORIGIN, Running

TENANTS = {"tenants": {"demo": {"origins": [ORIGIN]}}}


def issues(section: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigIssues) as caught:
        SocketIOChannel.parse_config(section, "adapters.webchat")
    return {i.path: i.message for i in caught.value.issues}


def test_rasa_defaults_apply_and_rasas_path_spelling_is_accepted() -> None:
    options = SocketIOChannel.parse_config({**TENANTS, "socketio_path": "/socket.io"}, "x")
    assert (options.user_message_evt, options.bot_message_evt) == ("user_uttered", "bot_uttered")
    assert options.socketio_path == "/socket.io/"
    assert options.session_persistence is True


@pytest.mark.parametrize(("section", "path"), [
    ({}, "adapters.webchat.tenants"),
    ({"tenants": {"demo": {}}}, "adapters.webchat.tenants.demo.origins"),
    ({"tenants": {"demo": {"origins": ["https://x.nl/"]}}},
     "adapters.webchat.tenants.demo.origins[0]"),
    ({**TENANTS, "user_message_evt": "connect"}, "adapters.webchat.user_message_evt"),
    ({**TENANTS, "bot_message_evt": "user_uttered"}, "adapters.webchat.bot_message_evt"),
    ({**TENANTS, "socketio_path": "/admin/sio/"}, "adapters.webchat.socketio_path"),
    ({**TENANTS, "socketio_path": "no-slash"}, "adapters.webchat.socketio_path"),
    ({**TENANTS, "namespace": "chat"}, "adapters.webchat.namespace"),
    ({**TENANTS, "max_text_length": 50000}, "adapters.webchat.max_text_length"),
    ({**TENANTS, "session_persistance": True}, "adapters.webchat.session_persistance"),
])
def test_a_wrong_setting_is_reported_with_its_path(section: dict[str, Any], path: str) -> None:
    assert path in issues(section)


def message(content: Content, party: Party = Party.BOT, sender: str | None = None) -> OutboundMessage:
    return OutboundMessage(seq=7, message_id="m7", party=party, content=content,
                           sender_name=sender, created_at=datetime.now(UTC))


def test_bot_uttered_has_exactly_the_keys_rasa_webchat_recognises() -> None:
    [plain] = wire.bot_uttered(message(Content("Hallo")), agent_name_prefix=True)
    assert set(plain) == {"text", "metadata"}
    assert plain["metadata"] == {"message_id": "m7", "seq": 7, "party": "bot",
                                 "sender_name": None}
    [buttons] = wire.bot_uttered(message(Content("Kies", buttons=(Button("Ja", "/yes"),))), True)
    assert set(buttons) == {"text", "quick_replies", "metadata"}
    assert buttons["quick_replies"] == [{"content_type": "text", "title": "Ja", "payload": "/yes"}]


def test_media_inline_other_files_as_links_and_the_agents_name_first() -> None:
    content = Content("Zie bijlagen", attachments=(
        Attachment(url="https://x.nl/kaart.png", name="kaart.png", mime_type="image/png"),
        Attachment(url="https://x.nl/brief.pdf", name="brief.pdf", mime_type="application/pdf"),
    ))
    image, text = wire.bot_uttered(message(content, Party.AGENT, "Sanne"), True)
    assert image["attachment"] == {"type": "image", "payload": {
        "src": "https://x.nl/kaart.png", "title": "kaart.png"}}
    assert text["text"] == "Sanne: Zie bijlagen\n\n[brief.pdf](https://x.nl/brief.pdf)"
    [unnamed] = wire.bot_uttered(message(Content("Hoi"), Party.AGENT, "Sanne"), False)
    assert unnamed["text"] == "Hoi"


def test_a_quick_reply_payload_maps_back_to_its_button() -> None:
    offered = {"/consent_yes": "Ja, graag"}
    assert wire.citizen_content("/consent_yes", offered) == (Content("Ja, graag"), "/consent_yes")
    assert wire.citizen_content("/greet", {}) == (Content("/greet"), "/greet")
    assert wire.citizen_content("Hallo", offered) == (Content("Hallo"), None)


def test_page_context_loses_query_and_fragment_and_unknown_keys() -> None:
    said = wire.parse_user_uttered({"message": "x", "customData": {
        "url": "https://a.nl/p?bsn=123#f", "referrer": "https://b.nl/?q=x", "title": "T",
        "favourite_colour": "blue"}}, 100)
    assert said.context == {"url": "https://a.nl/p", "referrer": "https://b.nl/", "title": "T"}


async def test_the_websocket_declines_compression(running: Running) -> None:
    url = f"{running.url}/socket.io/?EIO=4&transport=websocket&tenant=demo"
    async with aiohttp.ClientSession() as http, http.ws_connect(
        url, headers={"Origin": ORIGIN}, compress=15
    ) as ws:
        assert ws.compress == 0
        first = await ws.receive(timeout=5)
        assert str(first.data).startswith("0{")  # engine.io's open packet


async def test_shutdown_does_not_wait_for_an_idle_long_poll(start: Any) -> None:
    running = await start()
    widget = await running.widget(transports=["polling"])
    await widget.session(None)
    await asyncio.sleep(0.2)  # the client's next long-poll is now waiting at the server
    runner = running.runner
    began = time.monotonic()
    await runner.cleanup()
    assert time.monotonic() - began < 5
    await widget.client.eio.disconnect(abort=True)
