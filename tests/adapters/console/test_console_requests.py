"""The console's "Contactverzoeken": callback requests kept once, shown to the agents of
their tenant, claimed by exactly one agent across instances, closed with an outcome, and
gone when their conversation is erased or their time is up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.console.adapter import ConsoleDesk
from adapters.console.requests import OPEN_TTL
from adapters.console.routes import CLOSED_VISIBLE
from handover.sdk.clock import SystemClock
from handover.sdk.errors import PermanentError
from handover.sdk.registration import AddressKind, CallbackRequest, RegistrationTarget
from handover.sdk.testing import FakeClock, FakeContext, MemoryState
from tests.adapters.console.support import OTHER_TENANT, TOKENS, bearer, console_daemon
from tests.harness import TENANT

PHONE = "+31612345678"
QUESTION = "Mijn container is niet geleegd, kunt u mij bellen?"


def callback(request_id: str = "a" * 32, **changes: Any) -> CallbackRequest:
    values: dict[str, Any] = dict(
        request_id=request_id, reference="K7M2QP", tenant=TENANT, conversation_id="conv-1",
        channel="chat", channel_type="whatsapp", language="nl",
        placed_at=datetime(2026, 3, 2, 18, 30, tzinfo=UTC), address_kind=AddressKind.PHONE,
        address=PHONE, question=QUESTION, name="Jan Jansen", topic="waste",
        topic_label="Afval", callback_text="Morgen tussen 09:00 en 12:00",
    )
    values.update(changes)
    return CallbackRequest(**values)


async def test_a_request_is_kept_once_and_listed_with_what_the_agent_needs(
    tmp_path: Path,
) -> None:
    async with console_daemon(tmp_path) as c:
        assert isinstance(c.desk, RegistrationTarget) and c.desk.registers_callbacks
        conv = await c.chat.open(TENANT)
        request = callback(conversation_id=conv.id)
        first = await c.desk.register_callback(request)
        again = await c.desk.register_callback(request)  # the outbox's resend
        assert first.external_id == again.external_id == "K7M2QP"

        status, data = await c.get("callbacks")
        assert status == 200
        [shown] = data["requests"]
        assert shown["reference"] == "K7M2QP" and shown["status"] == "open"
        assert shown["channel_label"] == "WhatsApp" and shown["language_label"] == "Nederlands"
        assert shown["topic_label"] == "Afval" and shown["question"] == QUESTION
        assert shown["address_kind"] == "phone" and shown["address"] == PHONE
        assert shown["name"] == "Jan Jansen" and shown["placed_at"].startswith("2026-03-02")
        assert shown["callback_text"] == "Morgen tussen 09:00 en 12:00"
        assert [o["value"] for o in data["outcomes"]] == [
            "called_back", "mailed", "not_reached", "no_longer_needed"]
        # An agent of another municipality sees nothing of it, not even that it exists.
        _, theirs = await c.get("callbacks", agent="piet")
        assert theirs["requests"] == []
        status, refused = await c.post(f"callbacks/{'a' * 32}/claim", agent="piet")
        assert status == 404 and QUESTION not in str(refused)


async def test_claim_and_close_with_an_outcome(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        await c.desk.register_callback(callback())
        rid = "a" * 32
        assert (await c.post(f"callbacks/{rid}/close", {"outcome": "called_back"}))[0] == 409
        status, data = await c.post(f"callbacks/{rid}/claim")
        assert status == 200 and data["request"]["agent_name"] == "Sanne"
        assert (await c.post(f"callbacks/{rid}/claim"))[0] == 200  # a repeated click
        status, taken = await c.post(f"callbacks/{rid}/claim", agent="ahmed")
        assert status == 409 and taken["error"] == "taken" and "Sanne" in taken["detail"]
        status, refused = await c.post(f"callbacks/{rid}/close", {"outcome": "called_back"},
                                       agent="ahmed")
        assert status == 409 and refused["error"] == "not_yours"
        status, bad = await c.post(f"callbacks/{rid}/close", {"outcome": "done"})
        assert status == 400 and bad["error"] == "invalid_field"
        status, data = await c.post(f"callbacks/{rid}/close", {"outcome": "not_reached"})
        assert status == 200 and data["request"]["status"] == "closed"
        assert data["request"]["outcome_label"] == "Niet bereikt"
        assert (await c.post(f"callbacks/{rid}/close", {"outcome": "not_reached"}))[0] == 200
        assert (await c.post(f"callbacks/{rid}/claim", agent="ahmed"))[1]["error"] == "closed"
        # Also for the agent who closed it (a second page of hers that missed the close).
        assert (await c.post(f"callbacks/{rid}/claim"))[1]["error"] == "closed"
        _, listed = await c.get("callbacks", agent="ahmed")
        assert [r["status"] for r in listed["requests"]] == ["closed"]


async def test_release_gives_a_request_back(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        await c.desk.register_callback(callback())
        rid = "a" * 32
        assert (await c.post(f"callbacks/{rid}/claim"))[0] == 200
        assert (await c.post(f"callbacks/{rid}/release", agent="ahmed"))[0] == 409
        status, data = await c.post(f"callbacks/{rid}/release")
        assert status == 200 and data["request"]["status"] == "open"
        assert (await c.post(f"callbacks/{rid}/claim", agent="ahmed"))[0] == 200


async def test_bad_requests_get_a_clear_4xx(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        await c.desk.register_callback(callback())
        rid = "a" * 32
        assert (await c.get("callbacks", agent=None))[0] == 401
        resp = await c.client.get("/desk/api/callbacks",
                                  headers={"Authorization": "Bearer not-a-token-of-anyone"})
        assert resp.status == 403
        assert (await c.post(f"callbacks/{'x' * 500}/claim"))[0] == 404
        assert (await c.post(f"callbacks/{rid}/claim"))[0] == 200
        for body in (b"{", b"[]", b'{"outcome": 1}', b'{"outcome": "called_back", "x": 1}'):
            resp = await c.client.post(f"/desk/api/callbacks/{rid}/close", data=body,
                                       headers={**bearer("sanne"),
                                                "Content-Type": "application/json"})
            assert resp.status == 400, body
            assert "error" in await resp.json()


async def test_erasing_the_conversation_deletes_its_request(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        conv = await c.chat.open(TENANT)
        await c.desk.register_callback(callback(conversation_id=conv.id))
        await c.desk.register_callback(callback("b" * 32, tenant=OTHER_TENANT))
        assert await c.daemon.store.erase_conversation(conv.id)
        # Sanne sees both municipalities: only the other conversation's request is left.
        _, data = await c.get("callbacks")
        assert [r["request_id"] for r in data["requests"]] == ["b" * 32]
        assert QUESTION in str(data) and "conv-1" in str(data)


# --- two daemon instances on one store ------------------------------------------------------


@dataclass
class Instance:
    desk: ConsoleDesk
    client: TestClient[Any, Any]

    async def post(self, path: str, agent: str, body: Any = None) -> int:
        resp = await self.client.post(f"/desk/api/{path}", json=body, headers=bearer(agent))
        return resp.status


AGENTS = {"agents": [
    {"id": "sanne", "name": "Sanne", "token": TOKENS["sanne"]},
    {"id": "ahmed", "name": "Ahmed", "token": TOKENS["ahmed"]},
]}


class InterleavingState(MemoryState):
    """A store whose reads hand the turn to the other instance before answering, so that
    both agents read the request before either writes: the worst interleaving."""

    async def get(self, key: str) -> Any:
        found = await super().get(key)
        await asyncio.sleep(0.01)
        return found


@asynccontextmanager
async def two_instances(clock: FakeClock | None = None) -> AsyncIterator[list[Instance]]:
    """Two console instances whose records live in one store (what two daemons on one
    PostgreSQL database share)."""
    async with AsyncExitStack() as stack:
        state = InterleavingState(clock or SystemClock())
        out = []
        for _ in range(2):
            ctx = FakeContext("desk", (TENANT,), clock=clock)
            stack.push_async_callback(ctx.aclose)
            ctx.state = state
            desk = ConsoleDesk("desk", ConsoleDesk.parse_config(AGENTS, "adapters.desk"), ctx)
            root = web.Application()
            root.add_subapp("/desk/", desk.http_app())
            client: TestClient[Any, Any] = TestClient(TestServer(root))
            await client.start_server()
            stack.push_async_callback(client.close)
            out.append(Instance(desk, client))
        yield out


async def test_two_agents_racing_for_a_request_on_two_instances_one_wins() -> None:
    async with two_instances() as (a, b):
        for i in range(20):
            rid = f"{i:032x}"
            await a.desk.register_callback(callback(rid))
            statuses = await asyncio.gather(a.post(f"callbacks/{rid}/claim", "sanne"),
                                            b.post(f"callbacks/{rid}/claim", "ahmed"))
            assert sorted(statuses) == [200, 409], statuses


async def test_an_open_request_expires_and_a_closed_one_leaves_the_list() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    async with two_instances(clock) as (a, b):
        await a.desk.register_callback(callback("1" * 32))
        await a.desk.register_callback(callback("2" * 32))
        clock.advance(timedelta(days=29).total_seconds())
        # A claim does not extend how long the citizen's data is kept.
        assert await b.post(f"callbacks/{'1' * 32}/claim", "sanne") == 200
        assert await b.post(f"callbacks/{'2' * 32}/claim", "sanne") == 200
        assert await b.post(f"callbacks/{'2' * 32}/close", "sanne",
                            {"outcome": "called_back"}) == 200
        clock.advance((OPEN_TTL - timedelta(days=29)).total_seconds() + 1)
        assert await a.desk.requests.state.get("callback:" + "1" * 32) is None
        assert await a.desk.requests.state.get("callback:" + "2" * 32) is None

        await a.desk.register_callback(callback("3" * 32))
        assert await b.post(f"callbacks/{'3' * 32}/claim", "sanne") == 200
        assert await b.post(f"callbacks/{'3' * 32}/close", "sanne",
                            {"outcome": "mailed"}) == 200
        clock.advance(CLOSED_VISIBLE.total_seconds() - 60)
        assert await a.desk.requests.state.get("callback:" + "3" * 32) is not None
        clock.advance(120)
        assert await a.desk.requests.state.get("callback:" + "3" * 32) is None


async def test_no_personal_data_of_a_request_in_the_logs(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    async with console_daemon(tmp_path) as c:
        with capture_logs() as logs:
            await c.desk.register_callback(callback())
            await c.post(f"callbacks/{'a' * 32}/claim")
            await c.post(f"callbacks/{'a' * 32}/close", {"outcome": "called_back"})
        text = str(logs)
        assert "console.callback_closed" in text
        for secret in (PHONE, QUESTION, "Jan Jansen", "Morgen tussen"):
            assert secret not in text



async def test_the_pages_of_the_tenant_are_told_when_the_list_changes(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        sanne, piet = await c.live("sanne"), await c.live("piet")
        await c.desk.register_callback(callback())
        pushed = await sanne.next(lambda e: e["type"] == "callbacks")
        assert pushed == {"type": "callbacks"}  # nothing of the request itself
        await c.desk.register_callback(callback())  # a resend changes nothing
        assert (await c.post(f"callbacks/{'a' * 32}/claim"))[0] == 200
        await sanne.next(lambda e: e["type"] == "callbacks")
        with pytest.raises(TimeoutError):
            await sanne.next(lambda e: e["type"] == "callbacks", timeout=0.5)
        with pytest.raises(TimeoutError):  # another municipality's agent
            await piet.next(lambda e: e["type"] == "callbacks", timeout=0.5)


async def test_a_request_of_a_tenant_without_this_console_is_refused(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        with pytest.raises(PermanentError, match="does not use this console"):
            await c.desk.register_callback(callback(tenant="elders"))
        assert await c.desk.requests.state.scan("callback:") == []
