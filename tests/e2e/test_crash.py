"""SIGKILL at named points while messages are in flight; after a restart every
acknowledged message reaches its target once, in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.daemon_process import Agent, Citizen, DaemonProcess

pytestmark = pytest.mark.slow

N = 8


async def handed_over(http: aiohttp.ClientSession, d: DaemonProcess) -> tuple[Citizen, str]:
    citizen, agent = Citizen(http, d.url), Agent(http, d.url)
    await citizen.open()
    await citizen.action("request_agent")
    thread = f"{citizen.id}-1"
    await agent.wait_thread(thread)
    assert await agent.post(thread, "join", {"agent_name": "Sanne"}) == 202
    await citizen.wait_for(lambda data: data["state"] == "agent")
    await d.wait_idle()
    return citizen, thread


def desk_messages(thread: dict[str, object]) -> list[str]:
    events = thread["events"]
    assert isinstance(events, list)
    return [e["content"]["text"] for e in events if e.get("type") == "message"]


@pytest.mark.parametrize(
    "crash_at",
    ["router.after_commit:3", "delivery.before_send:3", "delivery.after_send:3"],
)
async def test_citizen_messages_reach_the_desk_once_in_order(tmp_path: Path, crash_at: str) -> None:
    d = DaemonProcess(tmp_path / "data")
    await d.start()
    async with aiohttp.ClientSession() as http:
        citizen, thread = await handed_over(http, d)
        d.terminate()
        # Restart armed: the daemon kills itself at the chosen point mid-stream.
        await d.start(crash_at=crash_at)
        acknowledged = []
        for n in range(N):
            try:
                status, _ = await citizen.say(f"bericht {n}", message_id=f"m{n}")
            except aiohttp.ClientError:
                break
            if status != 202:
                break
            acknowledged.append(f"bericht {n}")
        await d.wait_exit()
        await d.start()
        citizen.rebase(d.url)
        # The citizen resends what was not acknowledged (same ids: dedup makes it safe).
        for n in range(len(acknowledged), N):
            status, _ = await citizen.say(f"bericht {n}", message_id=f"m{n}")
            assert status == 202
        agent = Agent(http, d.url)
        expected = [f"bericht {n}" for n in range(N)]
        got = await agent.wait_thread(thread, lambda t: len(desk_messages(t)) >= N)
        assert desk_messages(got) == expected
        d.terminate()


@pytest.mark.parametrize("crash_at", ["delivery.before_send:2", "delivery.after_send:2"])
async def test_agent_messages_reach_the_citizen_once_in_order(tmp_path: Path, crash_at: str) -> None:
    d = DaemonProcess(tmp_path / "data")
    await d.start()
    async with aiohttp.ClientSession() as http:
        citizen, thread = await handed_over(http, d)
        d.terminate()
        await d.start(crash_at=crash_at)
        agent = Agent(http, d.url)
        sent = 0
        for n in range(N):
            try:
                status = await agent.post(thread, "messages",
                                          {"text": f"antwoord {n}", "message_id": f"a{n}"})
            except aiohttp.ClientError:
                break
            if status != 202:
                break
            sent += 1
        await d.wait_exit()
        await d.start()
        agent, citizen.base = Agent(http, d.url), d.url
        for n in range(sent, N):
            assert await agent.post(thread, "messages",
                                    {"text": f"antwoord {n}", "message_id": f"a{n}"}) == 202
        data = await citizen.wait_for(
            lambda x: len([m for m in x["messages"] if m["party"] == "agent"]) >= N)
        await asyncio.sleep(0.3)
        data = await citizen.messages()
        agent_texts = [m["content"]["text"] for m in data["messages"] if m["party"] == "agent"]
        assert agent_texts == [f"antwoord {n}" for n in range(N)]
        seqs = [m["seq"] for m in data["messages"]]
        assert seqs == sorted(set(seqs))
        d.terminate()
