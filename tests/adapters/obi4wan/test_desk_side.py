"""The daemon's side of the desk against the fake OBI4wan: open, relay, note, close, and
how every failure of the desk is classified for the outbox worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from handover import metrics
from handover.model import Attachment, Content, Conversation, HandoverSignal, Party, TranscriptEntry
from handover.sdk.circuit import CircuitState
from handover.sdk.contracts import Availability, DeskThread, Health, OutboundMessage
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    PermanentError,
    TransientError,
)
from handover.sdk.keys import scoped_key
from tests.adapters.obi4wan.conftest import Desk
from tests.fakes.obi4wan_server import Fault

AT = datetime(2026, 3, 2, 8, 58, tzinfo=UTC)


def handover(conv: Conversation, thread: str, *, consent: bool = True) -> DeskThread:
    return DeskThread(
        thread_id=thread, tenant=conv.tenant, channel="web", language="nl",
        signal=HandoverSignal(reason="bot_signal", topic="afval", consent=consent,
                              details={"intent": "container_niet_geleegd"}),
        context={"url": "https://gemeente.example/afval", "title": "Afval", "name": "J. Jansen"},
        transcript=(
            TranscriptEntry(conv.id, 1, Party.CITIZEN, Content("Mijn container is niet geleegd"),
                            "c1", created_at=AT),
            TranscriptEntry(conv.id, 2, Party.BOT, Content("Ik verbind u door."), "b1",
                            created_at=AT),
        ),
    )


def message(text: str, mid: str, *attachments: Attachment) -> OutboundMessage:
    return OutboundMessage(seq=3, message_id=mid, party=Party.CITIZEN,
                           content=Content(text=text, attachments=attachments))


async def test_open_thread_carries_transcript_and_context(desk: Desk) -> None:
    conv, thread = desk.queued(url="https://gemeente.example/afval", name="J. Jansen")
    receipt = await desk.adapter.open_thread(conv, handover(conv, thread))
    [first] = desk.fake.threads[thread]
    assert receipt.desk_message_id == scoped_key(thread, first["id"])
    assert first["title"] == "demo: afval"
    assert first["url"] == "https://gemeente.example/afval"
    assert first["sender"] == {"username": "Gem", "userId": "system:demo"}
    meta = first["metadata"]
    assert meta["tenant"] == "demo" and meta["channel"] == "web" and meta["language"] == "nl"
    assert meta["handover"] == {"reason": "bot_signal", "topic": "afval", "queue": None,
                                "consent": True,
                                "details": {"intent": "container_niet_geleegd"}}
    assert meta["page"] == {"url": "https://gemeente.example/afval", "title": "Afval"}
    assert meta["identity"]["name"] == "J. Jansen"
    text = first["content"]
    # Times in the agents' zone (Amsterdam, UTC+1 in March).
    assert "09:58 Inwoner: Mijn container is niet geleegd" in text
    assert "09:58 Gem: Ik verbind u door." in text
    assert "onderwerp: afval" in text and "J. Jansen" in text
    assert "intent: container_niet_geleegd" in text


async def test_without_consent_the_transcript_stays_home(desk: Desk) -> None:
    conv, thread = desk.queued()
    await desk.adapter.open_thread(conv, handover(conv, thread, consent=False))
    [first] = desk.fake.threads[thread]
    assert "Mijn container" not in first["content"]
    assert "geen toestemming" in first["content"]
    assert first["metadata"]["handover"]["consent"] is False


async def test_citizen_message_with_attachment_note_and_close(desk: Desk) -> None:
    conv, thread = desk.queued()
    photo = Attachment("https://daemon.example/files/a1", "container.jpg", "image/jpeg")
    receipt = await desk.adapter.send(conv, thread, message("Hier is een foto", "c2", photo))
    await desk.adapter.note(conv, thread, "De inwoner heeft het gesprek verlaten.")
    await desk.adapter.close_thread(conv, thread, "citizen_left")
    posts = desk.fake.threads[thread]
    assert [p.get("type", "message") for p in posts] == ["message", "note", "close"]
    assert posts[0]["content"] == "Hier is een foto"
    assert posts[0]["attachments"] == [{"url": photo.url, "name": "container.jpg",
                                        "mimeType": "image/jpeg"}]
    assert posts[0]["sender"] == {"username": "Inwoner", "userId": conv.id}
    assert receipt.desk_message_id == scoped_key(thread, posts[0]["id"])
    assert posts[1]["content"] == "De inwoner heeft het gesprek verlaten."
    # A desk that ignores the post's type shows the agent words, not a code; the code
    # goes along as metadata.
    assert posts[2]["content"] == "Gesprek gesloten: de inwoner heeft het gesprek verlaten."
    assert posts[2]["metadata"] == {"reason": "citizen_left"}


async def test_every_close_reason_reads_as_text(desk: Desk) -> None:
    for reason in ("queue_timeout", "citizen_inactive", "agent_inactive", "something_new"):
        conv, thread = desk.queued()
        await desk.adapter.close_thread(conv, thread, reason)
        [post] = desk.fake.posts(thread, "close")
        assert post["content"].startswith("Gesprek gesloten")
        assert "_" not in post["content"]
        assert post["metadata"] == {"reason": reason}


async def test_processed_but_answer_lost_is_ambiguous_and_a_resend_is_not_a_second_message(
    desk: Desk,
) -> None:
    conv, thread = desk.queued()
    assert type(desk.adapter).resend_safe is True
    desk.fake.fail_next("ingest", Fault.lost())
    with pytest.raises(AmbiguousSendError):
        await desk.adapter.send(conv, thread, message("Eén keer", "c2"))
    receipt = await desk.adapter.send(conv, thread, message("Eén keer", "c2"))
    assert desk.fake.texts(thread) == ["Eén keer"]
    assert receipt.desk_message_id == scoped_key(thread, desk.fake.threads[thread][0]["id"])
    # The same for a note (its id comes from its text) and the opening.
    desk.fake.fail_next("ingest", Fault.lost())
    with pytest.raises(AmbiguousSendError):
        await desk.adapter.note(conv, thread, "notitie")
    await desk.adapter.note(conv, thread, "notitie")
    assert len(desk.fake.posts(thread, "note")) == 1


async def test_timeout_is_ambiguous(desk: Desk) -> None:
    conv, thread = desk.queued()
    desk.fake.fail_next("ingest", Fault.hang(0.4))
    with pytest.raises(AmbiguousSendError, match="no answer in time"):
        await desk.adapter.send(conv, thread, message("traag", "c2"))


@pytest.mark.parametrize(("fault", "error", "retry_after"), [
    (Fault.http(503), TransientError, None),
    (Fault.http(502, retry_after=7), TransientError, 7.0),
    (Fault.http(429, retry_after=2), TransientError, 2.0),
    (Fault.http(401), AuthError, None),
    (Fault.http(422), PermanentError, None),
])
async def test_status_codes_are_classified(
    desk: Desk, fault: Fault, error: type[Exception], retry_after: float | None,
) -> None:
    conv, thread = desk.queued()
    desk.fake.fail_next("ingest", fault)
    with pytest.raises(error) as raised:
        await desk.adapter.send(conv, thread, message("x", "c2"))
    if isinstance(raised.value, TransientError):
        assert raised.value.retry_after == retry_after
    assert str(fault.status) in str(raised.value)
    assert desk.fake.texts(thread) == []


async def test_wrong_token_is_an_auth_error_that_probes_do_not_hide(
    desk_factory: Callable[..., Awaitable[Desk]],
) -> None:
    desk = await desk_factory(start=True, channel_token="wrong-token")
    await desk.fake.wait_for(lambda: desk.ctx.health and desk.ctx.health[-1][0] is Health.CONNECTED)
    conv, thread = desk.queued()
    with pytest.raises(AuthError):
        await desk.adapter.send(conv, thread, message("x", "c2"))
    assert desk.ctx.health[-1][0] is Health.AUTH_FAILED
    # The availability probe works without the token; it must not report healthy.
    probes = len(desk.fake.requests)
    await desk.fake.wait_for(lambda: len(desk.fake.requests) > probes + 1)
    assert desk.ctx.health[-1][0] is Health.AUTH_FAILED
    assert desk.adapter.breaker.state is CircuitState.CLOSED  # refusals are not outages


async def test_desk_down_opens_the_circuit_and_a_probe_closes_it(
    desk_factory: Callable[..., Awaitable[Desk]],
) -> None:
    desk = await desk_factory(start=True)
    conv, thread = desk.queued()
    await desk.fake.wait_for(lambda: desk.ctx.health and desk.ctx.health[-1][0] is Health.CONNECTED)
    desk.fake.down = True
    for _ in range(3):  # the threshold in these tests
        with pytest.raises(TransientError):
            await desk.adapter.send(conv, thread, message("x", "c2"))
    assert desk.adapter.breaker.state is CircuitState.OPEN
    assert desk.ctx.health[-1][0] is Health.DEGRADED
    reached = len(desk.fake.requests)
    with pytest.raises(TransientError) as refused:
        await desk.adapter.send(conv, thread, message("x", "c2"))
    assert 0 < (refused.value.retry_after or 0) <= 0.3
    assert len(desk.fake.requests) == reached  # not even tried
    # A dead desk takes no new handovers: the citizen gets the fallback at once.
    assert await desk.adapter.availability("demo", None) == Availability(False)
    # The background loop probes after the reset time; once the desk is back it closes.
    desk.fake.down = False
    await desk.fake.wait_for(lambda: desk.adapter.breaker.state is CircuitState.CLOSED)
    await desk.fake.wait_for(lambda: desk.ctx.health[-1][0] is Health.CONNECTED)
    assert any(op == "availability" for op, _, _ in desk.fake.requests[reached:])
    await desk.adapter.send(conv, thread, message("x", "c2"))
    assert desk.fake.texts(thread) == ["x"]
    assert metrics.REGISTRY.get_sample_value("handover_circuit_state", {"circuit": "obi"}) == 0


async def test_rate_limits_do_not_open_the_circuit(desk: Desk) -> None:
    conv, thread = desk.queued()
    desk.fake.fail_next("ingest", Fault.http(429, retry_after=1), times=5)
    for _ in range(5):
        with pytest.raises(TransientError):
            await desk.adapter.send(conv, thread, message("x", "c2"))
    assert desk.adapter.breaker.state is CircuitState.CLOSED


async def test_availability_is_cached_briefly(
    desk_factory: Callable[..., Awaitable[Desk]],
) -> None:
    desk = await desk_factory(availability_cache_seconds=60.0)
    desk.fake.availability = {"available": True, "queueLength": 4, "estimatedWaitSeconds": 300}
    assert await desk.adapter.availability("demo", None) == Availability(True, 4, 300)
    desk.fake.availability = {"available": False}
    assert await desk.adapter.availability("demo", None) == Availability(True, 4, 300)
    calls = [r for r in desk.fake.requests if r[0] == "availability"]
    assert len(calls) == 1 and calls[0][1] == {"guid": desk.fake.chat_guid}


async def test_not_available_and_failing_checks(desk: Desk) -> None:
    desk.fake.availability = {"available": False}
    assert await desk.adapter.availability("demo", None) == Availability(False)
    desk.fake.fail_next("availability", Fault.http(503))
    with pytest.raises(TransientError):
        await desk.adapter.availability("demo", None)
    desk.fake.availability = {"queueLength": 1}
    with pytest.raises(PermanentError, match="available"):
        await desk.adapter.availability("demo", None)


async def test_the_channel_token_never_reaches_the_logs(desk: Desk) -> None:
    conv, thread = desk.queued()
    desk.fake.fail_next("ingest", Fault.http(503))
    desk.fake.fail_next("ingest", Fault.lost())
    desk.fake.fail_next("availability", Fault.hang(0.4))
    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises((TransientError, AmbiguousSendError)) as raised:
                await desk.adapter.send(conv, thread, message("x", "c2"))
            assert desk.fake.channel_token not in str(raised.value)
        with pytest.raises(TransientError):
            await desk.adapter.availability("demo", None)
    assert logs, "failures are logged"
    assert desk.fake.channel_token not in repr(logs)
    # The token did travel, in the query string, as the contract says.
    assert desk.fake.requests[0][1] == {"token": desk.fake.channel_token}


async def test_queued_threads_get_fresh_queue_figures_until_an_agent_joins(
    desk_factory: Callable[..., Awaitable[Desk]],
) -> None:
    from handover import events as ev

    desk = await desk_factory(start=True, queue_poll_seconds=0.05)
    conv, thread = desk.queued()
    await desk.adapter.open_thread(conv, handover(conv, thread))
    desk.fake.availability = {"available": True, "queueLength": 1, "estimatedWaitSeconds": 60}
    await desk.fake.wait_for(lambda: desk.ctx.events_of(ev.QueueUpdated))
    [update] = desk.ctx.events_of(ev.QueueUpdated)
    assert (update.thread, update.position, update.estimated_wait_seconds) == (thread, 1, 60)
    await asyncio.sleep(0.2)  # unchanged figures are not sent again
    assert len(desk.ctx.events_of(ev.QueueUpdated)) == 1
    status, _ = await desk.fake.join(thread)
    assert status == 200
    desk.fake.availability = {"available": True, "queueLength": 0, "estimatedWaitSeconds": 0}
    await asyncio.sleep(0.2)
    assert len(desk.ctx.events_of(ev.QueueUpdated)) == 1

