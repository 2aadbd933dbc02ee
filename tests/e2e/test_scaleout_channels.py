"""Every channel against both desks on three daemon processes sharing one PostgreSQL
database, with a SIGKILL mid-conversation.

One conversation per combination (channel x desk). The citizen starts on instance B
(web and socket.io hold their connection there; REST and WhatsApp requests go round
the instances, and the one B accepts is the last before the kill); the agent is on A
and C: with the console two agents race for the pick-up on A and C and exactly one
wins, with OBI4wan the desk's webhooks alternate between A and C. In the third
exchange B is killed with SIGKILL while a burst of the agent's answers is on its way to
it; the citizen moves to C (a connection resumes there), B is restarted, and the conversation
goes on over all three. Then on both sides every acknowledged message arrived once,
in order: the citizen saw every answer, the agent every question.

socket.io long-polling is tested through affinity, as deployed (deploy/nginx.conf hashes
the client address): the polling client is pinned to B and moves to C when B dies.

On a VoiceAI call the handover is a transfer to the contact centre's phone line, not a
chat (adapters/voiceai/README.md): the desk takes no part, and the contact centre's
side is the transcript it fetches with the transfer's reference. The call's requests
alternate over the instances and the one that took the last request is killed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.scaleout_parties import (
    ASK_FOR_PERSON,
    Citizen,
    ConsoleDesk,
    Desk,
    Obi4wanDesk,
    RestCitizen,
    SocketioCitizen,
    WebCitizen,
    WhatsAppCitizen,
)
from tests.e2e.scaleout_support import (
    CONSOLE_DESK,
    OBI4WAN_DESK,
    REST,
    SOCKETIO,
    VOICE_BOT_TOKEN,
    VOICE_TRANSCRIPT_TOKEN,
    VOICEAI,
    WEB,
    WHATSAPP,
    RoutedGraph,
    config,
    console_env,
    obi4wan_env,
    on,
    running,
    voiceai_env,
    whatsapp_env,
)
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.fakes.voiceai_gateway import FakeGateway
from tests.pgserver import PgServer
from tests.store.conftest import fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

CHANNELS = ["web", "webchat", "rest", "wa", "phone"]
#: A killed instance's claimed outbox items come back after `lease_seconds`: short here,
#: so the suite does not wait out the default half minute per combination.
DELIVERY = "poll_seconds = 0.2\nlease_seconds = 3"
TEMPLATES = {
    desk: config(REST, WEB, SOCKETIO, WHATSAPP, VOICEAI, section, channels=CHANNELS,
                 poll=DELIVERY)
    for desk, section in (("console", CONSOLE_DESK), ("obi4wan", OBI4WAN_DESK))
}
EXCHANGES = 6
KILL_AFTER = 2  # B dies during this exchange's answers
BURST = 4  # the agent's answers in that exchange
SETTLE_SECONDS = 30.0


@dataclass
class Stack:
    desk: str
    instances: list[DaemonProcess]
    http: aiohttp.ClientSession
    graph: RoutedGraph
    obi4wan: FakeObi4wan


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=list(TEMPLATES))
async def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                pg_server: PgServer) -> AsyncIterator[Stack]:
    """Three instances with every channel and one desk (the parameter), shared by the
    combinations of that desk."""
    desk: str = request.param
    graph, obi4wan = RoutedGraph(), FakeObi4wan()
    await graph.start()
    await obi4wan.start()
    env = {"HANDOVER_TEST_DSN": await fresh_database(pg_server), **obi4wan_env(obi4wan),
           **console_env(), **whatsapp_env(graph), **voiceai_env()}
    root = tmp_path_factory.mktemp(f"scaleout-{desk}")
    try:
        async with running(root, TEMPLATES[desk], env,
                           [graph.graph_url(n) for n in range(3)]) as instances:
            graph.instances = instances
            async with aiohttp.ClientSession() as http:
                yield Stack(desk, instances, http, graph, obi4wan)
    finally:
        await graph.stop()
        await obi4wan.stop()


def citizen_for(channel: str, stack: Stack) -> Citizen:
    if channel == "web":
        return WebCitizen(stack.http)
    if channel == "rest":
        return RestCitizen(stack.http)
    if channel == "wa":
        return WhatsAppCitizen(stack.graph, "31612345678")
    return SocketioCitizen(channel.removeprefix("webchat-"))


def desk_for(stack: Stack) -> Desk:
    a, _, c = stack.instances
    if stack.desk == "console":
        return ConsoleDesk(stack.http, a, c)
    return Obi4wanDesk(stack.obi4wan, a)


async def kill_and_restart(stack: Stack, victim: DaemonProcess, citizen: Citizen) -> None:
    """SIGKILL `victim`; the citizen moves to C; the victim comes back."""
    index = stack.instances.index(victim)
    stack.graph.dead.add(index)  # Meta's statuses go to live instances only
    victim.kill()
    await citizen.moved(stack.instances[2])
    await victim.start(timeout=60)
    stack.graph.dead.discard(index)


@pytest.mark.parametrize("channel", ["web", "webchat-websocket", "webchat-polling", "rest", "wa"])
async def test_every_message_once_in_order_across_a_sigkill(stack: Stack, channel: str) -> None:
    a, b, c = stack.instances
    citizen, desk = citizen_for(channel, stack), desk_for(stack)
    # Webhook channels' requests go round the instances; the one B takes is the last
    # before the kill. Connection channels stay on B until it dies.
    rounds = [c, a, b]
    questions = [f"vraag {n}" for n in range(EXCHANGES)]
    answers: list[str] = []  # in the order the agent said them
    try:
        await desk.prepare()
        await citizen.start(b)
        await citizen.ask_for_person(b)
        await desk.pick_up()
        for n in range(EXCHANGES):
            await citizen.say(questions[n], rounds[n % 3])
            if n != KILL_AFTER:
                answers.append(f"antwoord {n}")
                await desk.say(answers[-1], (a, c)[n % 2])
                await asyncio.sleep(0.1)
                continue
            # A burst of answers while B, which holds the citizen, dies: some reach B's
            # socket or claim, some wait for the citizen's next instance.
            burst = [f"antwoord {n}.{k}" for k in range(BURST)]
            answers.extend(burst)
            first_taken = asyncio.Event()

            async def stream(burst: list[str] = burst, first_taken: asyncio.Event = first_taken
                             ) -> None:
                for k, text in enumerate(burst):
                    await desk.say(text, (a, c)[k % 2])
                    first_taken.set()
                    await asyncio.sleep(0.02)

            streaming = asyncio.create_task(stream())
            await first_taken.wait()
            assert citizen.holder is b
            await kill_and_restart(stack, b, citizen)
            await streaming

        async def shown() -> list[str]:
            if isinstance(desk, ConsoleDesk):
                await desk.pump()
            return await citizen.agent_texts()

        async with asyncio.timeout(SETTLE_SECONDS):
            while (len(await shown()) < len(answers)
                   or len(desk.citizen_texts()) < len(questions)):
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # room for a double to show up
        assert await shown() == answers
        assert desk.citizen_texts() == questions
        if channel == "wa":
            # Meta's status webhooks were taken by instances that had not sent the message.
            posts = stack.graph.status_posts
            assert posts and all(s != r and code == 200 for s, r, code in posts), posts
    finally:
        await citizen.close()
        await desk.close()


async def test_a_voice_call_across_a_sigkill_hears_each_answer_once(stack: Stack) -> None:
    a, b, c = stack.instances
    gateway = FakeGateway(stack.http, URL(f"{c.url}/phone/bots/demo"), VOICE_BOT_TOKEN,
                          budget_seconds=3.0)
    call = await gateway.call()
    assert (await on(call, c).start()).status == 200
    turns = {
        "Ik heb een vraag over mijn paspoort": "Een paspoort of ID-kaart",
        "Wanneer wordt het afval opgehaald?": "Op de afvalkalender",
        "Ik ga verhuizen": "Een verhuizing",
        "Hoe kom ik aan een parkeervergunning?": "Een parkeervergunning",
    }
    rounds = [a, b, c]
    for n, (said, expected) in enumerate(turns.items()):
        answer = await on(call, rounds[n % 3]).say(said)
        assert answer.status == 200, answer.body
        assert [t for t in answer.texts if t.startswith(expected)], (said, answer.texts)
        if rounds[n % 3] is b:
            b.kill()  # SIGKILL: the instance that took the call's last request
            rounds = [a, c, a]
    await b.start(timeout=60)
    transfer = await on(call, b).say(ASK_FOR_PERSON)
    assert transfer.status == 200 and transfer.event("transfer") is not None, transfer.body
    # Nothing said twice in the turns, and the transfer sent once.
    assert len(call.heard) == len(set(call.heard)), call.heard
    assert (await on(call, a).silence()).event("transfer") is None
    assert len(call.transfers) == 1, call.transfers

    # The contact centre's side: the transcript behind the transfer's reference.
    (header,) = call.transfers[0]["transferSipHeaders"]
    async with stack.http.get(f"{c.url}/phone/transcripts/{header['value']}",
                              headers={"Authorization": f"Bearer {VOICE_TRANSCRIPT_TOKEN}"}
                              ) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    said = [e["text"] for e in body["entries"] if e["party"] == "citizen"]
    assert said == [*turns, ASK_FOR_PERSON]
