"""WhatsApp and VoiceAI Connect on three daemon processes sharing one PostgreSQL database.

A load balancer without affinity spreads Meta's webhooks and the voice gateway's
requests over the instances. WhatsApp: the citizen's messages land on A, B and C in
turn, the agent (the fake OBI4wan desk) answers through any instance, the status
webhook of each send reaches an instance other than the one that sent it, and one
instance is killed with SIGKILL mid-conversation; the citizen gets every agent message
once, in order, and the desk every citizen message once; likewise when the instance
that is sending an agent's message dies after Meta took it (the status, landing
elsewhere, keeps the retry from sending it again). VoiceAI Connect: one call's
requests alternate between the instances; each answer comes in its own turn, within
the response budget, nothing is spoken twice and the transfer is sent once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.scaleout_support import (
    OBI4WAN_DESK,
    VOICE_BOT_TOKEN,
    VOICEAI,
    WHATSAPP,
    RoutedGraph,
    config,
    obi4wan_env,
    on,
    running,
    voiceai_env,
    whatsapp_env,
)
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.fakes.voiceai_gateway import Answer, FakeGateway
from tests.pgserver import PgServer
from tests.store.conftest import fresh_database

pytestmark = pytest.mark.slow

CITIZEN = "31612345678"
BOT_TOKEN = VOICE_BOT_TOKEN
BUDGET = 3.0

# `{bot_options}` carries the instance's own Graph API address (see RoutedGraph).
TEMPLATE = config(WHATSAPP, VOICEAI, OBI4WAN_DESK, channels=["wa", "phone"])


@dataclass
class Cluster:
    graph: RoutedGraph
    desk: FakeObi4wan
    instances: list[DaemonProcess]
    http: aiohttp.ClientSession


@pytest.fixture
async def cluster(tmp_path: Path, pg_server: PgServer) -> AsyncIterator[Cluster]:
    graph = RoutedGraph()
    await graph.start()
    desk = FakeObi4wan()
    await desk.start()
    env = {"HANDOVER_TEST_DSN": await fresh_database(pg_server), **obi4wan_env(desk),
           **whatsapp_env(graph), **voiceai_env()}
    try:
        async with running(tmp_path, TEMPLATE, env,
                           [graph.graph_url(n) for n in range(3)]) as instances:
            graph.instances = instances
            async with aiohttp.ClientSession() as http:
                yield Cluster(graph, desk, instances, http)
    finally:
        await graph.stop()
        await desk.stop()


async def test_whatsapp_across_instances_with_a_sigkill_each_message_once_in_order(
    cluster: Cluster,
) -> None:
    graph, desk = cluster.graph, cluster.desk
    _, b, c = cluster.instances
    live = [0, 1, 2]
    turn = 0

    async def citizen_says(text: str) -> None:
        nonlocal turn
        target = cluster.instances[live[turn % len(live)]]
        turn += 1
        status = await graph.post_to(target, graph.batch(graph.value([graph.text(CITIZEN, text)])))
        assert status == 200, (text, status)

    await citizen_says("Hoe laat gaat het gemeentehuis open?")
    await graph.wait_for(lambda: len(graph.sent) >= 1, timeout=15)
    await citizen_says("Ik wil een medewerker spreken")
    await desk.wait_for(lambda: len(desk.threads) == 1, timeout=20)
    (thread,) = desk.threads
    desk.webhook_url = f"{c.url}/desk/webhook"
    assert (await desk.join(thread))[0] == 200

    questions = [f"vraag {n}" for n in range(10)]
    answers = [f"antwoord {n}" for n in range(10)]
    for n in range(10):
        await citizen_says(questions[n])
        desk.webhook_url = f"{cluster.instances[live[n % len(live)]].url}/desk/webhook"
        status, _ = await desk.say(thread, answers[n])
        assert status == 200
        if n == 4:
            # SIGKILL, mid-conversation: B may hold claimed outbox work and a send.
            graph.dead.add(1)
            b.kill()
            live.remove(1)
        await asyncio.sleep(0.1)

    def agent_texts() -> list[str]:
        return [t for t in graph.texts() if "antwoord" in t]

    def desk_texts() -> list[str]:
        return [t for t in desk.texts(thread) if t.startswith("vraag")]

    await graph.wait_for(lambda: len(agent_texts()) >= 10, timeout=60)
    await desk.wait_for(lambda: len(desk_texts()) >= 10, timeout=30)
    await asyncio.sleep(2.0)  # room for a double to show up
    assert [t.rsplit("antwoord ", 1)[-1] for t in agent_texts()] == [str(n) for n in range(10)], (
        graph.texts())
    assert desk_texts() == questions
    # Every status webhook was taken by an instance that did not send the message.
    assert graph.status_posts and all(s != r and code == 200
                                      for s, r, code in graph.status_posts), graph.status_posts
    assert len(set(graph.senders)) >= 2, graph.senders


async def test_a_voice_call_alternating_over_three_instances_hears_each_answer_in_its_turn(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.instances
    gateway = FakeGateway(cluster.http, URL(f"{a.url}/phone/bots/demo"), BOT_TOKEN,
                          budget_seconds=BUDGET)
    call = await gateway.call()
    order = [b, c, a]
    answers: list[Answer] = [await on(call, order[0]).start()]
    # Each said thing has its own answer from the demo bot, so a late one shows.
    turns = {
        "Ik heb een vraag over mijn paspoort": "Een paspoort of ID-kaart",
        "Wanneer wordt het afval opgehaald?": "Op de afvalkalender",
        "Ik ga verhuizen": "Een verhuizing",
        "Hoe kom ik aan een parkeervergunning?": "Een parkeervergunning",
        "Wat zijn de openingstijden?": "Het gemeentehuis is open",
    }
    for n, said in enumerate(turns, start=1):
        answers.append(await on(call, order[n % 3]).say(said))
    assert all(answer.status == 200 for answer in answers), [x.body for x in answers]
    assert answers[0].texts, "no greeting"
    for answer, (said, expected) in zip(answers[1:], turns.items(), strict=True):
        assert any(text.startswith(expected) for text in answer.texts), (said, answer.texts)
        assert all(not text.startswith(other) for text in answer.texts
                   for other in turns.values() if other != expected), (said, answer.texts)
    # In its own turn and well within the budget (not released at its end).
    assert all(answer.seconds < 2.0 for answer in answers), [
        round(answer.seconds, 2) for answer in answers]

    transfer = await on(call, order[len(answers) % 3]).say("Ik wil een medewerker spreken")
    answers.append(transfer)
    assert transfer.status == 200 and transfer.seconds < 2.0, (transfer.seconds, transfer.body)
    assert transfer.event("transfer") is not None, transfer.activities
    # Nothing said twice in the turns (a silence, below, repeats the last thing by design).
    assert len(call.heard) == len(set(call.heard)), call.heard
    # The next requests, on the other instances, do not transfer again.
    for instance in (order[(len(answers)) % 3], order[(len(answers) + 1) % 3]):
        later = await on(call, instance).silence()
        assert later.event("transfer") is None, later.activities
    assert len(call.transfers) == 1, call.transfers


async def test_whatsapp_sender_killed_after_meta_took_the_message_never_sends_it_twice(
    cluster: Cluster,
) -> None:
    """The instance sending an agent's message dies after Meta took it and before the
    answer; the status webhook lands on another instance, and the instance that retries
    the send (after the dead one's lease) finds it reconciled and does not send again."""
    graph, desk = cluster.graph, cluster.desk
    turn = 0

    async def to_any_live(post: Any) -> None:
        """As a load balancer and Meta's or the desk's retries do: on to the next live
        instance when one does not answer (the same payload: a retry)."""
        nonlocal turn
        for _ in range(6):
            live = graph.live()
            target = cluster.instances[live[turn % len(live)]]
            turn += 1
            try:
                status = await post(target)
            except aiohttp.ClientError:
                continue
            assert status == 200, status
            return
        raise AssertionError("no instance took it")

    async def citizen_says(text: str) -> None:
        payload = graph.batch(graph.value([graph.text(CITIZEN, text)]))
        await to_any_live(lambda d: graph.post_to(d, payload))

    async def agent_says(thread: str, text: str, n: int) -> None:
        event = desk.event("message.created", thread, agent={"id": "a1", "name": "Sanne"},
                           message={"id": f"m-agent-{n}", "content": text})

        async def post(d: DaemonProcess) -> int:
            return int((await desk.send(event, url=f"{d.url}/desk/webhook"))[0])
        await to_any_live(post)

    await citizen_says("Ik wil een medewerker spreken")
    await desk.wait_for(lambda: len(desk.threads) == 1, timeout=20)
    (thread,) = desk.threads
    desk.webhook_url = f"{cluster.instances[2].url}/desk/webhook"
    assert (await desk.join(thread))[0] == 200

    graph.kill_from = 3
    questions = [f"vraag {n}" for n in range(8)]
    answers = [f"antwoord {n}" for n in range(8)]
    for n in range(8):
        await citizen_says(questions[n])
        await agent_says(thread, answers[n], n)
        await asyncio.sleep(0.1)

    def agent_texts() -> list[str]:
        return [t for t in graph.texts() if t.startswith("antwoord")]

    def desk_texts() -> list[str]:
        return [t for t in desk.texts(thread) if t.startswith("vraag")]

    # The dead instance's claim on the conversation's outbox runs out first (its lease).
    await graph.wait_for(lambda: len(agent_texts()) >= 8, timeout=90)
    await desk.wait_for(lambda: len(desk_texts()) >= 8, timeout=30)
    await asyncio.sleep(2.0)  # room for a double to show up
    assert graph.killed is not None
    assert agent_texts() == answers, graph.texts()
    assert desk_texts() == questions
    assert all(s != r and code == 200 for s, r, code in graph.status_posts), graph.status_posts
