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
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from tests.e2e.daemon_process import DaemonProcess
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.fakes.voiceai_gateway import Answer, FakeCall, FakeGateway
from tests.fakes.whatsapp_server import VERSION, FakeGraph
from tests.pgserver import PgServer
from tests.store.conftest import fresh_database

pytestmark = pytest.mark.slow

CITIZEN = "31612345678"
BOT_TOKEN = "gateway-token-0123456789"
BUDGET = 3.0

# `{bot_options}` carries the instance's own Graph API address (see RoutedGraph).
TEMPLATE = """
[server]
host = "127.0.0.1"
port = {port}
admin_tokens = ["${{HANDOVER_TEST_ADMIN_TOKEN}}"]
drain_seconds = 5

[store]
engine = "postgres"
dsn = "${{HANDOVER_TEST_DSN}}"

[delivery]
poll_seconds = 0.2
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.5

[logging]
level = "info"
format = "json"

[adapters.wa]
type = "whatsapp"
graph_url = "{bot_options}"
api_version = "v21.0"
access_token = "${{WA_TOKEN}}"
app_secret = "${{WA_SECRET}}"
verify_token = "${{WA_VERIFY}}"
public_url = "https://handover.test/wa"
media_dir = "{data}/media"
request_timeout_seconds = 2
reconcile_seconds = 5
[adapters.wa.tenants.demo]
phone_number_id = "1065550001"
template_name = "agent_reply"
template_language = "nl"

[adapters.phone]
type = "voiceai"
bot_token = "${{VOICE_BOT_TOKEN}}"
transcript_token = "${{VOICE_TRANSCRIPT_TOKEN}}"
reference_secret = "${{VOICE_REF_SECRET}}"
response_budget_seconds = 3
[adapters.phone.tenants.demo]
transfer_target = "tel:+31302860000"

[adapters.gem]
type = "demo_bot"

[adapters.desk]
type = "obi4wan"
api_url = "${{OBI_URL}}"
channel_identifier = "11111111-2222-3333-4444-555555555555"
channel_token = "${{OBI_TOKEN}}"
chat_guid = "chat-guid-1"
webhook_secret = "${{OBI_SECRET}}"
availability_cache_seconds = 0
queue_poll_seconds = 0

[tenants.demo]
name = "Gemeente Voorbeeld"
channels = ["wa", "phone"]
bot = "gem"
desk = "desk"

[tenants.demo.handover]
phone = "14 0000"
"""


class RoutedGraph(FakeGraph):
    """The fake Graph API, reached by each instance under its own path prefix, so that
    it knows which instance sent what; each accepted send is reported back by a status
    webhook posted to another live instance, as Meta's statuses land wherever the load
    balancer sends them."""

    def __init__(self) -> None:
        super().__init__()
        #: The instance (its index) that made each accepted send, in order.
        self.senders: list[int] = []
        self.instances: list[DaemonProcess] = []
        self.dead: set[int] = set()
        self.status_posts: list[tuple[int, int, int]] = []  # (sender, receiver, http status)
        #: Kill the instance that sends "antwoord <n>" for the first n at or above this,
        #: once Meta has taken the message and before its answer leaves.
        self.kill_from: int | None = None
        self.killed: tuple[int, str] | None = None

    def live(self) -> list[int]:
        return [i for i in range(len(self.instances)) if i not in self.dead]

    def routes(self) -> list[web.RouteDef]:
        # Each instance under its own prefix, so the fake knows who sent what.
        return [
            web.post(f"/{{instance}}/{VERSION}/{{number}}/messages", self._routed),
            web.get(f"/{{instance}}/{VERSION}/{{media_id}}", self._media_info),
            web.get("/download/{media_id}", self._download),
        ]

    def graph_url(self, index: int) -> str:
        return f"{self.url}/{index}"

    async def _routed(self, request: web.Request) -> web.StreamResponse:
        sender = int(request.match_info["instance"])
        before = len(self.sent)
        response = await self._messages(request)
        if len(self.sent) > before:
            self.senders.append(sender)
            task = asyncio.get_running_loop().create_task(
                self._report(sender, self.sent[-1]))
            self._reports.add(task)
            task.add_done_callback(self._reports.discard)
            text = str(self.sent[-1].get("text", {}).get("body", ""))
            if (self.kill_from is not None and text.startswith("antwoord ")
                    and int(text.split()[1]) >= self.kill_from):
                self.kill_from = None
                self.killed = (sender, text)
                self.dead.add(sender)
                self.instances[sender].kill()  # SIGKILL, the answer never arrives
                assert request.transport is not None
                request.transport.abort()
        return response

    async def _report(self, sender: int, sent: dict[str, Any]) -> None:
        await asyncio.sleep(0.05)  # after the answer, as Meta's statuses usually come
        live = [i for i in self.live() if i != sender]
        receiver = live[len(self.status_posts) % len(live)]
        for status in ("sent", "delivered"):
            code = await self.post_to(self.instances[receiver],
                                      self.batch(self.value(statuses=[self.status_of(sent, status)])))
            self.status_posts.append((sender, receiver, code))

    async def post_to(self, instance: DaemonProcess, payload: dict[str, Any]) -> int:
        """A signed webhook post to one instance (Meta's side)."""
        raw = json.dumps(payload).encode()
        digest = hmac.new(self.app_secret.encode(), raw, hashlib.sha256).hexdigest()
        assert self._http is not None
        async with self._http.post(f"{instance.url}/wa/webhook", data=raw, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}",
        }) as resp:
            await resp.read()
            return resp.status


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
    env = {
        "HANDOVER_TEST_DSN": await fresh_database(pg_server),
        "OBI_URL": desk.url, "OBI_TOKEN": desk.channel_token, "OBI_SECRET": desk.webhook_secret,
        "WA_TOKEN": graph.token, "WA_SECRET": graph.app_secret, "WA_VERIFY": graph.verify_token,
        "VOICE_BOT_TOKEN": BOT_TOKEN, "VOICE_TRANSCRIPT_TOKEN": "kcc-token-0123456789",
        "VOICE_REF_SECRET": "reference-secret-0123456789",
    }
    instances = [
        DaemonProcess(tmp_path / name, graph.graph_url(n), template=TEMPLATE, env=env)
        for n, name in enumerate("abc")
    ]
    graph.instances = instances
    try:
        # Together, on a database none of them has migrated yet.
        await asyncio.gather(*(d.start(timeout=60) for d in instances))
        async with aiohttp.ClientSession() as http:
            yield Cluster(graph, desk, instances, http)
    finally:
        for d in instances:
            d.terminate()
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


def on(call: FakeCall, instance: DaemonProcess) -> FakeCall:
    """The call's next requests go to `instance` (same paths, another instance)."""
    for key, url in call.urls.items():
        call.urls[key] = URL(instance.url).with_path(url.path)
    return call


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
