"""What the scale-out suites share: daemon processes on one PostgreSQL database, their
configuration in pieces, and the citizens', agents' and Meta's side of the wire.

A suite builds its configuration from the sections here (`config`), starts three
instances on a fresh database (`running`), and talks to them as a load balancer
would send a citizen, an agent or a webhook: to one instance or another.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiohttp import web
from yarl import URL

from tests.e2e.daemon_process import DaemonProcess
from tests.fakes.obi4wan_server import FakeObi4wan
from tests.fakes.voiceai_gateway import FakeCall
from tests.fakes.whatsapp_server import VERSION, FakeGraph

ORIGIN = "https://www.gemeente.example"
CONSOLE_TOKENS = {"sanne": "sanne-token-0123456789abcdef",
                  "ahmed": "ahmed-token-0123456789abcdef"}
VOICE_BOT_TOKEN = "gateway-token-0123456789"
VOICE_TRANSCRIPT_TOKEN = "kcc-token-0123456789"

# --- configuration, in sections (formatted by DaemonProcess: `{{` is a brace) --------

HEAD = """
[server]
host = "127.0.0.1"
port = {port}
admin_tokens = ["${{HANDOVER_TEST_ADMIN_TOKEN}}"]
drain_seconds = 5

[store]
engine = "postgres"
dsn = "${{HANDOVER_TEST_DSN}}"

[logging]
level = "info"
format = "json"
"""

REST = """
[adapters.rest]
type = "rest"
"""

WEB = """
[adapters.web]
type = "web"
[adapters.web.tenants.demo]
origins = ["https://www.gemeente.example"]
"""

SOCKETIO = """
[adapters.webchat]
type = "socketio"
[adapters.webchat.tenants.demo]
origins = ["https://www.gemeente.example"]
"""

#: `{bot_options}` is the instance's own Graph API address (see RoutedGraph).
WHATSAPP = """
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
"""

VOICEAI = """
[adapters.phone]
type = "voiceai"
bot_token = "${{VOICE_BOT_TOKEN}}"
transcript_token = "${{VOICE_TRANSCRIPT_TOKEN}}"
reference_secret = "${{VOICE_REF_SECRET}}"
response_budget_seconds = 3
[adapters.phone.tenants.demo]
transfer_target = "tel:+31302860000"
"""

DEMO_BOT = """
[adapters.gem]
type = "demo_bot"
"""

OBI4WAN_DESK = """
[adapters.desk]
type = "obi4wan"
api_url = "${{OBI_URL}}"
channel_identifier = "11111111-2222-3333-4444-555555555555"
channel_token = "${{OBI_TOKEN}}"
chat_guid = "chat-guid-1"
webhook_secret = "${{OBI_SECRET}}"
availability_cache_seconds = 0
queue_poll_seconds = 0
"""

CONSOLE_DESK = """
[adapters.desk]
type = "console"
agents = [
  {{ id = "sanne", name = "Sanne", token = "${{CONSOLE_TOKEN_SANNE}}" }},
  {{ id = "ahmed", name = "Ahmed", token = "${{CONSOLE_TOKEN_AHMED}}" }},
]
"""


def delivery(poll: str = "poll_seconds = 0.2", *extra: str) -> str:
    """The `[delivery]` section: short backoff; `poll` may be `{bot_options}`."""
    return "\n".join(["", "[delivery]", poll, "backoff_base_seconds = 0.05",
                      "backoff_cap_seconds = 0.5", *extra, ""])


def tenant(channels: Sequence[str]) -> str:
    """Tenant `demo` on `channels`, with the demo bot and the desk named `desk`."""
    listed = ", ".join(f'"{c}"' for c in channels)
    return f"""
[tenants.demo]
name = "Gemeente Voorbeeld"
channels = [{listed}]
bot = "gem"
desk = "desk"

[tenants.demo.handover]
phone = "14 0000"
"""


def config(*sections: str, channels: Sequence[str], poll: str = "poll_seconds = 0.2") -> str:
    """A whole configuration: the head, `[delivery]`, `sections`, the demo bot, tenant."""
    return HEAD + delivery(poll) + "".join(sections) + DEMO_BOT + tenant(channels)


def obi4wan_env(fake: FakeObi4wan) -> dict[str, str]:
    return {"OBI_URL": fake.url, "OBI_TOKEN": fake.channel_token,
            "OBI_SECRET": fake.webhook_secret}


def console_env() -> dict[str, str]:
    return {"CONSOLE_TOKEN_SANNE": CONSOLE_TOKENS["sanne"],
            "CONSOLE_TOKEN_AHMED": CONSOLE_TOKENS["ahmed"]}


def whatsapp_env(graph: FakeGraph) -> dict[str, str]:
    return {"WA_TOKEN": graph.token, "WA_SECRET": graph.app_secret,
            "WA_VERIFY": graph.verify_token}


def voiceai_env() -> dict[str, str]:
    return {"VOICE_BOT_TOKEN": VOICE_BOT_TOKEN, "VOICE_TRANSCRIPT_TOKEN": VOICE_TRANSCRIPT_TOKEN,
            "VOICE_REF_SECRET": "reference-secret-0123456789"}


@contextlib.asynccontextmanager
async def running(root: Path, template: str, env: dict[str, str],
                  options: Sequence[str] = ("", "", "")) -> AsyncIterator[list[DaemonProcess]]:
    """One daemon per entry of `options` (its `{bot_options}`), named a, b, c...,
    started together on a database none of them has migrated yet; stopped at the end."""
    instances = [DaemonProcess(root / chr(ord("a") + n), option, template=template, env=env)
                 for n, option in enumerate(options)]
    try:
        await asyncio.gather(*(d.start(timeout=60) for d in instances))
        yield instances
    finally:
        for d in instances:
            d.terminate()


# --- the citizen's side --------------------------------------------------------------


@dataclass
class WebWidget:
    """The citizen's web widget: one socket at a time, resuming on another instance."""

    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse | None = None
    conversation_id: str = ""
    token: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return max((f["seq"] for f in self.seen), default=0)

    async def connect(self, instance: DaemonProcess) -> dict[str, Any]:
        self.ws = await self.http.ws_connect(f"{instance.url}/web/ws?tenant=demo",
                                             headers={"Origin": ORIGIN})
        hello: dict[str, Any] = {"type": "hello", "tenant": "demo", "language": "nl"}
        if self.token:
            hello |= {"conversation_id": self.conversation_id, "token": self.token,
                      "last_seq": self.last_seq}
        await self.ws.send_json(hello)
        welcome = await self.frame()
        assert welcome["type"] == "welcome", welcome
        self.conversation_id = welcome["conversation_id"]
        self.token = welcome.get("token", self.token)
        return welcome

    async def frame(self, timeout: float = 15.0) -> dict[str, Any]:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket ended: {msg.type}")
        frame: dict[str, Any] = json.loads(msg.data)
        if frame["type"] == "message":
            self.seen.append(frame)
        return frame

    async def until(self, done: Any, timeout: float = 15.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frame(timeout)
                if done(frame):
                    return frame

    def agent_texts(self) -> list[str]:
        return [f["content"]["text"] for f in self.seen if f["party"] == "agent"]

    async def close_while_hidden(self) -> None:
        """The page is hidden, then the tab closes (its socket with it)."""
        assert self.ws is not None
        await self.ws.send_json({"type": "visibility", "hidden": True})
        await self.ws.send_json({"type": "ping"})
        await self.until(lambda f: f["type"] == "pong")  # the visibility frame was read
        await self.ws.close()


class SocketioWidget:
    """rasa-webchat as python-socketio: one connection at a time, the session id kept;
    `transports` as the widget offers them (["websocket"] or ["polling"])."""

    def __init__(self, transports: Sequence[str] = ("websocket",)) -> None:
        self.transports = list(transports)
        self.session_id: str | None = None
        self.seen: list[dict[str, Any]] = []
        self.client: socketio.AsyncClient | None = None
        self.arrived = asyncio.Event()

    async def connect(self, instance: DaemonProcess) -> None:
        client = socketio.AsyncClient(
            reconnection=False,
            http_session=lambda: aiohttp.ClientSession(headers={"Origin": ORIGIN}),
        )
        confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        @client.on("session_confirm")
        async def on_confirm(data: str) -> None:
            if not confirmed.done():
                confirmed.set_result(data)

        @client.on("bot_uttered")
        async def on_message(data: dict[str, Any]) -> None:
            self.seen.append(data)
            self.arrived.set()

        await client.connect(f"{instance.url}/?tenant=demo", transports=self.transports,
                             wait_timeout=10)
        await client.emit("session_request", {"session_id": self.session_id})
        self.session_id = await asyncio.wait_for(confirmed, 10)
        self.client = client

    async def say(self, text: str) -> Any:
        assert self.client is not None
        return await self.client.call("user_uttered", {
            "message": text, "session_id": self.session_id,
            "customData": {"language": "nl"}}, timeout=10)

    async def until(self, done: Any, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                self.arrived.clear()
                await self.arrived.wait()

    def agent_texts(self) -> list[str]:
        return [p["text"].split(": ", 1)[1] for p in self.seen
                if p["metadata"].get("party") == "agent" and "text" in p]

    async def close(self) -> None:
        if self.client is not None and self.client.connected:
            await self.client.disconnect()


def on(call: FakeCall, instance: DaemonProcess) -> FakeCall:
    """The call's next requests go to `instance` (same paths, another instance)."""
    for key, url in call.urls.items():
        call.urls[key] = URL(instance.url).with_path(url.path)
    return call


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
        if not live:
            return
        receiver = live[len(self.status_posts) % len(live)]
        for status in ("sent", "delivered"):
            try:
                code = await self.post_to(
                    self.instances[receiver],
                    self.batch(self.value(statuses=[self.status_of(sent, status)])))
            except aiohttp.ClientError:
                code = 0  # the receiver died meanwhile: Meta retries later, elsewhere
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


# --- the agent's side (the console) --------------------------------------------------


def live_protocols(token: str) -> tuple[str, ...]:
    """How the page signs in to the live socket (see adapters/console/live.py)."""
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    return ("handover.console", f"auth.{encoded}")


@dataclass
class AgentPage:
    """An agent's console page on one instance: its HTTP API and its live socket."""

    http: aiohttp.ClientSession
    base: str
    agent: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {CONSOLE_TOKENS[self.agent]}"}

    async def connect(self) -> None:
        self.ws = await self.http.ws_connect(
            f"{self.base}/desk/api/live", protocols=live_protocols(CONSOLE_TOKENS[self.agent]),
            headers={"Origin": self.base},
        )
        await self.next(lambda e: e["type"] == "ready")

    async def next(self, predicate: Callable[[dict[str, Any]], bool],
                   timeout: float = 10.0) -> dict[str, Any]:
        for event in self.events:
            if predicate(event):
                return event
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while True:
                event = await self.ws.receive_json()
                self.events.append(event)
                if predicate(event):
                    return event

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}/desk/api/{path}", headers=self.auth) as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}/desk/api/{path}", json=body,
                                  headers=self.auth) as resp:
            return resp.status, await resp.json()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
