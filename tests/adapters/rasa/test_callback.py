"""The callback channel: Rasa posts the bot's messages to our route while it handles a
turn; they are ingested under the epoch of the turn that caused them."""

from __future__ import annotations

import asyncio

import pytest

from adapters.rasa.routes import CALLBACKS
from handover import events as ev
from handover.sdk.contracts import IngestOutcome
from tests.adapters.rasa.conftest import CALLBACK_TOKEN, NAME, Harness, counter


async def callback_bot(rasa: Harness, **section: object) -> None:
    await rasa.make(mode="callback", callback_token=CALLBACK_TOKEN, **section)


async def test_messages_arrive_on_the_callback_route_under_the_turns_epoch(
    rasa: Harness,
) -> None:
    await callback_bot(rasa)
    conv = rasa.conversation()
    rasa.fake.answer_next([
        {"recipient_id": conv.id, "text": "Eén", "buttons": [{"title": "A", "payload": "/a"}]},
        {"recipient_id": conv.id, "text": "Twee"},
        {"recipient_id": conv.id, "custom": {"handover": {"topic": "afval"}}},
    ])
    response = await rasa.turn(conv, "Hallo", message_id="m-7")
    # The turn's own answer is empty: everything came over the route.
    assert response.messages == () and response.handover is None
    replies = rasa.ctx.events_of(ev.BotReplied)
    assert [[c.text for c in r.messages] for r in replies] == [["Eén"], ["Twee"], []]
    assert replies[0].messages[0].buttons[0].payload == "/a"
    assert replies[2].handover is not None and replies[2].handover.topic == "afval"
    assert {r.epoch for r in replies} == {conv.epoch}
    assert all(r.source == NAME and r.source_id.startswith("cb:m-7:") for r in replies)
    assert rasa.fake.received[0].channel == "callback"


async def test_an_array_per_callback_is_accepted(rasa: Harness) -> None:
    await callback_bot(rasa)
    rasa.fake.callback_as_array = True
    conv = rasa.conversation()
    rasa.fake.answer_next([{"recipient_id": conv.id, "text": "Eén"},
                           {"recipient_id": conv.id, "text": "Twee"}])
    await rasa.turn(conv, "Hallo")
    assert [r.messages[0].text for r in rasa.ctx.events_of(ev.BotReplied)] == ["Eén", "Twee"]


async def test_a_repeated_post_is_ingested_once(rasa: Harness) -> None:
    await callback_bot(rasa)
    conv = rasa.conversation()
    await rasa.turn(conv, "Hallo", message_id="m-1")
    url = rasa.fake.callback_url
    assert url is not None
    body = {"recipient_id": conv.id, "text": "gem: Hallo"}
    async with rasa.session.post(url, json=body) as resp:
        assert resp.status == 200
        assert (await resp.json())["results"] == ["duplicate"]
    assert len(rasa.ctx.events_of(ev.BotReplied)) == 1


async def test_a_wrong_token_is_refused_and_nothing_ingested(rasa: Harness) -> None:
    await callback_bot(rasa)
    conv = rasa.conversation()
    await rasa.turn(conv, "Hallo")
    before = counter(CALLBACKS, adapter=NAME, result="refused")
    async with rasa.session.post(rasa.callback_base + "wrong",
                                 json={"recipient_id": conv.id, "text": "nep"}) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "unauthorized"
    assert [r.messages[0].text for r in rasa.ctx.events_of(ev.BotReplied)] == ["gem: Hallo"]
    assert counter(CALLBACKS, adapter=NAME, result="refused") == before + 1


async def test_a_missing_token_is_refused(rasa: Harness) -> None:
    await callback_bot(rasa)
    conv = rasa.conversation()
    await rasa.turn(conv, "Hallo")
    url = rasa.callback_base.split("?")[0]
    async with rasa.session.post(url, json={"recipient_id": conv.id, "text": "nep"}) as resp:
        assert resp.status == 401
    assert len(rasa.ctx.events_of(ev.BotReplied)) == 1


async def test_token_rotation_accepts_both(rasa: Harness) -> None:
    await rasa.make(mode="callback", callback_token=["new-token", CALLBACK_TOKEN])
    conv = rasa.conversation()
    await rasa.turn(conv, "Hallo")
    async with rasa.session.post(rasa.callback_base + "new-token",
                                 json={"recipient_id": conv.id, "text": "ook"}) as resp:
        assert resp.status == 200


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"text": "no recipient"}', b'[{"recipient_id": "x"}, 3]'],
)
async def test_bad_bodies_are_refused_clearly(rasa: Harness, body: bytes) -> None:
    await callback_bot(rasa)
    url = rasa.fake.callback_url
    assert url is not None
    async with rasa.session.post(url, data=body) as resp:
        assert resp.status == 400
        assert "recipient_id" in (await resp.json())["detail"]
    assert rasa.ctx.events == []


async def test_a_message_for_an_unknown_turn_is_dropped_and_counted(rasa: Harness) -> None:
    await callback_bot(rasa)
    conv = rasa.conversation()  # no turn was sent for it (e.g. before a restart)
    url = rasa.fake.callback_url
    assert url is not None
    before = counter(CALLBACKS, adapter=NAME, result="unknown_turn")
    async with rasa.session.post(url, json={"recipient_id": conv.id, "text": "?"}) as resp:
        assert resp.status == 200
    assert rasa.ctx.events == []
    assert counter(CALLBACKS, adapter=NAME, result="unknown_turn") == before + 1


async def test_late_answers_keep_the_epoch_of_their_turn(rasa: Harness) -> None:
    await callback_bot(rasa)
    conv = rasa.conversation()
    release = asyncio.Event()
    rasa.fake.late_callbacks_next(release)
    turn = asyncio.create_task(rasa.turn(conv, "Een trage vraag"))
    for _ in range(100):
        if rasa.fake.received:
            break
        await asyncio.sleep(0.01)
    # Control passes to an agent (a new epoch) while the bot is still thinking.
    rasa.ctx.conversations[conv.id] = rasa.ctx.conversations[conv.id].evolve(epoch=conv.epoch + 2)
    rasa.ctx.outcome = IngestOutcome.STALE
    release.set()
    await turn
    (late,) = rasa.ctx.events_of(ev.BotReplied)
    assert late.epoch == conv.epoch  # the core drops it as stale (see the e2e test)
    assert counter(CALLBACKS, adapter=NAME, result="stale") >= 1


async def test_store_failure_answers_503_so_nothing_is_lost(rasa: Harness) -> None:
    await callback_bot(rasa)
    conv = rasa.conversation()
    await rasa.turn(conv, "Hallo")
    rasa.ctx.ingest_error = RuntimeError("disk full")
    url = rasa.fake.callback_url
    assert url is not None
    async with rasa.session.post(url, json={"recipient_id": conv.id, "text": "x"}) as resp:
        assert resp.status == 503


async def test_empty_callback_turn_is_checked_like_an_empty_rest_answer(rasa: Harness) -> None:
    from adapters.rasa.adapter import EmptyAnswer

    await callback_bot(rasa)
    rasa.fake.empty_next()
    with pytest.raises(EmptyAnswer):
        await rasa.turn(rasa.conversation(), "Hallo")
