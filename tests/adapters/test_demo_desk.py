"""The demo desk: the desk contract, the agent's HTTP API, and its journal."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from adapters.demo_desk.adapter import DemoDesk, DemoDeskOptions
from handover import events as ev
from handover.model import (
    Attachment,
    Content,
    Conversation,
    HandoverSignal,
    Party,
    State,
    TranscriptEntry,
    thread_id,
)
from handover.sdk.contracts import (
    Availability,
    ConfigIssues,
    DeskReceipt,
    DeskThread,
    IngestOutcome,
    OutboundMessage,
)
from tests.adapters.conftest import TENANT, FakeContext

MakeCtx = Callable[..., FakeContext]
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@dataclass
class Desk:
    """A demo desk mounted the way the daemon mounts it, at /desk/."""

    adapter: DemoDesk
    ctx: FakeContext
    client: TestClient[Any, Any]

    def handover(self, *, state: State = State.QUEUED) -> tuple[Conversation, str]:
        conv = self.ctx.add_conversation(channel="web", state=state, handover_no=1)
        return conv, thread_id(conv.id, 1)

    async def open(self, conv: Conversation, thread: str, **extra: Any) -> None:
        entries = (
            TranscriptEntry(conv.id, 1, Party.CITIZEN, Content("Mijn container is niet geleegd"), "m1"),
            TranscriptEntry(conv.id, 2, Party.BOT, Content("Ik verbind u door."), "b1"),
        )
        await self.adapter.open_thread(conv, DeskThread(
            thread_id=thread, tenant=conv.tenant, channel=conv.channel, language="nl",
            signal=HandoverSignal(topic="waste"), context={"url": "https://gemeente.example/afval"},
            transcript=entries, **extra,
        ))

    async def post(self, thread: str, action: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return await self.client.post(f"/desk/threads/{thread}/{action}", json=body, headers=headers)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return await self.client.get(f"/desk{path}", headers=headers)


@pytest.fixture
def desk_factory(make_ctx: MakeCtx, aiohttp_client: ClientFactory) -> Callable[..., Awaitable[Desk]]:
    async def build(options: DemoDeskOptions | None = None, ctx: FakeContext | None = None) -> Desk:
        ctx = ctx or make_ctx("desk")
        adapter = DemoDesk("desk", options or DemoDeskOptions(), ctx)
        await adapter.start()
        app = web.Application()
        app.add_subapp("/desk/", adapter.http_app())
        return Desk(adapter, ctx, await aiohttp_client(app))

    return build


@pytest.fixture
async def desk(desk_factory: Callable[..., Awaitable[Desk]]) -> Desk:
    return await desk_factory()


async def error_of(resp: Any, status: int) -> str:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert set(body) == {"error", "detail"} and body["detail"]
    return str(body["error"])


def citizen_message(seq: int, text: str = "Hij staat nog vol", message_id: str | None = None) -> OutboundMessage:
    return OutboundMessage(seq=seq, message_id=message_id or f"m{seq}", party=Party.CITIZEN, content=Content(text))


# --- configuration and availability ----------------------------------------------------------


def test_parse_config(tmp_path: Path) -> None:
    assert DemoDesk.parse_config({}, "adapters.desk") == DemoDeskOptions()
    options = DemoDesk.parse_config(
        {"available": False, "queue_length": 3, "estimated_wait_seconds": 120,
         "state_path": str(tmp_path / "desk.jsonl"), "token": "geheim"},
        "adapters.desk",
    )
    assert options == DemoDeskOptions(False, 3, 120, tmp_path / "desk.jsonl", ("geheim",))
    # A list of two tokens during a rotation; null means absent.
    rotated = DemoDesk.parse_config({"token": ["oud", "nieuw"], "queue_length": None}, "d")
    assert rotated == DemoDeskOptions(tokens=("oud", "nieuw"))


def test_parse_config_reports_every_problem() -> None:
    with pytest.raises(ConfigIssues) as exc:
        DemoDesk.parse_config(
            {"available": "yes", "queue_length": -1, "estimated_wait_seconds": 1.5,
             "state_path": "", "token": [""], "colour": "red"},
            "adapters.desk",
        )
    assert sorted(i.path for i in exc.value.issues) == [
        "adapters.desk.available", "adapters.desk.colour", "adapters.desk.estimated_wait_seconds",
        "adapters.desk.queue_length", "adapters.desk.state_path", "adapters.desk.token[0]",
    ]


async def test_availability_comes_from_the_options(desk_factory: Callable[..., Awaitable[Desk]]) -> None:
    desk = await desk_factory(DemoDeskOptions(available=False, queue_length=4, estimated_wait_seconds=300))
    assert await desk.adapter.availability(TENANT, None) == Availability(False, 4, 300)
    default = await desk_factory()
    assert await default.adapter.availability(TENANT, "kcc") == Availability(True)


# --- the daemon's side -------------------------------------------------------------------------


async def test_open_thread_is_recorded_once_and_shown(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    await desk.open(conv, thread)  # a re-sent open changes nothing
    body = await (await desk.get(f"/threads/{thread}")).json()
    assert body["thread_id"] == thread and body["conversation_id"] == conv.id
    assert (body["tenant"], body["channel"], body["language"], body["status"]) == (TENANT, "web", "nl", "queued")
    assert body["signal"]["topic"] == "waste"
    assert body["context"] == {"url": "https://gemeente.example/afval"}
    assert [e["content"]["text"] for e in body["transcript"]] == ["Mijn container is niet geleegd", "Ik verbind u door."]
    assert [(e["index"], e["type"]) for e in body["events"]] == [(1, "opened")]


async def test_threads_are_listed_newest_first(desk: Desk) -> None:
    threads = []
    for _ in range(3):
        conv, thread = desk.handover()
        await desk.open(conv, thread)
        threads.append(thread)
    body = await (await desk.get("/threads")).json()
    assert [t["thread_id"] for t in body] == threads[::-1]
    assert all("transcript" in t and "context" in t for t in body)


async def test_send_note_and_close_are_recorded_and_deduplicated(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    assert await desk.adapter.send(conv, thread, citizen_message(3)) == DeskReceipt(desk_message_id=None)
    await desk.adapter.send(conv, thread, citizen_message(3))  # re-sent after a crash
    await desk.adapter.note(conv, thread, "De inwoner heeft het gesprek verlaten.")
    await desk.adapter.close_thread(conv, thread, "citizen_left")
    await desk.adapter.close_thread(conv, thread, "citizen_left")
    body = await (await desk.get(f"/threads/{thread}")).json()
    assert [(e["index"], e["type"]) for e in body["events"]] == [
        (1, "opened"), (2, "message"), (3, "note"), (4, "closed"),
    ]
    message = body["events"][1]
    assert (message["message_id"], message["seq"], message["party"]) == ("m3", 3, "citizen")
    assert message["content"] == {"text": "Hij staat nog vol"}
    assert body["events"][3]["reason"] == "citizen_left"
    assert body["status"] == "closed"


async def test_send_to_a_thread_the_desk_never_saw_creates_it(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.adapter.send(conv, thread, citizen_message(5))
    body = await (await desk.get(f"/threads/{thread}")).json()
    assert body["conversation_id"] == conv.id and body["transcript"] == [] and body["signal"] is None
    assert [e["type"] for e in body["events"]] == ["message"]


async def test_unknown_thread_is_404(desk: Desk) -> None:
    assert await error_of(await desk.get("/threads/nope-1"), 404) == "unknown_thread"
    assert await error_of(await desk.get("/threads/nope-1/events"), 404) == "unknown_thread"


# --- the events long-poll ------------------------------------------------------------------------


async def test_events_after_n(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    await desk.adapter.send(conv, thread, citizen_message(3))
    body = await (await desk.get(f"/threads/{thread}/events")).json()
    assert [e["index"] for e in body["events"]] == [1, 2] and body["last_index"] == 2
    body = await (await desk.get(f"/threads/{thread}/events?after=1")).json()
    assert [e["type"] for e in body["events"]] == ["message"]
    assert (body["thread_id"], body["status"], body["agent_name"]) == (thread, "queued", None)


async def test_events_long_poll_wakes_on_what_the_desk_receives(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    poll = asyncio.create_task(desk.get(f"/threads/{thread}/events?after=1&wait=20"))
    await asyncio.sleep(0.1)
    assert not poll.done()
    started = time.monotonic()
    await desk.adapter.send(conv, thread, citizen_message(3, "Hallo?"))
    body = await (await asyncio.wait_for(poll, 2)).json()
    assert time.monotonic() - started < 1
    assert [e["content"]["text"] for e in body["events"]] == ["Hallo?"]
    assert desk.adapter.state.wakeups.watched() == 0


async def test_events_long_poll_times_out(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    started = time.monotonic()
    body = await (await desk.get(f"/threads/{thread}/events?after=1&wait=0.3")).json()
    assert body["events"] == [] and body["last_index"] == 1
    assert 0.25 <= time.monotonic() - started < 2


@pytest.mark.parametrize("query", ["?after=-1", "?after=a", "?wait=-1", "?wait=nan"])
async def test_events_bad_query_is_400(desk: Desk, query: str) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    assert await error_of(await desk.get(f"/threads/{thread}/events{query}"), 400) == "invalid_query"


async def test_stop_releases_waiting_pollers(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    poll = asyncio.create_task(desk.get(f"/threads/{thread}/events?after=1&wait=20"))
    await asyncio.sleep(0.1)
    await desk.adapter.stop()
    assert (await asyncio.wait_for(poll, 2)).status == 200


# --- the agent's side ----------------------------------------------------------------------------


async def test_join_message_typing_close(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)

    resp = await desk.post(thread, "join", {"agent_name": "Sanne"})
    assert resp.status == 202 and await resp.json() == {"outcome": "applied"}
    resp = await desk.post(thread, "messages", {
        "text": "Goedemiddag, ik kijk even mee.", "message_id": "a-1",
        "attachments": [{"url": "https://gemeente.example/afvalkalender.pdf", "name": "Afvalkalender", "mime_type": "application/pdf"}],
    })
    assert resp.status == 202
    resp = await desk.post(thread, "typing", {"on": True})
    assert resp.status == 202 and await resp.json() == {"outcome": "relayed"}
    resp = await desk.post(thread, "close", {"outcome": "solved"})
    assert resp.status == 202

    joined, message, closed = desk.ctx.events
    assert isinstance(joined, ev.AgentJoined)
    assert (joined.conversation_id, joined.source, joined.thread, joined.agent_name) == (conv.id, "desk", thread, "Sanne")
    assert joined.source_id.startswith(f"join:{thread}:")
    assert isinstance(message, ev.AgentMessage)
    assert message.source_id == "msg:a-1" and message.agent_name == "Sanne"
    assert message.content == Content(
        "Goedemiddag, ik kijk even mee.",
        attachments=(Attachment("https://gemeente.example/afvalkalender.pdf", "Afvalkalender", "application/pdf"),),
    )
    assert isinstance(closed, ev.AgentClosed)
    assert (closed.source_id, closed.outcome) == (f"close:{thread}", "solved")
    assert desk.ctx.typing == [(conv.id, Party.AGENT, True)]

    body = await (await desk.get(f"/threads/{thread}")).json()
    assert (body["status"], body["agent_name"]) == ("closed", "Sanne")
    # What the agent did is not something the desk received.
    assert [e["type"] for e in body["events"]] == ["opened"]


async def test_joining_twice_is_two_events_and_retried_messages_and_closes_dedup(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    await desk.post(thread, "join", {"agent_name": "Sanne"})
    await desk.post(thread, "join", {"agent_name": "Sanne"})
    assert len(desk.ctx.events_of(ev.AgentJoined)) == 2
    await desk.post(thread, "messages", {"text": "Hallo", "message_id": "a-1"})
    resp = await desk.post(thread, "messages", {"text": "Hallo", "message_id": "a-1"})
    assert await resp.json() == {"outcome": "duplicate"}
    await desk.post(thread, "close", {})
    resp = await desk.post(thread, "close", {})
    assert await resp.json() == {"outcome": "duplicate"}
    assert desk.ctx.events_of(ev.AgentClosed)[0].outcome == "resolved"


async def test_a_message_without_id_gets_a_random_one(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    await desk.post(thread, "messages", {"text": "Eén"})
    await desk.post(thread, "messages", {"text": "Eén"})
    first, second = desk.ctx.events_of(ev.AgentMessage)
    assert first.source_id.startswith("msg:") and first.source_id != second.source_id


async def test_answering_a_queued_thread_takes_it(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    await desk.post(thread, "messages", {"text": "Ik help u verder"})
    assert (await (await desk.get(f"/threads/{thread}")).json())["status"] == "active"


async def test_a_stale_action_does_not_change_the_thread(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    desk.ctx.outcome = IngestOutcome.STALE
    resp = await desk.post(thread, "join", {"agent_name": "Sanne"})
    assert resp.status == 202 and await resp.json() == {"outcome": "stale"}
    body = await (await desk.get(f"/threads/{thread}")).json()
    assert (body["status"], body["agent_name"]) == ("queued", None)


async def test_acting_on_a_thread_the_desk_forgot(desk: Desk) -> None:
    # The daemon restarted and the desk kept no journal: the conversation still exists.
    conv, thread = desk.handover(state=State.AGENT)
    resp = await desk.post(thread, "join", {"agent_name": "Sanne"})
    assert resp.status == 202
    body = await (await desk.get(f"/threads/{thread}")).json()
    assert (body["conversation_id"], body["status"], body["agent_name"]) == (conv.id, "active", "Sanne")


async def test_actions_on_unknown_threads_are_404(desk: Desk, make_ctx: MakeCtx) -> None:
    other_tenant = desk.ctx.add_conversation(tenant="elders", handover_no=1)
    for thread in ("no-dash", "abc-x", f"{'0' * 32}-1", thread_id(other_tenant.id, 1), "x" * 200 + "-1"):
        for action, body in (("join", {"agent_name": "S"}), ("messages", {"text": "x"}), ("typing", {"on": True}), ("close", {})):
            assert await error_of(await desk.post(thread, action, body), 404) == "unknown_thread", (thread, action)
    assert not desk.ctx.events and not desk.ctx.typing


@pytest.mark.parametrize(
    ("action", "body", "error"),
    [
        ("join", {}, "missing_field"),
        ("join", {"agent_name": ""}, "invalid_field"),
        ("join", {"agent_name": "S", "team": "kcc"}, "unknown_field"),
        ("messages", {}, "empty_message"),
        ("messages", {"text": "  "}, "empty_message"),
        ("messages", {"text": 3}, "invalid_field"),
        ("messages", {"text": "x", "message_id": ""}, "invalid_field"),
        ("messages", {"text": "x", "message_id": "a b\n"}, "invalid_field"),
        ("messages", {"text": "x", "sender": "S"}, "unknown_field"),
        ("messages", {"text": "x", "attachments": "https://x"}, "invalid_field"),
        ("messages", {"text": "x", "attachments": [{"url": "javascript:alert(1)"}]}, "invalid_field"),
        ("messages", {"text": "x", "attachments": [{"url": "https://x", "size": 3}]}, "unknown_field"),
        ("messages", {"text": "x", "attachments": [{"name": "a"}]}, "missing_field"),
        ("messages", {"text": "x", "attachments": ["https://x"]}, "invalid_field"),
        ("messages", {"attachments": [{"url": "https://x"}] * 11}, "invalid_field"),
        ("typing", {}, "invalid_field"),
        ("typing", {"on": "yes"}, "invalid_field"),
        ("typing", {"on": True, "who": "S"}, "unknown_field"),
        ("close", {"outcome": 1}, "invalid_field"),
        ("close", {"reason": "x"}, "unknown_field"),
    ],
)
async def test_agent_actions_refuse_bad_input(desk: Desk, action: str, body: Any, error: str) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    assert await error_of(await desk.post(thread, action, body), 400) == error
    assert not desk.ctx.events


async def test_attachments_alone_are_a_message(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    resp = await desk.post(thread, "messages", {"attachments": [{"url": "https://x.example/a.pdf"}]})
    assert resp.status == 202
    (message,) = desk.ctx.events_of(ev.AgentMessage)
    assert message.content.attachments == (Attachment("https://x.example/a.pdf", "", "application/octet-stream"),)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b"\xff"])
async def test_malformed_json_is_400(desk: Desk, raw: bytes) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    resp = await desk.client.post(f"/desk/threads/{thread}/join", data=raw,
                                  headers={"Content-Type": "application/json"})
    assert await error_of(resp, 400) == "invalid_json"


async def test_body_over_64_kib_is_413(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    resp = await desk.post(thread, "messages", {"text": "x" * 70000})
    assert await error_of(resp, 413) == "body_too_large"


async def test_store_failure_is_503(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    desk.ctx.ingest_error = RuntimeError("disk full")
    assert await error_of(await desk.post(thread, "close", {}), 503) == "unavailable"


async def test_erased_conversation_is_404(desk: Desk) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    del desk.ctx.conversations[conv.id]
    assert await error_of(await desk.post(thread, "close", {}), 404) == "unknown_conversation"


# --- token -----------------------------------------------------------------------------------


async def test_token_protects_every_route(desk_factory: Callable[..., Awaitable[Desk]]) -> None:
    desk = await desk_factory(DemoDeskOptions(tokens=("oud", "nieuw")))
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    for headers in (None, {"Authorization": "oud"}, {"Authorization": "Basic oud"}):
        resp = await desk.get("/threads", headers)
        assert await error_of(resp, 401) == "unauthorized"
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert await error_of(await desk.get("/threads", {"Authorization": "Bearer fout"}), 403) == "forbidden"
    resp = await desk.post(thread, "join", {"agent_name": "S"}, {"Authorization": "Bearer fout"})
    assert await error_of(resp, 403) == "forbidden"
    assert not desk.ctx.events
    # Both tokens of a rotation work.
    assert (await desk.get("/threads", {"Authorization": "Bearer oud"})).status == 200
    resp = await desk.post(thread, "join", {"agent_name": "S"}, {"Authorization": "Bearer nieuw"})
    assert resp.status == 202


# --- the journal -----------------------------------------------------------------------------


async def test_a_restarted_desk_knows_its_threads(desk_factory: Callable[..., Awaitable[Desk]], tmp_path: Path) -> None:
    options = DemoDeskOptions(state_path=tmp_path / "state" / "desk.jsonl")
    desk = await desk_factory(options)
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    await desk.adapter.send(conv, thread, citizen_message(3))
    await desk.adapter.note(conv, thread, "Notitie")
    await desk.post(thread, "join", {"agent_name": "Sanne"})
    before = await (await desk.get("/threads")).json()

    again = await desk_factory(options, desk.ctx)
    assert await (await again.get("/threads")).json() == before
    # What it had seen before the restart is still deduplicated.
    await again.adapter.send(conv, thread, citizen_message(3))
    await again.adapter.send(conv, thread, citizen_message(4))
    body = await (await again.get(f"/threads/{thread}")).json()
    assert [e["type"] for e in body["events"]] == ["opened", "message", "note", "message"]
    assert (body["status"], body["agent_name"]) == ("active", "Sanne")


async def test_a_torn_last_line_is_skipped_and_later_records_survive(
    desk_factory: Callable[..., Awaitable[Desk]], tmp_path: Path
) -> None:
    path = tmp_path / "desk.jsonl"
    options = DemoDeskOptions(state_path=path)
    desk = await desk_factory(options)
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    with path.open("a") as f:
        f.write('{"op": "received", "thread_id": "')  # the daemon died mid-write

    with capture_logs() as logs:
        again = await desk_factory(options, desk.ctx)
    assert {"event": "demo_desk.state_lines_skipped", "skipped": 1, "log_level": "warning"} in logs
    await again.adapter.send(conv, thread, citizen_message(3))
    third = await desk_factory(options, desk.ctx)
    body = await (await third.get(f"/threads/{thread}")).json()
    assert [e["type"] for e in body["events"]] == ["opened", "message"]
    # The torn line stays alone on its line; every other line is a whole record.
    torn, *whole = [line for line in path.read_text().splitlines() if not line.startswith('{"op":"thread"')]
    assert torn.startswith('{"op": "received"') and all(json.loads(line) for line in whole)


async def test_without_state_path_nothing_is_written(desk: Desk, tmp_path: Path) -> None:
    conv, thread = desk.handover()
    await desk.open(conv, thread)
    assert desk.adapter.state.path is None and not list(tmp_path.iterdir())
