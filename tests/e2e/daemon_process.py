"""Runs the real daemon as a subprocess on loopback and talks to it over HTTP.

Used by the end-to-end and crash tests: the REST citizen channel, the demo bot and the
demo desk (with its state file, so a restarted daemon's desk still knows its threads).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp

#: The sections every test daemon shares (server on loopback, SQLite under `data`,
#: fast delivery retries, JSON logs); a template adds its adapters and tenants.
COMMON_SECTIONS = """
[server]
host = "127.0.0.1"
port = {port}
admin_tokens = ["${{HANDOVER_TEST_ADMIN_TOKEN}}"]
drain_seconds = 5

[store]
path = "{data}/handover.db"

[delivery]
poll_seconds = 0.1
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.5

[logging]
level = "info"
format = "json"
"""

CONFIG = COMMON_SECTIONS + """
[adapters.rest]
type = "rest"

[adapters.gem]
type = "demo_bot"
{bot_options}

[adapters.desk]
type = "demo_desk"
state_path = "{data}/desk.jsonl"

[tenants.demo]
name = "Gemeente Voorbeeld"
channels = ["rest"]
bot = "gem"
desk = "desk"

[tenants.demo.handover]
phone = "14 0000"
queue_fallback = "bot"
"""

ADMIN_TOKEN = "test-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DaemonProcess:
    """One `handover run` subprocess with its own data directory."""

    def __init__(self, data: Path, bot_options: str = "", *, template: str = CONFIG,
                 env: dict[str, str] | None = None) -> None:
        """`template` is formatted with `port`, `data` and `bot_options`; `env` is added
        to the daemon's environment (secrets referenced by the configuration)."""
        self.data = data
        self.port = free_port()
        self.config = data / "handover.toml"
        self.env = env or {}
        data.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            template.format(port=self.port, data=data, bot_options=bot_options)
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data / "daemon.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, crash_at: str | None = None, timeout: float = 20.0) -> None:
        env = {**os.environ, "HANDOVER_TEST_ADMIN_TOKEN": ADMIN_TOKEN, **self.env}
        env.pop("HANDOVER_CRASH_AT", None)
        if crash_at:
            env["HANDOVER_CRASH_AT"] = crash_at
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "handover", "run", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as http:
            while asyncio.get_running_loop().time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"daemon exited: {self.log.read_text()[-3000:]}")
                try:
                    async with http.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"daemon not ready: {self.log.read_text()[-3000:]}")

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until the outbox is empty (so a restart starts with nothing pending)."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as http:
            while asyncio.get_running_loop().time() < deadline:
                async with http.get(f"{self.url}/metrics") as resp:
                    if "\nhandover_outbox_depth 0.0\n" in await resp.text():
                        return
                await asyncio.sleep(0.05)
        raise TimeoutError("outbox did not drain")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    async def wait_exit(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while self.proc.poll() is None:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("daemon did not exit")
            await asyncio.sleep(0.05)
        return int(self.proc.returncode)

    def terminate(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode)


class Citizen:
    """A citizen on the REST channel."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.id = ""
        self.token = ""

    def rebase(self, base: str) -> None:
        self.base = base

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def open(self, tenant: str = "demo", language: str = "nl",
                   context: dict[str, Any] | None = None) -> None:
        body = {"tenant": tenant, "language": language, "context": context or {}}
        async with self.http.post(f"{self.base}/rest/conversations", json=body) as resp:
            assert resp.status == 201, await resp.text()
            data = await resp.json()
        self.id, self.token = data["conversation_id"], data["token"]

    async def say(self, text: str, message_id: str | None = None,
                  payload: str | None = None) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"message_id": message_id or uuid.uuid4().hex, "text": text}
        if payload is not None:
            body["payload"] = payload
        async with self.http.post(f"{self.base}/rest/conversations/{self.id}/messages",
                                  json=body, headers=self._auth) as resp:
            return resp.status, await resp.json()

    async def action(self, action: str) -> tuple[int, dict[str, Any]]:
        body = {"action": action, "action_id": uuid.uuid4().hex}
        async with self.http.post(f"{self.base}/rest/conversations/{self.id}/actions",
                                  json=body, headers=self._auth) as resp:
            return resp.status, await resp.json()

    async def messages(self, after: int = 0, wait: float = 0) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/rest/conversations/{self.id}/messages",
                                 params={"after": str(after), "wait": str(wait)},
                                 headers=self._auth) as resp:
            assert resp.status == 200, await resp.text()
            data: dict[str, Any] = await resp.json()
            return data

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            data = await self.messages(0, wait=0)
            if predicate(data):
                return data
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"citizen never saw it; last: {data}")
            await asyncio.sleep(0.05)


class Agent:
    """An agent driving the demo desk over HTTP."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def threads(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.base}/desk/threads") as resp:
            assert resp.status == 200, await resp.text()
            data: list[dict[str, Any]] = await resp.json()
            return data

    async def thread(self, thread_id: str) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/desk/threads/{thread_id}") as resp:
            assert resp.status == 200, await resp.text()
            data: dict[str, Any] = await resp.json()
            return data

    async def wait_thread(self, thread_id: str, predicate: Any = lambda t: True,
                          timeout: float = 10.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self.http.get(f"{self.base}/desk/threads/{thread_id}") as resp:
                if resp.status == 200:
                    data: dict[str, Any] = await resp.json()
                    if predicate(data):
                        return data
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"desk never saw it for {thread_id}")
            await asyncio.sleep(0.05)

    async def post(self, thread_id: str, action: str, body: dict[str, Any]) -> int:
        async with self.http.post(f"{self.base}/desk/threads/{thread_id}/{action}",
                                  json=body) as resp:
            return resp.status
