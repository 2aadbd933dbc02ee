"""The console desk on two daemon instances on one PostgreSQL database.

Agents and citizens land on different instances, as a load balancer without session
affinity sends them: the citizen's handover decided on B sees the agent signed in to A
(no "no agent available"), a thread opened by B is in A's list and pushed to A's pages,
two agents racing for one pick-up on A and B get exactly one win (the citizen is greeted
once), and the citizen's messages reach the agents' live sockets on both instances.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.scaleout_support import CONSOLE_DESK, REST, AgentPage, config, console_env, running
from tests.pgserver import PgServer
from tests.store.conftest import fresh_database

pytestmark = pytest.mark.slow

TEMPLATE = config(REST, CONSOLE_DESK, channels=["rest"])


@dataclass
class Citizen:
    """A REST citizen; every request goes to `base`."""

    http: aiohttp.ClientSession
    base: str
    conversation_id: str = ""
    token: str = ""

    async def open(self) -> None:
        async with self.http.post(f"{self.base}/rest/conversations",
                                  json={"tenant": "demo", "language": "nl"}) as resp:
            assert resp.status == 201, await resp.text()
            opened = await resp.json()
        self.conversation_id, self.token = opened["conversation_id"], opened["token"]

    async def send(self, path: str, body: dict[str, Any]) -> None:
        url = f"{self.base}/rest/conversations/{self.conversation_id}/{path}"
        async with self.http.post(url, json=body,
                                  headers={"Authorization": f"Bearer {self.token}"}) as resp:
            assert resp.status == 202, await resp.text()

    async def messages(self) -> dict[str, Any]:
        url = f"{self.base}/rest/conversations/{self.conversation_id}/messages"
        async with self.http.get(url, params={"after": "0"},
                                 headers={"Authorization": f"Bearer {self.token}"}) as resp:
            assert resp.status == 200
            got: dict[str, Any] = await resp.json()
            return got

    async def until(self, done: Callable[[dict[str, Any]], bool],
                    timeout: float = 15.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                got = await self.messages()
                if done(got):
                    return got
                await asyncio.sleep(0.1)


@pytest.fixture
async def pair(tmp_path: Path, pg_server: PgServer
               ) -> AsyncIterator[tuple[DaemonProcess, DaemonProcess]]:
    env = {"HANDOVER_TEST_DSN": await fresh_database(pg_server), **console_env()}
    async with running(tmp_path, TEMPLATE, env, ("", "")) as (a, b):
        yield a, b


def texts(got: dict[str, Any]) -> list[str]:
    return [str(m["content"].get("text") or "") for m in got["messages"]]


async def test_agents_and_citizens_on_different_instances(
    pair: tuple[DaemonProcess, DaemonProcess],
) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        sanne, ahmed = AgentPage(http, a.url, "sanne"), AgentPage(http, b.url, "ahmed")
        await sanne.connect()

        # The citizen is on B; the only agent online is on A.
        citizen = Citizen(http, b.url)
        await citizen.open()
        await citizen.send("actions", {"action": "request_agent", "action_id": "a1"})
        got = await citizen.until(lambda g: g["state"] in ("queued", "bot", "closed"))
        assert got["state"] == "queued", got
        assert not any("geen medewerker vrij" in t for t in texts(got)), texts(got)

        # B opened the thread; A lists it and pushed it to Sanne's page.
        thread = f"{citizen.conversation_id}-1"
        pushed = await sanne.next(
            lambda e: e["type"] == "thread" and e["thread"]["thread_id"] == thread
        )
        assert pushed["thread"]["status"] == "queued"
        status, listed = await sanne.get("threads")
        assert status == 200 and [t["thread_id"] for t in listed["threads"]] == [thread]

        # Two agents on two instances race for the pick-up: exactly one wins.
        await ahmed.connect()
        results = await asyncio.gather(sanne.post(f"threads/{thread}/pickup"),
                                       ahmed.post(f"threads/{thread}/pickup"))
        assert sorted(status for status, _ in results) == [200, 409], results
        winner = "Sanne" if results[0][0] == 200 else "Ahmed"
        got = await citizen.until(lambda g: g["state"] == "agent")
        await asyncio.sleep(1.0)  # a second greeting would have arrived by now
        got = await citizen.messages()
        greetings = [t for t in texts(got) if t.endswith("helpt u verder.")]
        assert greetings == [f"{winner} helpt u verder."], texts(got)

        # The citizen's messages reach the live sockets on both instances.
        said = [f"vraag {n}" for n in range(3)]
        for n, text in enumerate(said):
            await citizen.send("messages", {"message_id": f"m{n}", "text": text})
        for page in (sanne, ahmed):
            for text in said:
                await page.next(lambda e, text=text: e["type"] == "message"  # type: ignore[misc]
                                and e["thread_id"] == thread and e["entry"]["text"] == text)
        for page in (sanne, ahmed):
            shown = [e["entry"]["text"] for e in page.events if e["type"] == "message"]
            assert shown == said, (page.agent, shown)


async def test_notes_away_status_and_transfer_across_instances(
    pair: tuple[DaemonProcess, DaemonProcess],
) -> None:
    """What the agent's tools keep in the shared state holds on every instance: a note
    written on A is in the thread on B, an agent away on B cannot be given a chat on A,
    and a transfer made on A alerts the colleague's page on B."""
    a, b = pair
    async with aiohttp.ClientSession() as http:
        sanne, ahmed = AgentPage(http, a.url, "sanne"), AgentPage(http, b.url, "ahmed")
        await sanne.connect()
        await ahmed.connect()
        citizen = Citizen(http, b.url)
        await citizen.open()
        await citizen.send("actions", {"action": "request_agent", "action_id": "a1"})
        thread = f"{citizen.conversation_id}-1"
        await sanne.next(lambda e: e["type"] == "thread" and e["thread"]["thread_id"] == thread)
        assert (await sanne.post(f"threads/{thread}/pickup"))[0] == 200

        status, _ = await sanne.post(f"threads/{thread}/notes",
                                     {"note_id": "n1", "text": "Intern: zaak Z-9 (A)"})
        assert status == 201
        _, detail = await ahmed.get(f"threads/{thread}")
        assert [i["text"] for i in detail["transcript"] if i["party"] == "internal"] == [
            "Intern: zaak Z-9 (A)"]

        assert (await ahmed.post("me/status", {"away": True}))[0] == 200
        status, body = await sanne.post(f"threads/{thread}/transfer", {"to": "agent:ahmed"})
        assert (status, body["error"]) == (409, "away")
        assert (await ahmed.post("me/status", {"away": False}))[0] == 200
        status, body = await sanne.post(f"threads/{thread}/transfer",
                                        {"to": "agent:ahmed", "note": "Z-9 graag afmaken"})
        assert status == 200, body
        told = await ahmed.next(lambda e: e["type"] == "transferred")
        assert (told["to_agent"], told["from"]) == ("ahmed", "Sanne")
        got = await citizen.until(lambda g: "Ahmed helpt u verder." in texts(g))
        assert not [t for t in texts(got) if "Z-9" in t], texts(got)
