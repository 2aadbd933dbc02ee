"""The agent side: OBI4wan's signed webhook, posted by the fake OBI4wan over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from structlog.testing import capture_logs

from handover import events as ev
from handover import metrics
from handover.model import Attachment, Content, Party
from handover.sdk.contracts import IngestOutcome, OutboundMessage
from handover.sdk.keys import desk_message_key, scoped_key
from tests.adapters.obi4wan.conftest import Desk


def failures() -> float:
    return metrics.REGISTRY.get_sample_value(
        "handover_webhook_signature_failures_total", {"adapter": "obi"}) or 0.0


async def test_agent_joins_replies_with_attachment_types_transfers_and_closes(desk: Desk) -> None:
    conv, thread = desk.queued()
    fake = desk.fake
    assert await fake.join(thread, "Sanne") == (200, {"outcome": "applied"})
    pdf = {"url": "https://files.obi4wan.example/x.pdf?token=t", "name": "formulier.pdf",
           "mimeType": "application/pdf"}
    assert (await fake.say(thread, "Zie bijlage", [pdf]))[0] == 200
    assert await fake.typing(thread, on=True) == (200, {"outcome": "relayed"})
    assert (await fake.transfer(thread, "Pieter"))[0] == 200
    assert (await fake.close(thread, outcome="solved"))[0] == 200

    joined, message, transferred, closed = desk.ctx.events
    assert isinstance(joined, ev.AgentJoined) and joined.agent_name == "Sanne"
    # Passed on for the finished contact's registration (the medewerker in Open Klant).
    assert joined.agent_id == "a1"
    assert joined.thread == thread and joined.conversation_id == conv.id
    assert isinstance(message, ev.AgentMessage)
    assert message.content.text == "Zie bijlage" and message.agent_name == "Sanne"
    assert message.content.attachments == (
        Attachment(pdf["url"], "formulier.pdf", "application/pdf"),)
    assert isinstance(transferred, ev.AgentTransferred) and transferred.agent_name == "Pieter"
    assert transferred.agent_id == "a2"
    assert isinstance(closed, ev.AgentClosed) and closed.outcome == "solved"
    assert all(e.source == "obi" for e in desk.ctx.events)
    assert desk.ctx.typing == [(conv.id, Party.AGENT, True)]


async def test_a_redelivered_event_is_a_duplicate(desk: Desk) -> None:
    _, thread = desk.queued()
    event = desk.fake.event("agent.joined", thread, agent={"id": "a1", "name": "Sanne"})
    assert await desk.fake.send(event) == (200, {"outcome": "applied"})
    assert await desk.fake.send(event) == (200, {"outcome": "duplicate"})
    # The same message under a new eventId is still the same message.
    msg = {"id": "m-42", "content": "Goedemiddag"}
    assert (await desk.fake.send(desk.fake.event("message.created", thread, message=msg)))[1] \
        == {"outcome": "applied"}
    assert (await desk.fake.send(desk.fake.event("message.created", thread, message=msg)))[1] \
        == {"outcome": "duplicate"}
    assert len(desk.ctx.events) == 2


async def test_message_ids_are_unique_per_thread_only(desk: Desk) -> None:
    """Two citizens whose agents' messages carry the same id both get theirs; a repeat
    within one thread is dropped and logged at debug with its thread."""
    _, first = desk.queued()
    _, second = desk.queued()
    same = {"id": "1", "content": "Goedemiddag"}
    assert (await desk.fake.send(desk.fake.event("message.created", first, message=same)))[1] \
        == {"outcome": "applied"}
    assert (await desk.fake.send(desk.fake.event("message.created", second, message=same)))[1] \
        == {"outcome": "applied"}
    with capture_logs() as logs:
        again = desk.fake.event("message.created", second, message=same)
        assert (await desk.fake.send(again))[1] == {"outcome": "duplicate"}
    assert [e.thread for e in desk.ctx.events if isinstance(e, ev.AgentMessage)] == [
        first, second]
    [dropped] = [entry for entry in logs if entry["event"] == "obi4wan.message_duplicate"]
    assert dropped["log_level"] == "debug" and dropped["thread_id"] == second


async def test_the_echo_of_a_post_is_recognised_by_the_id_the_post_returned(
    desk: Desk,
) -> None:
    """The receipt's id and the webhook's key agree, as the core's echo record needs."""
    conv, thread = desk.queued()
    receipt = await desk.adapter.send(conv, thread, OutboundMessage(
        seq=2, message_id="c2", party=Party.CITIZEN, content=Content(text="Mijn container")))
    assert receipt.desk_message_id is not None
    desk.ctx.seen.add(("obi", desk_message_key(receipt.desk_message_id)))
    [post] = desk.fake.threads[thread]
    echo = desk.fake.event("message.created", thread,
                           message={"id": post["id"], "content": "Mijn container"})
    assert await desk.fake.send(echo) == (200, {"outcome": "duplicate"})
    assert desk.ctx.events == []


async def test_echoes_of_our_own_posts_are_dropped(desk: Desk) -> None:
    _, thread = desk.queued()
    # Recognised by our messageId even before the core knows OBI4wan's id for it.
    echo = desk.fake.event("message.created", thread, message={
        "id": "obi-1", "content": "Mijn container", "externalId": "ho-" + "0" * 40})
    assert await desk.fake.send(echo) == (200, {"outcome": "echo"})
    # And by OBI4wan's id, which the adapter returns scoped to the thread and the outbox
    # worker records as desk_message_key(<that>).
    desk.ctx.seen.add(("obi", desk_message_key(scoped_key(thread, "obi-2"))))
    echo2 = desk.fake.event("message.created", thread, message={"id": "obi-2", "content": "x"})
    assert await desk.fake.send(echo2) == (200, {"outcome": "duplicate"})
    assert desk.ctx.events == []


async def test_events_for_a_thread_that_is_no_longer_live_are_stale(desk: Desk) -> None:
    _, thread = desk.queued()
    desk.ctx.outcome = IngestOutcome.STALE  # what the core answers after a close
    assert await desk.fake.say(thread, "te laat") == (200, {"outcome": "stale"})


async def test_unknown_threads_and_other_channels_are_acknowledged_and_ignored(
    desk: Desk,
) -> None:
    fake = desk.fake
    other = desk.ctx.add_conversation(tenant="elsewhere", handover_no=1)
    for thread in ("not-a-thread-id", "0123456789abcdef-1", f"{other.id}-1"):
        assert await fake.join(thread) == (200, {"outcome": "ignored",
                                                 "reason": "unknown_thread"})
    _, thread = desk.queued()
    foreign = fake.event("agent.joined", thread, channelIdentifier="another-channel")
    assert (await fake.send(foreign))[1]["reason"] == "other_channel"
    future = fake.event("agent.rated", thread)
    assert (await fake.send(future))[1]["reason"] == "unknown_type"
    assert desk.ctx.events == []


async def test_bad_signatures_and_stale_timestamps_are_refused(desk: Desk) -> None:
    _, thread = desk.queued()
    fake = desk.fake
    before = failures()
    event = fake.event("agent.joined", thread, agent={"name": "Mallory"})
    status, body = await fake.send(event, secret="guessed")
    assert (status, body["error"]) == (401, "bad_signature")
    status, body = await fake.send(event, timestamp=int(time.time()) - 3600)
    assert (status, body["error"]) == (401, "stale_timestamp")
    status, body = await fake.send(event, headers={"Content-Type": "application/json"})
    assert (status, body["error"]) == (401, "bad_signature")
    assert failures() == before + 3
    assert desk.ctx.events == []
    # A timestamp that is not a short run of ASCII digits is refused before any
    # arithmetic (400 digits once overflowed a float: a 500, and not counted).
    raw = json.dumps(event).encode()
    for stamp in ("9" * 400, "²³", "1e9", "-1", " 12 34"):
        headers = {**fake.signed_headers(raw), "X-OBI4wan-Timestamp": stamp}
        status, body = await fake.send(event, headers=headers)
        assert (status, body["error"]) == (401, "bad_signature"), stamp
    assert failures() == before + 8
    assert desk.ctx.events == []
    # A correctly signed copy of the same event still applies (nothing was recorded).
    assert await fake.send(event) == (200, {"outcome": "applied"})


async def test_both_secrets_work_during_a_rotation(
    desk_factory: Callable[..., Awaitable[Desk]],
) -> None:
    desk = await desk_factory(webhook_secrets=("new-secret", "webhook-secret-1"))
    _, thread = desk.queued()
    assert (await desk.fake.join(thread))[0] == 200
    event = desk.fake.event("agent.typing", thread)
    assert (await desk.fake.send(event, secret="new-secret"))[0] == 200
    assert (await desk.fake.send(event, secret="retired-secret"))[0] == 401


async def test_malformed_bodies_get_a_clear_400(desk: Desk) -> None:
    fake = desk.fake
    _, thread = desk.queued()
    raw = b'{"eventId": '
    async with desk.client.post("/obi/webhook", data=raw, headers=fake.signed_headers(raw)) as r:
        assert r.status == 400 and (await r.json())["error"] == "invalid_json"
    bad = fake.event("message.created", thread, message={"id": "m1"})
    status, body = await fake.send(bad)
    assert status == 400 and body["error"] == "invalid_event"
    assert "neither content nor attachments" in body["detail"]
    deep = b"[" * 50_000 + b"]" * 50_000
    for nested in (deep, b'{"a":' * 20_000 + b"1" + b"}" * 20_000):
        async with desk.client.post("/obi/webhook", data=nested,
                                    headers=fake.signed_headers(nested)) as r:
            assert r.status in (400, 413)
    big = json.dumps({"x": "a" * 70_000}).encode()
    async with desk.client.post("/obi/webhook", data=big, headers=fake.signed_headers(big)) as r:
        assert r.status == 413


async def test_a_store_failure_asks_obi4wan_to_retry_and_loses_nothing(desk: Desk) -> None:
    _, thread = desk.queued()
    event = desk.fake.event("agent.joined", thread, agent={"name": "Sanne"})
    desk.ctx.ingest_error = RuntimeError("disk full")
    status, body = await desk.fake.send(event)
    assert status == 503 and body["error"] == "unavailable"
    desk.ctx.ingest_error = None
    assert await desk.fake.send(event) == (200, {"outcome": "applied"})
