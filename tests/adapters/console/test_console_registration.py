"""What the console passes on for a finished contact's registration: the agent's id on
pick-up, and the optional summary the agent writes when closing (asked only for the
tenants that register it: `summary_tenants`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from aiohttp.test_utils import TestClient, TestServer

from handover.daemon.app import Daemon
from handover.sdk.registration import ContactRecord
from handover.sdk.testing import MemoryRegistry
from tests.adapters.console.support import OTHER_TENANT, Console, console_config
from tests.harness import TENANT, make_config, merge

SUMMARY = "Container omgewisseld; melding gedaan bij de inzameldienst."


@asynccontextmanager
async def registering_console(tmp: Path, content: str = "summary") -> AsyncIterator[Console]:
    """The console desk offering a summary for TENANT, which registers finished contacts
    (with the summary as content) at a memory target."""
    doc = merge(console_config(tmp, summary_tenants=[TENANT]), {
        "adapters": {"register": {"type": "memory_registry"}},
        "tenants": {TENANT: {"registries": ["register"],
                             "registration": {"content": content}}},
    })
    daemon = Daemon(make_config(tmp, doc))
    async with TestClient(TestServer(daemon.build_app())) as client:
        yield Console(daemon, client)


def registry(c: Console) -> MemoryRegistry:
    return cast(MemoryRegistry, c.daemon.adapters["register"])


async def closed_with(c: Console, body: dict[str, Any]) -> ContactRecord:
    sanne = await c.live("sanne")
    _conv, thread = await c.handover(sanne)
    assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
    status, answer = await c.post(f"threads/{thread}/close", body)
    assert status == 200, answer
    await registry(c).wait_for(lambda: bool(registry(c).contacts))
    [record] = registry(c).contacts.values()
    return record


async def test_the_agents_id_and_summary_reach_the_registration(tmp_path: Path) -> None:
    async with registering_console(tmp_path) as c:
        record = await closed_with(c, {"outcome": "resolved", "summary": f"  {SUMMARY}\n"})
        assert (record.agent_id, record.agent_name) == ("sanne", "Sanne")
        assert record.content == SUMMARY and record.outcome == "resolved"
        assert record.succeeded is True


async def test_a_blank_summary_is_none(tmp_path: Path) -> None:
    async with registering_console(tmp_path) as c:
        record = await closed_with(c, {"outcome": "resolved", "summary": "   "})
        assert record.content is None and record.agent_id == "sanne"


async def test_the_page_is_told_where_a_summary_is_asked(tmp_path: Path) -> None:
    async with registering_console(tmp_path) as c:
        status, me = await c.get("me")
        assert status == 200 and me["summary_tenants"] == [TENANT]
        # Piet sees only the other tenant, which registers no summary.
        status, me = await c.get("me", agent="piet")
        assert status == 200 and (me["tenants"], me["summary_tenants"]) == ([OTHER_TENANT], [])


async def test_a_bad_summary_is_refused_with_a_clear_4xx(tmp_path: Path) -> None:
    async with registering_console(tmp_path) as c:
        sanne = await c.live("sanne")
        _conv, thread = await c.handover(sanne)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        for summary, detail in (("x" * 1001, "at most 1000"), (7, "must be a string")):
            status, body = await c.post(f"threads/{thread}/close",
                                        {"outcome": "resolved", "summary": summary})
            assert (status, body["error"]) == (400, "invalid_field")
            assert detail in body["detail"]
        status, body = await c.post(f"threads/{thread}/close",
                                    {"outcome": "resolved", "note": "x"})
        assert (status, body["error"]) == (400, "unknown_field")
        # Nothing was closed by the refused attempts.
        status, detail = await c.get(f"threads/{thread}")
        assert detail["status"] == "active"


async def test_a_chat_handed_to_a_colleague_is_registered_with_the_colleague(
    tmp_path: Path,
) -> None:
    async with registering_console(tmp_path) as c:
        sanne = await c.live("sanne")
        await c.live("ahmed")  # online: a colleague can be given the chat
        _conv, thread = await c.handover(sanne)
        assert (await c.post(f"threads/{thread}/pickup"))[0] == 200
        status, _ = await c.post(f"threads/{thread}/transfer", {"to": "agent:ahmed"})
        assert status == 200
        status, _ = await c.post(f"threads/{thread}/close",
                                 {"outcome": "resolved", "summary": SUMMARY}, agent="ahmed")
        assert status == 200
        await registry(c).wait_for(lambda: bool(registry(c).contacts))
        [record] = registry(c).contacts.values()
        assert (record.agent_id, record.agent_name) == ("ahmed", "Ahmed")
