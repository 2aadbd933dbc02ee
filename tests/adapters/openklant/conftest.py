"""An Open Klant client wired to the fake Klantinteracties API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import structlog

from adapters.openklant import wire
from adapters.openklant.client import (
    CallbackRequest,
    FinishedContact,
    OpenKlantClient,
    OpenKlantSettings,
)
from tests.fakes.openklant_server import FakeOpenKlant

PHONE = "+31612345678"
EMAIL = "j.jansen@example.nl"
NAME = "Jan Jansen"
QUESTION = "Mijn afvalcontainer is niet geleegd, wat nu?"


def settings_for(fake: FakeOpenKlant, **changes: Any) -> OpenKlantSettings:
    base = OpenKlantSettings(
        base_url=fake.url, token=fake.token, task_actor=fake.kcc, daemon_actor=fake.daemon,
        medewerker_register="obi4wan", timeout_seconds=0.3,
    )
    return replace(base, **changes)


def callback(**changes: Any) -> CallbackRequest:
    base = CallbackRequest(
        registration_id="cb-0001", reference="K7M2QP", channel="web", language="nl",
        placed_at=datetime(2026, 3, 2, 18, 30, tzinfo=UTC),
        address=wire.ContactAddress(wire.AddressKind.PHONE, PHONE), question=QUESTION,
        name=NAME, note="Liefst na 09:00 bellen.",
    )
    return replace(base, **changes)


def finished(**changes: Any) -> FinishedContact:
    base = FinishedContact(
        registration_id="conv-42-1", channel="whatsapp", language="en", subject="Afval",
        placed_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC), succeeded=True,
        agent_id="agent-7",
    )
    return replace(base, **changes)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenKlant]:
    server = FakeOpenKlant()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def make_client(fake: FakeOpenKlant) -> AsyncIterator[Callable[..., OpenKlantClient]]:
    session = aiohttp.ClientSession()

    def build(**changes: Any) -> OpenKlantClient:
        return OpenKlantClient(settings_for(fake, **changes), session=lambda: session,
                               log=structlog.get_logger("tests.openklant"))

    try:
        yield build
    finally:
        await session.close()


@pytest.fixture
def client(make_client: Callable[..., OpenKlantClient]) -> OpenKlantClient:
    return make_client()
