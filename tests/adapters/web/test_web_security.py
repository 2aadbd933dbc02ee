"""What the widget socket refuses, with the documented status or close code, and that
nothing of another conversation leaks."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from adapters.web.wire import CloseCode
from handover import events as ev
from handover.metrics import REGISTRY
from tests.adapters.conftest import FakeContext
from tests.adapters.web.conftest import ORIGIN, MakeRig, section


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "http://www.gemeente.example",          # another scheme
    "https://www.gemeente.example:8443",    # another port
    "https://www.gemeente.example.evil.example",
    "",
])
async def test_wrong_origin_is_refused_before_the_upgrade(make_rig: MakeRig, origin: str):
    rig = await make_rig()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await rig.connect(origin=origin)
    assert refused.value.status == 403
    assert rig.ctx.conversations == {}


async def test_unknown_tenant_is_refused_before_the_upgrade(make_rig: MakeRig):
    rig = await make_rig()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await rig.connect(tenant="elsewhere")
    assert refused.value.status == 404


async def test_resume_without_a_token_is_a_protocol_error(make_rig: MakeRig):
    rig = await make_rig()
    _, welcome = await rig.opened()
    widget = await rig.connect()
    await widget.send(type="hello", tenant="demo", conversation_id=welcome["conversation_id"])
    assert await widget.closed() == CloseCode.PROTOCOL_ERROR


@pytest.mark.parametrize("case", ["forged", "other", "unknown_id", "other_channel"])
async def test_a_token_that_does_not_open_the_conversation_is_refused_the_same_way(
    make_rig: MakeRig, case: str,
):
    ctx = FakeContext("web")
    rig = await make_rig(ctx=ctx)
    victim, victim_welcome = await rig.opened()
    vid = victim_welcome["conversation_id"]
    await victim.send(type="message", message_id="secret", text="mijn BSN is 111222333")
    await victim.recv_type("ack")
    _, mine = await rig.opened()
    cid, token = {
        "forged": (vid, "A" * 43),
        "other": (vid, mine["token"]),
        "unknown_id": ("0" * 32, mine["token"]),
        "other_channel": (ctx.add_conversation(channel="rest", channel_key="k").id, "k"),
    }[case]
    widget = await rig.connect()
    await widget.send(type="hello", tenant="demo", conversation_id=cid, token=token, last_seq=0)
    frames = []
    while True:
        msg = await widget.ws.receive(timeout=3)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        frames.append(msg.data)
    assert widget.ws.close_code == CloseCode.FORBIDDEN
    assert frames == []  # no welcome, no replay: nothing of the victim's conversation


async def test_first_frame_must_be_a_hello(make_rig: MakeRig):
    rig = await make_rig()
    widget = await rig.connect()
    await widget.send(type="message", message_id="m1", text="hoi")
    assert await widget.closed() == CloseCode.PROTOCOL_ERROR
    widget = await rig.connect()
    await widget.ws.send_str("not json")
    assert await widget.closed() == CloseCode.PROTOCOL_ERROR
    widget = await rig.connect()
    await widget.ws.send_bytes(b"\x00\x01")
    assert await widget.closed() == CloseCode.PROTOCOL_ERROR
    assert rig.ctx.events == []


async def test_hello_for_another_tenant_than_the_url_is_refused(make_rig: MakeRig):
    ctx = FakeContext("web", tenants=("demo", "other"))
    config = section()
    config["tenants"]["other"] = {"origins": ["https://other.example"]}
    rig = await make_rig(config, ctx=ctx)
    widget = await rig.connect()
    await widget.send(type="hello", tenant="other")
    assert await widget.closed() == CloseCode.PROTOCOL_ERROR


async def test_no_hello_in_time_closes_the_socket(make_rig: MakeRig):
    rig = await make_rig(section(hello_timeout_seconds=0.2))
    widget = await rig.connect()
    assert await widget.closed() == CloseCode.HELLO_TIMEOUT


async def test_an_oversize_frame_closes_with_1009_and_stores_nothing(make_rig: MakeRig):
    rig = await make_rig(section(max_frame_bytes=1024))
    widget, _ = await rig.opened()
    await widget.ws.send_str(json.dumps({"type": "message", "message_id": "big",
                                         "text": "x" * 2000}))
    assert await widget.closed() == CloseCode.MESSAGE_TOO_BIG
    assert rig.ctx.events_of(ev.CitizenMessage) == []


async def test_a_message_flood_is_refused_per_conversation_without_losing_accepted_ones(
    make_rig: MakeRig,
):
    rig = await make_rig(section(messages_per_minute=5))
    widget, _ = await rig.opened()
    for n in range(8):
        await widget.send(type="message", message_id=f"m{n}", text=f"bericht {n}")
    answers = [await widget.recv() for _ in range(8)]
    acked = [a["message_id"] for a in answers if a["type"] == "ack"]
    refused = [a["ref"] for a in answers if a["type"] == "error" and a["code"] == "rate_limited"]
    assert acked == [f"m{n}" for n in range(5)]
    assert refused == ["m5", "m6", "m7"]
    stored = [e.content.text for e in rig.ctx.events_of(ev.CitizenMessage)]
    assert stored == [f"bericht {n}" for n in range(5)]


async def test_a_frame_flood_from_one_address_closes_the_socket(make_rig: MakeRig):
    rig = await make_rig(section(frames_per_minute=10))
    before = REGISTRY.get_sample_value(
        "handover_web_refused_total", {"adapter": "web", "reason": "frame_flood"}) or 0
    widget, _ = await rig.opened()
    for _ in range(20):
        if widget.ws.closed:
            break
        await widget.send(type="typing", on=True)
    assert await widget.closed() == CloseCode.RATE_LIMITED
    assert len(rig.ctx.typing) < 10
    after = REGISTRY.get_sample_value(
        "handover_web_refused_total", {"adapter": "web", "reason": "frame_flood"})
    assert after == before + 1


async def test_too_many_connections_from_one_address_get_429(make_rig: MakeRig):
    rig = await make_rig(section(connections_per_minute=3))
    for _ in range(3):
        await rig.connect()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await rig.connect()
    assert refused.value.status == 429


async def test_config_endpoint_allows_cross_origin_reads_only_for_the_tenants_origins(
    make_rig: MakeRig,
):
    rig = await make_rig(section(texts={"nl": {"title": "Chat met Voorbeeldstad"}},
                                 theme_class="voorbeeld-theme"))
    resp = await rig.client.get("/web/config/demo", headers={"Origin": ORIGIN})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    body = await resp.json()
    assert body["texts"]["nl"]["title"] == "Chat met Voorbeeldstad"
    assert body["texts"]["en"]["title"] == "Chat with the municipality"
    assert body["theme_class"] == "voorbeeld-theme"
    assert body["max_text_length"] == 2000
    evil = await rig.client.get("/web/config/demo", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers
    assert (await rig.client.get("/web/config/nope")).status == 404


async def test_widget_files_are_served_with_nosniff(make_rig: MakeRig):
    rig = await make_rig()
    for name, kind in [("widget.js", "text/javascript"), ("widget.css", "text/css")]:
        resp = await rig.client.get(f"/web/{name}")
        assert resp.status == 200
        assert resp.content_type == kind
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_config_problems_are_reported_with_their_path():
    from adapters.web.adapter import WebChannel
    from handover.sdk.contracts import ConfigIssues

    with pytest.raises(ConfigIssues) as bad:
        WebChannel.parse_config({
            "max_frame_bytes": 10,
            "colour": "red",
            "tenants": {
                "a": {"origins": ["https://ok.example", "https://x.example/", "ftp://y"],
                      "theme_class": "no spaces", "language": "fr",
                      "texts": {"nl": {"titel": "x"}}},
                "b": {},
            },
        }, "adapters.web")
    paths = {i.path for i in bad.value.issues}
    assert paths >= {
        "adapters.web.max_frame_bytes", "adapters.web.colour",
        "adapters.web.tenants.a.origins[1]", "adapters.web.tenants.a.origins[2]",
        "adapters.web.tenants.a.theme_class", "adapters.web.tenants.a.language",
        "adapters.web.tenants.a.texts.nl.titel", "adapters.web.tenants.b.origins",
    }


async def test_no_message_body_in_the_logs(
    make_rig: MakeRig, capsys: pytest.CaptureFixture[str]
):
    rig = await make_rig()
    widget, _ = await rig.opened(context={"url": "https://x.example/?email=a@b.nl"})
    await widget.send(type="message", message_id="m1", text="mijn nummer is 0612345678")
    await widget.recv_type("ack")
    out = capsys.readouterr()
    assert "web.conversation_created" in out.out + out.err  # the logs were captured
    assert "0612345678" not in out.out + out.err


async def test_a_store_failure_on_resume_closes_with_4503_and_leaves_no_socket_behind(
    make_rig: MakeRig,
):
    rig = await make_rig()
    _, welcome = await rig.opened()

    async def broken(conversation_id: str, after_seq: int = 0) -> list[object]:
        raise RuntimeError("database is locked")

    rig.ctx.transcript = broken  # type: ignore[method-assign]
    widget = await rig.connect()
    await widget.send(type="hello", tenant="demo", conversation_id=welcome["conversation_id"],
                      token=welcome["token"])
    assert await widget.closed() == CloseCode.UNAVAILABLE
    assert len(rig.channel.registry.sockets(welcome["conversation_id"])) == 1  # the first only


async def test_open_sockets_per_address_are_capped(make_rig: MakeRig):
    rig = await make_rig(section(sockets_per_address=2, connections_per_minute=100))
    first = await rig.connect()
    await rig.connect()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await rig.connect()
    assert refused.value.status == 429
    # A closed socket makes room again.
    await first.ws.close()
    for _ in range(100):
        if rig.channel.sockets._open_from.get("127.0.0.1", 0) < 2:
            break
        await asyncio.sleep(0.01)
    await rig.connect()
