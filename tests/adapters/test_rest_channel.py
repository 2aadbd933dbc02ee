"""The REST citizen channel: its HTTP API, token checks, bad input and long-polling."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.rest.adapter import RestChannel, RestOptions
from adapters.rest.opening import channel_key
from handover import events as ev
from handover.model import Button, Content, Party, State
from handover.sdk.contracts import ConfigIssues, ControlUpdate, IngestOutcome, OutboundMessage
from tests.adapters.conftest import TENANT, FakeContext

MakeCtx = Callable[..., FakeContext]
JSON = {"Content-Type": "application/json"}
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@dataclass
class Rest:
    """A REST channel mounted the way the daemon mounts it, at /web/."""

    adapter: RestChannel
    ctx: FakeContext
    client: TestClient[Any, Any]

    async def open(self, *, stored: bool = True, **body: Any) -> tuple[str, str]:
        """Open a conversation; with `stored`, also store it the way the first message
        would (the open itself stores nothing), so a test can add entries to it."""
        resp = await self.client.post("/web/conversations", json={"tenant": TENANT, **body})
        assert resp.status == 201, await resp.text()
        data = await resp.json()
        cid, token = data["conversation_id"], data["token"]
        if stored:
            await self.ctx.resolve_conversation(TENANT, channel_key(token), conversation_id=cid)
        return cid, token

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def say(self, cid: str, token: str, **body: Any) -> Any:
        return await self.client.post(f"/web/conversations/{cid}/messages", json=body, headers=self.auth(token))

    async def poll(self, cid: str, token: str, query: str = "") -> Any:
        return await self.client.get(f"/web/conversations/{cid}/messages{query}", headers=self.auth(token))


@pytest.fixture
def rest_factory(make_ctx: MakeCtx, aiohttp_client: ClientFactory) -> Callable[..., Awaitable[Rest]]:
    async def build(options: RestOptions | None = None) -> Rest:
        ctx = make_ctx("web")
        adapter = RestChannel("web", options or RestOptions(), ctx)
        app = web.Application()
        app.add_subapp("/web/", adapter.http_app())
        return Rest(adapter, ctx, await aiohttp_client(app))

    return build


@pytest.fixture
async def rest(rest_factory: Callable[..., Awaitable[Rest]]) -> Rest:
    return await rest_factory()


async def error_of(resp: Any, status: int) -> str:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert set(body) == {"error", "detail"} and body["detail"]
    return str(body["error"])


def outbound(seq: int) -> OutboundMessage:
    return OutboundMessage(seq=seq, message_id=f"out-{seq}", party=Party.BOT, content=Content("hoi"))


# --- configuration -------------------------------------------------------------------


def test_parse_config() -> None:
    assert RestChannel.parse_config({}, "adapters.web") == RestOptions(25.0, 4000)
    assert RestChannel.parse_config(
        {"long_poll_seconds": 10, "max_text_length": 500}, "adapters.web"
    ) == RestOptions(10.0, 500)
    with pytest.raises(ConfigIssues) as exc:
        RestChannel.parse_config(
            {"long_poll_seconds": 61, "max_text_length": "veel", "origin": "x"}, "adapters.web"
        )
    assert sorted(i.path for i in exc.value.issues) == [
        "adapters.web.long_poll_seconds", "adapters.web.max_text_length", "adapters.web.origin",
    ]


def test_declares_what_it_can_show() -> None:
    caps = RestChannel.capabilities
    assert (caps.max_buttons, caps.attachments, caps.state_display, caps.typing) == (10, True, True, False)
    assert RestChannel.resend_safe


# --- creating a conversation -------------------------------------------------------------


async def test_create_conversation_stores_only_the_token_hash(rest: Rest) -> None:
    context = {"url": "https://gemeente.example/afval", "title": "Afval", "referrer": "https://www.google.nl/"}
    cid, token = await rest.open(stored=False, language="en", context=context)
    # Nothing is stored until the first message.
    assert not rest.ctx.conversations
    assert (await rest.say(cid, token, message_id="1", text="hoi")).status == 202
    conv = rest.ctx.conversations[cid]
    assert len(token) >= 43
    assert conv.channel == "web" and conv.tenant == TENANT and conv.language == "en"
    assert conv.channel_key == hashlib.sha256(token.encode()).hexdigest()
    assert token not in conv.channel_key
    assert dict(conv.context) == context


async def test_the_page_address_reaches_the_core_without_its_query_string(rest: Rest) -> None:
    # One rule for every channel (web and socket.io cut it too).
    cid, token = await rest.open(stored=False, context={
        "url": "https://gemeente.example/zoeken?q=1234AB+12#resultaat",
        "referrer": "https://www.google.nl/search?q=mijn+naam", "title": "Zoeken?"})
    await rest.say(cid, token, message_id="1", text="hoi")
    assert dict(rest.ctx.conversations[cid].context) == {
        "url": "https://gemeente.example/zoeken", "referrer": "https://www.google.nl/search",
        "title": "Zoeken?"}


async def test_each_conversation_gets_its_own_token(rest: Rest) -> None:
    (c1, t1), (c2, t2) = await rest.open(), await rest.open()
    assert c1 != c2 and t1 != t2


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"tenant": "elders"}, 404, "unknown_tenant"),
        ({}, 400, "missing_field"),
        ({"tenant": 7}, 400, "invalid_field"),
        ({"tenant": ""}, 400, "invalid_field"),
        ({"tenant": TENANT, "lang": "nl"}, 400, "unknown_field"),
        ({"tenant": TENANT, "language": ["nl"]}, 400, "invalid_field"),
        ({"tenant": TENANT, "context": "https://x"}, 400, "invalid_field"),
        ({"tenant": TENANT, "context": {"url": "https://x", "cookie": "1"}}, 400, "unknown_field"),
        ({"tenant": TENANT, "context": {"title": 5}}, 400, "invalid_field"),
        ({"tenant": TENANT, "context": {"url": "x" * 3000}}, 400, "invalid_field"),
    ],
)
async def test_create_conversation_refuses_bad_input(rest: Rest, body: Any, status: int, error: str) -> None:
    resp = await rest.client.post("/web/conversations", json=body)
    assert await error_of(resp, status) == error
    assert not rest.ctx.conversations


@pytest.mark.parametrize(
    "raw", [b"", b"   ", b"{", b"[1, 2]", b'"tenant"', b"\xff\xfe{}", b"{'tenant': 'demo'}"]
)
async def test_malformed_json_is_400(rest: Rest, raw: bytes) -> None:
    resp = await rest.client.post("/web/conversations", data=raw, headers=JSON)
    assert await error_of(resp, 400) == "invalid_json"


async def test_body_over_64_kib_is_413(rest: Rest) -> None:
    big = b'{"tenant": "demo", "context": {"title": "' + b"a" * 70000 + b'"}}'
    resp = await rest.client.post("/web/conversations", data=big, headers=JSON)
    assert await error_of(resp, 413) == "body_too_large"

    async def chunks() -> Any:  # no Content-Length: the cap holds while streaming
        yield b'{"tenant": "demo", "context": {"title": "'
        for _ in range(20):
            yield b"a" * 4096
        yield b'"}}'

    resp = await rest.client.post("/web/conversations", data=chunks(), headers=JSON)
    assert await error_of(resp, 413) == "body_too_large"


async def test_store_failure_is_503_not_500(rest: Rest) -> None:
    cid, token = await rest.open()
    rest.ctx.ingest_error = RuntimeError("database is locked")
    resp = await rest.say(cid, token, message_id="1", text="hallo")
    assert await error_of(resp, 503) == "unavailable"
    assert resp.headers["Retry-After"] == "1"


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "messages", {"message_id": "1", "text": "hoi"}),
        ("POST", "actions", {"action": "leave", "action_id": "1"}),
        ("GET", "messages", None),
    ],
)
async def test_token_rules(rest: Rest, method: str, path: str, body: Any) -> None:
    cid, token = await rest.open()
    other_cid, other_token = await rest.open()
    url = f"/web/conversations/{cid}/{path}"

    async def call(headers: dict[str, str], target: str = url) -> Any:
        return await rest.client.request(method, target, json=body, headers=headers)

    # 401: no token, or not a bearer token.
    for headers in ({}, {"Authorization": token}, {"Authorization": f"Basic {token}"}, {"Authorization": "Bearer "}):
        resp = await call(headers)
        assert await error_of(resp, 401) == "unauthorized"
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    # 403: a token that does not open this conversation, whether it exists or not.
    assert await error_of(await call(rest.auth("wrong")), 403) == "forbidden"
    assert await error_of(await call(rest.auth(other_token)), 403) == "forbidden"
    unknown = f"/web/conversations/{'0' * 32}/{path}"
    assert await error_of(await call(rest.auth(token), unknown), 403) == "forbidden"
    assert await error_of(await call(rest.auth(token), f"/web/conversations/{'x' * 500}/{path}"), 403) == "forbidden"
    assert not rest.ctx.events
    # And the right token works.
    assert (await call(rest.auth(token))).status in (200, 202)
    assert (await call(rest.auth(other_token), f"/web/conversations/{other_cid}/{path}")).status in (200, 202)


async def test_a_conversation_of_another_channel_is_refused(rest: Rest) -> None:
    token = "t" * 43
    foreign = rest.ctx.add_conversation(channel="whatsapp", channel_key=hashlib.sha256(token.encode()).hexdigest())
    resp = await rest.poll(foreign.id, token)
    assert await error_of(resp, 403) == "forbidden"


# --- citizen messages and actions -----------------------------------------------------------


async def test_message_is_ingested_with_a_conversation_scoped_dedup_key(rest: Rest) -> None:
    cid, token = await rest.open()
    resp = await rest.say(cid, token, message_id="c-1", text="Wanneer komt de vuilniswagen?")
    assert resp.status == 202 and await resp.json() == {"outcome": "applied"}
    (event,) = rest.ctx.events_of(ev.CitizenMessage)
    assert event.conversation_id == cid and event.source == "web"
    assert event.source_id == f"m:{cid}:c-1"
    assert event.content == Content(text="Wanneer komt de vuilniswagen?") and event.payload is None


async def test_a_retried_message_is_a_duplicate(rest: Rest) -> None:
    cid, token = await rest.open()
    await rest.say(cid, token, message_id="c-1", text="hallo")
    resp = await rest.say(cid, token, message_id="c-1", text="hallo")
    assert resp.status == 202 and await resp.json() == {"outcome": "duplicate"}
    assert len(rest.ctx.events) == 1


async def test_the_same_client_id_in_two_conversations_is_two_messages(rest: Rest) -> None:
    (c1, t1), (c2, t2) = await rest.open(), await rest.open()
    await rest.say(c1, t1, message_id="1", text="a")
    await rest.say(c2, t2, message_id="1", text="b")
    assert len(rest.ctx.events) == 2


async def test_a_button_payload_can_come_alone(rest: Rest) -> None:
    cid, token = await rest.open()
    resp = await rest.say(cid, token, message_id="b-1", payload="/handover")
    assert resp.status == 202
    (event,) = rest.ctx.events
    assert isinstance(event, ev.CitizenMessage) and event.payload == "/handover" and event.content.text == ""


async def test_refused_and_stale_outcomes_are_passed_on(rest: Rest) -> None:
    cid, token = await rest.open()
    rest.ctx.outcome = IngestOutcome.REFUSED
    resp = await rest.say(cid, token, message_id="1", text="hoi")
    assert resp.status == 202 and await resp.json() == {"outcome": "refused"}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"text": "hoi"}, 400, "missing_field"),
        ({"message_id": "", "text": "hoi"}, 400, "invalid_field"),
        ({"message_id": "x" * 101, "text": "hoi"}, 400, "invalid_field"),
        ({"message_id": " 1", "text": "hoi"}, 400, "invalid_field"),
        ({"message_id": "a\nb", "text": "hoi"}, 400, "invalid_field"),
        ({"message_id": 1, "text": "hoi"}, 400, "invalid_field"),
        ({"message_id": "1"}, 400, "empty_message"),
        ({"message_id": "1", "text": "   "}, 400, "empty_message"),
        ({"message_id": "1", "text": 5}, 400, "invalid_field"),
        ({"message_id": "1", "text": "hoi", "sender": "me"}, 400, "unknown_field"),
        ({"message_id": "1", "payload": "x" * 1001}, 400, "invalid_field"),
        ({"message_id": "1", "text": "x" * 4001}, 413, "text_too_long"),
    ],
)
async def test_message_refuses_bad_input(rest: Rest, body: Any, status: int, error: str) -> None:
    cid, token = await rest.open()
    assert await error_of(await rest.say(cid, token, **body), status) == error
    assert not rest.ctx.events


async def test_max_text_length_is_configurable(rest_factory: Callable[..., Awaitable[Rest]]) -> None:
    rest = await rest_factory(RestOptions(max_text_length=10))
    cid, token = await rest.open()
    assert (await rest.say(cid, token, message_id="1", text="x" * 10)).status == 202
    assert await error_of(await rest.say(cid, token, message_id="2", text="x" * 11), 413) == "text_too_long"


async def test_actions(rest: Rest) -> None:
    cid, token = await rest.open()
    url = f"/web/conversations/{cid}/actions"
    resp = await rest.client.post(url, json={"action": "request_agent", "action_id": "a1"}, headers=rest.auth(token))
    assert resp.status == 202 and await resp.json() == {"outcome": "applied"}
    resp = await rest.client.post(url, json={"action": "leave", "action_id": "a2"}, headers=rest.auth(token))
    assert resp.status == 202
    first, second = rest.ctx.events
    assert isinstance(first, ev.CitizenRequestsAgent) and first.source_id == f"a:{cid}:a1"
    assert isinstance(second, ev.CitizenLeft) and second.source_id == f"a:{cid}:a2"
    resp = await rest.client.post(url, json={"action": "leave", "action_id": "a2"}, headers=rest.auth(token))
    assert await resp.json() == {"outcome": "duplicate"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"action": "dance", "action_id": "1"}, "invalid_field"),
        ({"action": "leave"}, "missing_field"),
        ({"action_id": "1"}, "missing_field"),
        ({"action": "leave", "action_id": "1", "reason": "bye"}, "unknown_field"),
    ],
)
async def test_actions_refuse_bad_input(rest: Rest, body: Any, error: str) -> None:
    cid, token = await rest.open()
    resp = await rest.client.post(f"/web/conversations/{cid}/actions", json=body, headers=rest.auth(token))
    assert await error_of(resp, 400) == error


# --- reading messages -----------------------------------------------------------------------


async def test_messages_after_a_seq_with_state(rest: Rest) -> None:
    cid, token = await rest.open()
    await rest.say(cid, token, message_id="c-1", text="Ik wil een medewerker")
    rest.ctx.add_entry(cid, Party.BOT, "", content=Content("Kies", (Button("Ja", "/yes"),)))
    rest.ctx.add_entry(cid, Party.AGENT, "Goedemiddag", sender_name="Sanne")
    rest.ctx.set_state(cid, State.AGENT, "Sanne")

    body = await (await rest.poll(cid, token)).json()
    assert [m["seq"] for m in body["messages"]] == [1, 2, 3]
    mine, bot, agent = body["messages"]
    # The citizen's own message carries the id the client gave it.
    assert mine["message_id"] == "c-1" and mine["party"] == "citizen"
    assert mine["content"] == {"text": "Ik wil een medewerker"}
    assert bot["content"] == {"text": "Kies", "buttons": [{"title": "Ja", "payload": "/yes"}]}
    assert agent["sender_name"] == "Sanne" and agent["created_at"]
    assert (body["state"], body["agent_name"], body["last_seq"]) == ("agent", "Sanne", 3)

    body = await (await rest.poll(cid, token, "?after=2")).json()
    assert [m["seq"] for m in body["messages"]] == [3]
    body = await (await rest.poll(cid, token, "?after=3")).json()
    assert body["messages"] == [] and body["last_seq"] == 3


@pytest.mark.parametrize("query", ["?after=-1", "?after=x", "?after=1.5", "?wait=-2", "?wait=nan", "?wait=inf", "?wait=soon"])
async def test_bad_query_is_400(rest: Rest, query: str) -> None:
    cid, token = await rest.open()
    assert await error_of(await rest.poll(cid, token, query), 400) == "invalid_query"


async def test_long_poll_returns_at_once_when_there_is_something_new(rest: Rest) -> None:
    cid, token = await rest.open()
    rest.ctx.add_entry(cid, Party.BOT, "hoi")
    started = time.monotonic()
    body = await (await rest.poll(cid, token, "?after=0&wait=20")).json()
    assert len(body["messages"]) == 1 and time.monotonic() - started < 1


async def test_long_poll_wakes_on_deliver(rest: Rest) -> None:
    cid, token = await rest.open()
    rest.ctx.add_entry(cid, Party.BOT, "eerste")
    poll = asyncio.create_task(rest.poll(cid, token, "?after=1&wait=20"))
    await asyncio.sleep(0.1)
    assert not poll.done() and rest.adapter.wakeups.watched() == 1
    entry = rest.ctx.add_entry(cid, Party.BOT, "tweede")
    started = time.monotonic()
    await rest.adapter.deliver(rest.ctx.conversations[cid], outbound(entry.seq))
    body = await (await asyncio.wait_for(poll, 2)).json()
    assert time.monotonic() - started < 1
    assert [m["content"]["text"] for m in body["messages"]] == ["tweede"]
    assert rest.adapter.wakeups.watched() == 0


async def test_long_poll_wakes_on_control_change(rest: Rest) -> None:
    cid, token = await rest.open()
    poll = asyncio.create_task(rest.poll(cid, token, "?wait=20"))
    await asyncio.sleep(0.1)
    rest.ctx.set_state(cid, State.QUEUED)
    conv = rest.ctx.conversations[cid]
    await rest.adapter.control_changed(conv, ControlUpdate(state=State.QUEUED, queue_position=2))
    body = await (await asyncio.wait_for(poll, 2)).json()
    assert body["messages"] == [] and body["state"] == "queued"


async def test_long_poll_times_out_empty(rest: Rest) -> None:
    cid, token = await rest.open()
    started = time.monotonic()
    resp = await rest.poll(cid, token, "?wait=0.3")
    elapsed = time.monotonic() - started
    assert resp.status == 200 and (await resp.json())["messages"] == []
    assert 0.25 <= elapsed < 2
    # Nothing is kept for a conversation nobody waits on.
    assert rest.adapter.wakeups.watched() == 0


async def test_wait_is_capped_by_long_poll_seconds(rest_factory: Callable[..., Awaitable[Rest]]) -> None:
    rest = await rest_factory(RestOptions(long_poll_seconds=0.2))
    cid, token = await rest.open()
    started = time.monotonic()
    await rest.poll(cid, token, "?wait=60")
    assert time.monotonic() - started < 1.5


async def test_several_pollers_all_wake(rest: Rest) -> None:
    cid, token = await rest.open()
    polls = [asyncio.create_task(rest.poll(cid, token, "?wait=20")) for _ in range(3)]
    await asyncio.sleep(0.1)
    entry = rest.ctx.add_entry(cid, Party.SYSTEM, "U staat in de wachtrij")
    await rest.adapter.deliver(rest.ctx.conversations[cid], outbound(entry.seq))
    for poll in polls:
        assert len((await (await asyncio.wait_for(poll, 2)).json())["messages"]) == 1


async def test_deliver_never_fails_and_redelivery_is_harmless(rest: Rest) -> None:
    cid, _ = await rest.open()
    conv = rest.ctx.conversations[cid]
    for _ in range(2):
        await rest.adapter.deliver(conv, outbound(1))
    assert rest.adapter.wakeups.watched() == 0


async def test_stop_releases_waiting_pollers(rest: Rest) -> None:
    cid, token = await rest.open()
    poll = asyncio.create_task(rest.poll(cid, token, "?wait=20"))
    await asyncio.sleep(0.1)
    await rest.adapter.stop()
    assert (await asyncio.wait_for(poll, 2)).status == 200


async def test_unknown_routes_and_methods_answer_json(rest: Rest) -> None:
    assert await error_of(await rest.client.get("/web/nothing"), 404) == "not_found"
    resp = await rest.client.delete("/web/conversations")
    assert await error_of(resp, 405) == "method_not_allowed"
    assert "POST" in resp.headers["Allow"]


# --- abuse: content type, creation limits, message budget, storage guard -----------------


@pytest.fixture
async def limited(make_ctx: MakeCtx, aiohttp_client: ClientFactory) -> Rest:
    from handover.sdk.clock import FakeClock

    ctx = make_ctx("web", clock=FakeClock())
    options = RestOptions(conversations_per_minute=3, tenant_conversations_per_minute=5,
                          messages_per_minute=4)
    adapter = RestChannel("web", options, ctx)
    app = web.Application()
    app.add_subapp("/web/", adapter.http_app())
    return Rest(adapter, ctx, await aiohttp_client(app))


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
async def test_every_json_endpoint_requires_application_json(rest: Rest, content_type: str | None) -> None:
    # A page on another site can post text/plain without a CORS preflight: refused.
    cid, token = await rest.open(stored=False)
    headers = {"Content-Type": content_type} if content_type else {}
    for path, body, auth in (
        ("/web/conversations", b'{"tenant": "demo"}', {}),
        (f"/web/conversations/{cid}/messages", b'{"message_id": "1", "text": "hoi"}', rest.auth(token)),
        (f"/web/conversations/{cid}/actions", b'{"action": "leave", "action_id": "1"}', rest.auth(token)),
    ):
        resp = await rest.client.post(path, data=body, headers={**headers, **auth})
        assert await error_of(resp, 415) == "unsupported_media_type"
    assert not rest.ctx.conversations
    ok = await rest.client.post("/web/conversations", data=b'{"tenant": "demo"}',
                                headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status == 201


async def test_opening_is_limited_per_address_with_retry_after(limited: Rest) -> None:
    for _ in range(3):
        await limited.open(stored=False)
    resp = await limited.client.post("/web/conversations", json={"tenant": TENANT})
    assert await error_of(resp, 429) == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 20
    assert not limited.ctx.conversations  # opening stores nothing anyway
    limited.ctx.clock.advance(20)  # type: ignore[attr-defined]
    await limited.open(stored=False)


async def test_storing_is_limited_per_tenant_and_minted_tokens_count_per_address(
    limited: Rest,
) -> None:
    from adapters.rest.opening import mint

    # Tokens made by the client itself (no open): each first message is an open too.
    for n in range(3):
        cid, token = mint(TENANT, None)
        assert (await limited.say(cid, token, message_id="1", text="hoi")).status == 202, n
    cid, token = mint(TENANT, None)
    resp = await limited.say(cid, token, message_id="1", text="hoi")
    assert await error_of(resp, 429) == "rate_limited"
    assert len(limited.ctx.conversations) == 3
    # Opened properly: only the tenant's limit (5 a minute) applies at the first message.
    limited.ctx.clock.advance(60)  # type: ignore[attr-defined]
    opened = [await limited.open(stored=False) for _ in range(3)]
    limited.ctx.clock.advance(60)  # type: ignore[attr-defined]
    opened += [await limited.open(stored=False) for _ in range(3)]
    statuses = [(await limited.say(c, t, message_id="1", text="hoi")).status for c, t in opened]
    assert statuses == [202] * 5 + [429]


async def test_a_token_for_another_id_or_tenant_opens_nothing(rest: Rest) -> None:
    from adapters.rest.opening import mint

    _, token = await rest.open(stored=False)
    other, _ = await rest.open(stored=False)
    assert await error_of(await rest.say(other, token, message_id="1", text="x"), 403) == "forbidden"
    foreign_id, foreign = mint("elders", None)  # a tenant that does not use this channel
    assert await error_of(await rest.say(foreign_id, foreign, message_id="1", text="x"), 403) == "forbidden"
    assert not rest.ctx.conversations


async def test_a_poll_before_the_first_message_answers_empty(rest: Rest) -> None:
    cid, token = await rest.open(stored=False)
    body = await (await rest.poll(cid, token, "?after=0")).json()
    assert body == {"messages": [], "state": "bot", "agent_name": None, "last_seq": 0}
    assert not rest.ctx.conversations


async def test_messages_are_budgeted_per_conversation(limited: Rest) -> None:
    cid, token = await limited.open()
    for n in range(4):
        assert (await limited.say(cid, token, message_id=str(n), text="hoi")).status == 202
    resp = await limited.say(cid, token, message_id="5", text="hoi")
    assert await error_of(resp, 429) == "rate_limited"
    assert int(resp.headers["Retry-After"]) >= 1
    action = await limited.client.post(f"/web/conversations/{cid}/actions", headers=limited.auth(token),
                                       json={"action": "leave", "action_id": "a"})
    assert await error_of(action, 429) == "rate_limited"
    assert len(limited.ctx.events) == 4
    limited.ctx.clock.advance(15)  # type: ignore[attr-defined]
    assert (await limited.say(cid, token, message_id="5", text="hoi")).status == 202


async def test_storage_guard_refuses_new_conversations_but_not_existing_ones(rest: Rest) -> None:
    old, old_token = await rest.open()
    new, new_token = await rest.open(stored=False)
    rest.ctx.storage_full = True
    resp = await rest.say(new, new_token, message_id="1", text="hoi")
    assert await error_of(resp, 503) == "storage_full"
    assert resp.headers["Retry-After"] == "60"
    assert new not in rest.ctx.conversations
    assert (await rest.say(old, old_token, message_id="1", text="hoi")).status == 202
