"""Several daemon processes on one PostgreSQL database, behind an imagined load balancer.

The citizen's widget socket is held by one instance while the desk's webhooks land on
any instance; an instance is killed with SIGKILL in the middle of a stream of agent
messages and the citizen, reconnecting to another instance, sees every message once,
in order; outbox work is spread over the instances without anything sent twice.
The desk is the fake OBI4wan (over HTTP, in this process), the bot the demo bot.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.scaleout_support import OBI4WAN_DESK, REST, WEB, config, obi4wan_env, running
from tests.e2e.scaleout_support import WebWidget as Widget
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.pgserver import PgServer
from tests.store.conftest import fresh_database

pytestmark = pytest.mark.slow

# The fixture's parameter is the delivery poll interval (`{bot_options}`). A short leave
# grace period, so that a test can wait it out.
TEMPLATE = config(REST, WEB.replace('type = "web"\n', 'type = "web"\nleave_grace_seconds = "1s"\n'),
                  OBI4WAN_DESK, channels=["web", "rest"], poll="{bot_options}")


@dataclass
class Cluster:
    fake: FakeObi4wan
    instances: list[DaemonProcess]
    http: aiohttp.ClientSession

    def webhook(self, instance: DaemonProcess) -> str:
        return f"{instance.url}/desk/webhook"

    async def metrics(self, instance: DaemonProcess) -> str:
        async with self.http.get(f"{instance.url}/metrics") as resp:
            return await resp.text()

    async def deliveries(self, instance: DaemonProcess, target: str) -> float:
        """Items this instance sent to `target` (its own /metrics)."""
        text = await self.metrics(instance)
        total = 0.0
        for labels, value in re.findall(r"^handover_deliveries_total\{(.*)\} (\S+)$", text, re.M):
            if f'target="{target}"' in labels and 'result="sent"' in labels:
                total += float(value)
        return total


@pytest.fixture
async def cluster(tmp_path: Path, pg_server: PgServer, request: pytest.FixtureRequest
                  ) -> AsyncIterator[Cluster]:
    poll = getattr(request, "param", 0.2)
    fake = FakeObi4wan()
    await fake.start()
    env = {"HANDOVER_TEST_DSN": await fresh_database(pg_server), **obi4wan_env(fake)}
    try:
        async with (running(tmp_path, TEMPLATE, env, [f"poll_seconds = {poll}"] * 3)
                    as instances, aiohttp.ClientSession() as http):
            yield Cluster(fake, instances, http)
    finally:
        await fake.stop()


async def queued(cluster: Cluster, widget: Widget, instance: DaemonProcess) -> str:
    """A citizen on `instance` asks for an agent; the desk thread once OBI4wan has it."""
    await widget.connect(instance)
    assert widget.ws is not None
    await widget.ws.send_json({"type": "action", "action": "request_agent", "action_id": "a1"})
    await widget.until(lambda f: f["type"] == "state" and f["state"] == "queued")
    thread = f"{widget.conversation_id}-1"
    await cluster.fake.wait_for(lambda: bool(cluster.fake.threads.get(thread)), timeout=15)
    return thread


@pytest.mark.parametrize("cluster", [30.0], indirect=True)
async def test_a_desk_webhook_at_one_instance_reaches_the_socket_on_another(
    cluster: Cluster,
) -> None:
    # Polling every 30 s: what arrives sooner came by the database's wake-up hint.
    a, b, _ = cluster.instances
    widget = Widget(cluster.http)
    thread = await queued(cluster, widget, b)

    cluster.fake.webhook_url = cluster.webhook(a)
    assert (await cluster.fake.join(thread, name="Sanne"))[0] == 200
    await widget.until(lambda f: f["type"] == "state" and f["state"] == "agent", timeout=10)
    assert (await cluster.fake.say(thread, "Goedemorgen, u spreekt met Sanne"))[0] == 200
    await widget.until(lambda f: f["type"] == "message" and f["party"] == "agent", timeout=10)
    assert widget.agent_texts() == ["Goedemorgen, u spreekt met Sanne"]
    # B delivered it: A committed it and left the socket's conversation to B.
    assert await cluster.deliveries(b, "citizen") >= 1, await cluster.metrics(b)


async def test_agent_typing_reported_to_one_instance_shows_on_the_socket_of_another(
    cluster: Cluster,
) -> None:
    """Typing is never stored: it crosses instances as a store hint (NOTIFY)."""
    a, b, _ = cluster.instances
    widget = Widget(cluster.http)
    thread = await queued(cluster, widget, b)
    cluster.fake.webhook_url = cluster.webhook(a)
    assert (await cluster.fake.join(thread, name="Sanne"))[0] == 200
    await widget.until(lambda f: f["type"] == "state" and f["state"] == "agent", timeout=10)
    assert (await cluster.fake.typing(thread, on=True))[0] == 200
    await widget.until(lambda f: f["type"] == "typing" and f["party"] == "agent" and f["on"],
                       timeout=10)
    assert (await cluster.fake.typing(thread, on=False))[0] == 200
    await widget.until(lambda f: f["type"] == "typing" and f["party"] == "agent"
                       and not f["on"], timeout=10)


@pytest.mark.parametrize("cluster", [30.0], indirect=True)
async def test_a_long_poll_on_one_instance_is_answered_by_work_done_on_others(
    cluster: Cluster,
) -> None:
    a, b, _ = cluster.instances
    http = cluster.http
    async with http.post(f"{a.url}/rest/conversations", json={"tenant": "demo"}) as resp:
        opened = await resp.json()
    path = f"/rest/conversations/{opened['conversation_id']}/messages"
    auth = {"Authorization": f"Bearer {opened['token']}"}
    # The citizen's long-poll waits on B (up to 20 s) while the message goes to A.
    poll = asyncio.create_task(http.get(f"{b.url}{path}", params={"after": "1", "wait": "20"},
                                        headers=auth))
    await asyncio.sleep(0.5)
    started = asyncio.get_running_loop().time()
    body = {"message_id": "m1", "text": "Wanneer wordt het afval opgehaald?"}
    async with http.post(f"{a.url}{path}", json=body, headers=auth) as resp:
        assert resp.status == 202
    async with await poll as resp:
        got = await resp.json()
    elapsed = asyncio.get_running_loop().time() - started
    assert [m["party"] for m in got["messages"]] == ["bot"]
    # Woken by the delivery that came to B, not by the end of its 20 s wait.
    assert elapsed < 10, elapsed


async def test_the_citizen_resumes_on_another_instance_when_one_is_killed(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.instances
    widget = Widget(cluster.http)
    thread = await queued(cluster, widget, b)
    cluster.fake.webhook_url = cluster.webhook(a)
    await cluster.fake.join(thread)
    texts = [f"bericht {n}" for n in range(30)]

    async def agent_writes() -> None:
        for n, text in enumerate(texts):
            # The load balancer spreads the desk's webhooks over the live instances.
            target = a if n % 2 else c
            cluster.fake.webhook_url = cluster.webhook(target)
            status, _ = await cluster.fake.say(thread, text)
            assert status == 200
            if n == 10:
                b.kill()  # SIGKILL, mid-stream, with the citizen's socket on it
            await asyncio.sleep(0.02)

    writer = asyncio.create_task(agent_writes())
    try:
        with pytest.raises(ConnectionError):
            await widget.until(lambda f: False, timeout=20)
        # The widget reconnects (the load balancer now sends it to C).
        welcome = await widget.connect(c)
        assert welcome["resumed"] is True
        await writer
        await widget.until(lambda f: widget.agent_texts()[-1:] == texts[-1:], timeout=20)
    finally:
        writer.cancel()
    assert widget.agent_texts() == texts
    seqs = [f["seq"] for f in widget.seen]
    assert seqs == sorted(set(seqs))


async def test_outbox_work_is_spread_over_instances_and_sent_once(cluster: Cluster) -> None:
    a, b, c = cluster.instances
    widgets = [Widget(cluster.http) for _ in range(6)]
    threads = await asyncio.gather(
        *(queued(cluster, w, cluster.instances[i % 3]) for i, w in enumerate(widgets))
    )

    async def citizen_writes(widget: Widget) -> None:
        assert widget.ws is not None
        for n in range(10):
            await widget.ws.send_json({"type": "message", "message_id": f"m{n}",
                                       "text": f"vraag {n}"})

    await asyncio.gather(*(citizen_writes(w) for w in widgets))
    fake = cluster.fake

    def texts(thread: str) -> list[str]:
        return [p["content"] for p in fake.threads[thread] if p["content"].startswith("vraag")]

    await fake.wait_for(lambda: all(len(texts(t)) >= 10 for t in threads), timeout=30)
    for thread in threads:
        assert texts(thread) == [f"vraag {n}" for n in range(10)]
    # Each message reached the desk in one request: none was sent twice.
    ids = [body["messageId"] for op, _, body in fake.requests if op == "ingest"]
    assert len(ids) == len(set(ids))
    sent = [await cluster.deliveries(d, "desk") for d in (a, b, c)]
    assert sum(1 for n in sent if n > 0) >= 2, sent


async def test_two_tabs_on_two_instances_both_get_live_messages(cluster: Cluster) -> None:
    """The conversation open in two tabs, whose sockets A and B hold: the agent's
    messages (whichever instance delivers them) and what the citizen types in one tab
    show live in both, once each and in order."""
    a, b, c = cluster.instances
    first = Widget(cluster.http)
    thread = await queued(cluster, first, a)
    second = Widget(cluster.http, conversation_id=first.conversation_id, token=first.token)
    await second.connect(b)  # B now holds the conversation's connection lease
    cluster.fake.webhook_url = cluster.webhook(c)
    assert (await cluster.fake.join(thread, name="Sanne"))[0] == 200
    texts = [f"bericht {n}" for n in range(5)]
    for text in texts:
        assert (await cluster.fake.say(thread, text))[0] == 200
    for tab in (first, second):
        await tab.until(lambda f, tab=tab: tab.agent_texts()[-1:] == texts[-1:], timeout=10)
        assert tab.agent_texts() == texts
    assert second.ws is not None
    await second.ws.send_json({"type": "message", "message_id": "t2",
                               "text": "Ik typ in het andere tabblad"})
    await first.until(lambda f: f["type"] == "message" and f["party"] == "citizen"
                      and f["content"]["text"] == "Ik typ in het andere tabblad", timeout=10)
    for tab in (first, second):
        seqs = [f["seq"] for f in tab.seen]
        assert seqs == sorted(set(seqs)), seqs


async def test_a_page_hidden_and_closed_on_an_instance_that_dies_counts_as_left(
    cluster: Cluster,
) -> None:
    """The grace period is kept in the database: B saw the hidden page close and died;
    another instance tells the desk the citizen left."""
    _, b, _ = cluster.instances
    widget = Widget(cluster.http)
    thread = await queued(cluster, widget, b)
    await widget.close_while_hidden()
    await asyncio.sleep(0.3)  # B records the departure when it sees the socket close
    b.kill()  # SIGKILL within the grace period, its timer with it

    def closes() -> list[str]:
        return [p["metadata"].get("reason", "") for p in cluster.fake.posts(thread, "close")]

    await cluster.fake.wait_for(lambda: bool(closes()), timeout=15)
    assert closes() == ["citizen_left"]


async def test_a_page_back_on_another_instance_within_the_grace_is_not_leaving(
    cluster: Cluster,
) -> None:
    a, b, _ = cluster.instances
    widget = Widget(cluster.http)
    thread = await queued(cluster, widget, b)
    await widget.close_while_hidden()
    await asyncio.sleep(0.3)
    await widget.connect(a)  # the next page's widget, on another instance (B lives on)
    await asyncio.sleep(3.0)  # well past the grace period and a sweep
    assert cluster.fake.posts(thread, "close") == []
