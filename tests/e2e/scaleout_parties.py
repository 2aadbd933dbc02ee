"""The two sides of one conversation in the channel x desk scale-out suite, each behind
one small interface, so one script drives every combination.

A citizen side (`Citizen`) opens the conversation on an instance, asks for a person,
says acknowledged things, and shows what the agent said; `holder` is the instance that
holds its connection (web, socket.io) or accepted its last request (REST, WhatsApp).
A desk side (`Desk`) picks the thread up and answers through an instance of its
choice, and shows what reached the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from tests.e2e.daemon_process import Citizen as RestClient
from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.scaleout_support import AgentPage, RoutedGraph, SocketioWidget, WebWidget
from tests.fakes.obi4wan_server import FakeObi4wan

ASK_FOR_PERSON = "Ik wil een medewerker spreken"


def after_word(texts: Sequence[str], word: str) -> list[str]:
    """The texts that contain `word`, from it on (a channel may prefix a sender)."""
    return [t[t.index(word):] for t in texts if word in t]


class Citizen:
    """The citizen's side of one conversation on one channel."""

    holder: DaemonProcess

    async def start(self, instance: DaemonProcess) -> None:
        """Open the conversation on `instance` (a connection is held there)."""
        raise NotImplementedError

    async def ask_for_person(self, instance: DaemonProcess) -> None:
        raise NotImplementedError

    async def say(self, text: str, instance: DaemonProcess) -> None:
        """Say `text` and return once it is acknowledged; `instance` is where a
        request goes (a connection's channel uses its own)."""
        raise NotImplementedError

    async def moved(self, instance: DaemonProcess) -> None:
        """`holder` died: the load balancer sends the citizen to `instance` now."""

    async def agent_texts(self) -> list[str]:
        """What the citizen was shown from the agent, in order (pumping the socket)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Hang up what is still open."""


class WebCitizen(Citizen):
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.widget = WebWidget(http)

    async def start(self, instance: DaemonProcess) -> None:
        await self.widget.connect(instance)
        self.holder = instance

    async def _send(self, frame: dict[str, Any], ack: Callable[[dict[str, Any]], bool]) -> None:
        assert self.widget.ws is not None
        await self.widget.ws.send_json(frame)
        got = await self.widget.until(lambda f: f["type"] in ("ack", "error") and ack(f))
        assert got["type"] == "ack", got

    async def ask_for_person(self, instance: DaemonProcess) -> None:
        ref = uuid.uuid4().hex
        await self._send({"type": "action", "action": "request_agent", "action_id": ref},
                         lambda f: f.get("action_id") == ref)

    async def say(self, text: str, instance: DaemonProcess) -> None:
        ref = uuid.uuid4().hex
        await self._send({"type": "message", "message_id": ref, "text": text},
                         lambda f: f.get("message_id") == ref or f.get("ref") == ref)

    async def moved(self, instance: DaemonProcess) -> None:
        welcome = await self.widget.connect(instance)  # resumes after the last seq seen
        assert welcome["resumed"] is True
        self.holder = instance

    async def agent_texts(self) -> list[str]:
        with contextlib.suppress(TimeoutError):
            await self.widget.until(lambda f: False, timeout=0.2)
        return self.widget.agent_texts()

    async def close(self) -> None:
        if self.widget.ws is not None:
            await self.widget.ws.close()


class SocketioCitizen(Citizen):
    """rasa-webchat over one transport. Long-polling is pinned to one instance, as the
    load balancer's affinity (deploy/nginx.conf) pins it, and moves when it dies."""

    def __init__(self, transport: str) -> None:
        self.widget = SocketioWidget([transport])

    async def start(self, instance: DaemonProcess) -> None:
        await self.widget.connect(instance)
        self.holder = instance

    async def ask_for_person(self, instance: DaemonProcess) -> None:
        await self.say(ASK_FOR_PERSON, instance)

    async def say(self, text: str, instance: DaemonProcess) -> None:
        assert await self.widget.say(text) == {"outcome": "applied"}

    async def moved(self, instance: DaemonProcess) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.widget.close()
        await self.widget.connect(instance)  # with its session id: the same conversation
        self.holder = instance

    async def agent_texts(self) -> list[str]:
        return self.widget.agent_texts()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.widget.close()


class RestCitizen(Citizen):
    """Each request to the instance the load balancer picks."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.client = RestClient(http, "")

    def _on(self, instance: DaemonProcess) -> None:
        self.client.rebase(instance.url)
        self.holder = instance

    async def start(self, instance: DaemonProcess) -> None:
        self._on(instance)
        await self.client.open()

    async def ask_for_person(self, instance: DaemonProcess) -> None:
        self._on(instance)
        assert (await self.client.action("request_agent"))[0] == 202

    async def say(self, text: str, instance: DaemonProcess) -> None:
        self._on(instance)
        status, body = await self.client.say(text)
        assert status == 202, body

    async def agent_texts(self) -> list[str]:
        got = await self.client.messages(0)
        return [m["content"]["text"] for m in got["messages"] if m["party"] == "agent"]


class WhatsAppCitizen(Citizen):
    """Signed Meta-format webhooks to the instance the load balancer picks; Meta's
    status webhooks land on other instances (RoutedGraph)."""

    def __init__(self, graph: RoutedGraph, number: str) -> None:
        self.graph = graph
        self.number = number

    async def start(self, instance: DaemonProcess) -> None:
        await self.say("Hoe laat gaat het gemeentehuis open?", instance)

    async def ask_for_person(self, instance: DaemonProcess) -> None:
        await self.say(ASK_FOR_PERSON, instance)

    async def say(self, text: str, instance: DaemonProcess) -> None:
        payload = self.graph.batch(self.graph.value([self.graph.text(self.number, text)]))
        status = await self.graph.post_to(instance, payload)
        assert status == 200, (text, status)
        self.holder = instance

    async def agent_texts(self) -> list[str]:
        mine = [s for s in self.graph.sent if s.get("to") == self.number]
        return after_word([str(s.get("text", {}).get("body", "")) for s in mine], "antwoord")


class Desk:
    """The desk's side: its agent picks the thread up and answers."""

    async def prepare(self) -> None:
        """Before the citizen asks: agents online, the threads there are now noted."""

    async def pick_up(self) -> None:
        raise NotImplementedError

    async def say(self, text: str, instance: DaemonProcess) -> None:
        raise NotImplementedError

    def citizen_texts(self) -> list[str]:
        """What reached the agent from the citizen, once each, in order."""
        raise NotImplementedError

    async def close(self) -> None:
        """Sign out."""


class ConsoleDesk(Desk):
    """Two agents, on instances other than the citizen's, race for the pick-up; the
    winner answers through whichever instance the load balancer picks."""

    def __init__(self, http: aiohttp.ClientSession, first: DaemonProcess,
                 second: DaemonProcess) -> None:
        self.http = http
        self.pages = [AgentPage(http, first.url, "sanne"), AgentPage(http, second.url, "ahmed")]
        self.known: set[str] = set()
        self.thread = ""
        self.winner: AgentPage | None = None

    async def prepare(self) -> None:
        for page in self.pages:
            await page.connect()
        status, listed = await self.pages[0].get("threads")
        assert status == 200, listed
        self.known = {t["thread_id"] for t in listed["threads"]}

    async def pick_up(self) -> None:
        pushed = await self.pages[0].next(
            lambda e: e["type"] == "thread" and e["thread"]["thread_id"] not in self.known,
            timeout=20)
        self.thread = pushed["thread"]["thread_id"]
        results = await asyncio.gather(*(p.post(f"threads/{self.thread}/pickup")
                                         for p in self.pages))
        assert sorted(status for status, _ in results) == [200, 409], results
        self.winner = self.pages[0] if results[0][0] == 200 else self.pages[1]

    async def say(self, text: str, instance: DaemonProcess) -> None:
        assert self.winner is not None
        url = f"{instance.url}/desk/api/threads/{self.thread}/messages"
        async with self.http.post(url, json={"message_id": uuid.uuid4().hex, "text": text},
                                  headers=self.winner.auth) as resp:
            assert resp.status == 202, await resp.text()

    def citizen_texts(self) -> list[str]:
        # A push is a hint that may come twice after a crash; the page shows a message
        # id once (console.js), so count as it does.
        assert self.winner is not None
        shown: dict[str, str] = {}
        for event in self.winner.events:
            if (event["type"] == "message" and event["thread_id"] == self.thread
                    and event["entry"]["party"] == "citizen"):
                shown.setdefault(event["entry"]["message_id"], event["entry"]["text"] or "")
        return after_word(list(shown.values()), "vraag")

    async def pump(self) -> None:
        """Read what the live sockets have pushed so far."""
        for page in self.pages:
            with contextlib.suppress(TimeoutError):
                await page.next(lambda e: False, timeout=0.1)

    async def close(self) -> None:
        for page in self.pages:
            await page.close()


class Obi4wanDesk(Desk):
    """The fake OBI4wan; its agent's webhooks go to the instance the test picks."""

    def __init__(self, fake: FakeObi4wan, join_via: DaemonProcess) -> None:
        self.fake = fake
        self.join_via = join_via
        self.known: set[str] = set()
        self.thread = ""

    async def prepare(self) -> None:
        self.known = set(self.fake.threads)

    async def pick_up(self) -> None:
        await self.fake.wait_for(lambda: bool(set(self.fake.threads) - self.known), timeout=20)
        (self.thread,) = set(self.fake.threads) - self.known
        self.fake.webhook_url = f"{self.join_via.url}/desk/webhook"
        assert (await self.fake.join(self.thread))[0] == 200

    async def say(self, text: str, instance: DaemonProcess) -> None:
        self.fake.webhook_url = f"{instance.url}/desk/webhook"
        status, body = await self.fake.say(self.thread, text)
        assert status == 200, body

    def citizen_texts(self) -> list[str]:
        # The fake keeps one post per messageId, as OBI4wan does: a re-sent message
        # with its id is one message there.
        return after_word(self.fake.texts(self.thread), "vraag")
