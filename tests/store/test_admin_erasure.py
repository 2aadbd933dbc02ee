"""Erasure of one conversation through the admin API, on every store engine.

A citizen's request to be forgotten arrives as `DELETE /admin/conversations/{id}`.
Afterwards nothing written and nothing identifying is left, on either engine: not
the transcript or desk notes, not pending or dead-lettered messages, not the channel
identity (a phone number on WhatsApp), the context, the agent's name or a survey
comment. Scores and handover events stay for the statistics.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

from handover.clock import FakeClock
from handover.http.admin import admin_routes
from handover.http.middleware import draining_middleware, error_middleware
from handover.model import HandoverEvent, SurveyAnswer
from handover.store import Step, Store
from tests.unit.test_admin_http import CONV, FakeView, _dead_letter, _seed, auth

Client = TestClient[web.Request, web.Application]


async def test_erasure_through_the_admin_api(
    store: Store,
    clock: FakeClock,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    await _seed(store, clock)
    await _dead_letter(store, clock)
    seeded = await store.get_conversation(CONV)
    assert seeded is not None
    now = clock.now()
    await store.commit(
        Step(
            seeded,
            survey=SurveyAnswer(CONV, "utrecht", "whatsapp", 1, 8, "Sanne was fijn", "ok", now),
            handover_events=[HandoverEvent(CONV, "utrecht", "whatsapp", 1, "queued", now)],
        )
    )
    view = FakeView(store=store, clock=clock)
    app = web.Application(middlewares=[error_middleware, draining_middleware(view)])
    app.add_routes(admin_routes(view))
    client = await aiohttp_client(app)

    resp = await client.delete(f"/admin/conversations/{CONV}", headers=auth())
    assert resp.status == 200 and await resp.json() == {"erased": True}

    resp = await client.get(f"/admin/conversations/{CONV}", headers=auth())
    body = await resp.json()
    text = await resp.text()
    for personal in ("+31612345678", "Sanne", "hallo", "Goedemiddag", "afval", "via bot"):
        assert personal not in text, personal
    assert body["conversation"]["agent_name"] is None
    assert body["conversation"]["context"] == {}
    assert (body["transcript"], body["desk_notes"], body["outbox"]) == ([], [], [])
    assert await store.dead_letters() == []
    conv = await store.get_conversation(CONV)
    assert conv is not None and conv.channel_key == f"erased:{CONV}"
    [survey] = await store.survey_answers(conversation_id=CONV)
    assert (survey.score, survey.comment) == (8, None)
    assert [e.event for e in await store.handover_events(conversation_id=CONV)] == ["queued"]

    # Erasing again is harmless; an unknown conversation is 404.
    resp = await client.delete(f"/admin/conversations/{CONV}", headers=auth())
    assert resp.status == 200
    resp = await client.delete(f"/admin/conversations/{'f' * 32}", headers=auth())
    assert resp.status == 404
