"""Conversations that survive SIGKILL: each step is retried after a crash and restart.

A step is idempotent towards the daemon (fixed message ids; a repeated join or close is
stale), so a step whose answer was lost is simply sent again, as a citizen's app or an
agent's desk would. `Survivor` restarts the daemon (unarmed) whenever it died, whether
during a request or in the background between requests.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from tests.e2e.daemon_process import ADMIN_TOKEN, CONFIG, Agent, Citizen, DaemonProcess

T = TypeVar("T")

#: The tenant's survey answers a missing score after a second (the timer scenario).
SURVEY_TIMEOUT = CONFIG + """
[tenants.demo.survey]
timeout_seconds = 1
"""

#: A failing bot turn is retried for a second, then dead-lettered (the failure scenario).
BOT_FAILS = CONFIG + """
[delivery.max_age_seconds]
"bot.turn" = 1
"""

FAIL_WORD = "storing"
#: What the citizen is told when the bot's answer to a turn is lost (see `ask_bot`).
APOLOGY = "Sorry, de digitale assistent kan u nu niet helpen"
#: Marks the citizen's second try after that apology.
AGAIN = " (nog een keer)"
#: The demo bot's option that makes a turn with FAIL_WORD fail (transiently).
BOT_FAILS_OPTIONS = f'fail_trigger = "{FAIL_WORD}"'


class Crashed(Exception):
    """The daemon died under a request; the step is retried after the restart."""


class Survivor:
    """Drives one daemon through a scenario, restarting it whenever it was killed."""

    def __init__(self, d: DaemonProcess, http: aiohttp.ClientSession) -> None:
        self.d = d
        self.http = http
        self.citizen = Citizen(http, d.url)
        self.agent = Agent(http, d.url)
        self.crashes = 0

    async def recover(self) -> None:
        """The daemon stopped answering: it must have killed itself; start it again."""
        code = await self.d.wait_exit()
        assert code == -signal.SIGKILL, f"daemon exited with {code}, not at a crash point"
        self.crashes += 1
        await self.d.start()

    async def _restart_if_dead(self) -> None:
        assert self.d.proc is not None
        if self.d.proc.poll() is not None:
            await self.recover()

    async def step(self, action: Callable[[], Awaitable[T]]) -> T:
        """Run one request until it is answered (retrying after each crash)."""
        for _ in range(5):
            await self._restart_if_dead()
            try:
                return await action()
            except (TimeoutError, aiohttp.ClientError, Crashed):
                await self.recover()
        raise AssertionError("the daemon kept crashing on one step")

    async def say(self, text: str, message_id: str) -> None:
        async def send() -> None:
            status, body = await self.citizen.say(text, message_id=message_id)
            if status >= 500:
                raise Crashed(body)
            assert status == 202, (status, body)

        await self.step(send)

    async def ask_bot(self, text: str, message_id: str,
                      done: Callable[[], Awaitable[bool]], what: str) -> None:
        """Say something to the bot; if the bot's answer is lost, say it once more.

        A crash after the bot got a turn and before its answer was stored makes the
        turn ambiguous: the bot (not resend-safe) is not asked twice, the citizen gets
        an apology instead and tries again, as the apology asks.
        """
        before = await self.step(self.apologies)
        await self.say(text, message_id)

        async def answered_or_sorry() -> bool:
            return await done() or await self.apologies() > before

        await self.until(answered_or_sorry, what)
        if not await self.step(done):
            await self.say(text + AGAIN, message_id + "-again")
            await self.until(done, what)

    async def apologies(self) -> int:
        data = await self.seen_by_citizen()
        return sum(APOLOGY in m["content"]["text"] for m in data["messages"])

    async def agent_does(self, thread: str, action: str, body: dict[str, Any]) -> None:
        async def send() -> None:
            status = await self.agent.post(thread, action, body)
            if status >= 500:
                raise Crashed(status)
            assert status == 202, (action, status)

        await self.step(send)

    async def until(self, check: Callable[[], Awaitable[bool]], what: str,
                    timeout: float = 20.0) -> None:
        """Poll until `check` holds; a crash meanwhile is recovered from."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self._restart_if_dead()
            try:
                if await check():
                    return
            except (TimeoutError, aiohttp.ClientError):
                await self.recover()
                continue
            await asyncio.sleep(0.05)
        raise AssertionError(f"never happened: {what}")

    # --- what the parties see ---------------------------------------------------------

    async def seen_by_citizen(self) -> dict[str, Any]:
        return await self.citizen.messages()

    async def state(self) -> str:
        return str((await self.seen_by_citizen())["state"])

    async def desk_thread(self, thread: str) -> dict[str, Any] | None:
        async with self.http.get(f"{self.d.url}/desk/threads/{thread}") as resp:
            if resp.status == 404:
                return None
            assert resp.status == 200
            data: dict[str, Any] = await resp.json()
            return data

    async def outbox_empty(self) -> bool:
        async with self.http.get(f"{self.d.url}/metrics") as resp:
            return "\nhandover_outbox_depth 0.0\n" in await resp.text()

    async def dead_letters(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.d.url}/admin/dead-letters",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as resp:
            assert resp.status == 200
            data = await resp.json()
        items = data["dead_letters"] if isinstance(data, dict) else data
        assert isinstance(items, list)
        return items


def desk_messages(thread: dict[str, Any] | None) -> list[str]:
    if thread is None:
        return []
    return [e["content"]["text"] for e in thread["events"] if e.get("type") == "message"]


async def full_conversation(s: Survivor) -> None:
    """Bot, handover, both ways through the desk, close, survey, back to the bot."""
    c = s.citizen
    thread = f"{c.id}-1"
    await s.ask_bot("Wanneer wordt het afval opgehaald?", "m-afval",
                    lambda: _has(s, "bot"), "the bot's answer")
    await s.ask_bot("Ik wil een medewerker spreken", "m-medewerker",
                    lambda: _thread_exists(s, thread), "the desk thread")
    await s.agent_does(thread, "join", {"agent_name": "Sanne"})
    await s.until(lambda: _state_is(s, "agent"), "the agent in control")
    for n in range(3):
        await s.say(f"burger {n}", f"m-burger-{n}")
        await s.agent_does(thread, "messages", {"text": f"agent {n}", "message_id": f"a-{n}"})
    await s.until(lambda: _desk_has(s, thread, 3), "the citizen's messages at the desk")
    await s.agent_does(thread, "close", {"outcome": "solved"})
    await s.until(lambda: _state_is(s, "survey"), "the survey question")
    await s.say("9", "m-score")
    await s.say("Snel geholpen", "m-comment")
    await s.until(lambda: _state_is(s, "bot"), "back with the bot")
    await s.until(s.outbox_empty, "every delivery done")


async def survey_times_out(s: Survivor) -> None:
    """A handover closed by the agent; the citizen never answers the survey."""
    thread = f"{s.citizen.id}-1"
    await s.ask_bot("Ik wil een medewerker spreken", "m-medewerker",
                    lambda: _thread_exists(s, thread), "the desk thread")
    await s.agent_does(thread, "join", {"agent_name": "Sanne"})
    await s.agent_does(thread, "close", {"outcome": "solved"})
    await s.until(lambda: _state_is(s, "survey"), "the survey question")
    await s.until(lambda: _state_is(s, "bot"), "the survey timed out", timeout=30)
    await s.until(s.outbox_empty, "every delivery done")


async def bot_fails(s: Survivor) -> None:
    """One turn keeps failing until it is dead-lettered; the next turn works."""
    await s.say(f"Er is een {FAIL_WORD}", "m-storing")
    await s.until(lambda: _dead(s), "the failed turn dead-lettered", timeout=30)
    await s.until(lambda: _has(s, "system"), "the apology")
    await s.ask_bot("Wanneer wordt het afval opgehaald?", "m-afval",
                    lambda: _has(s, "bot"), "the next answer")
    await s.until(s.outbox_empty, "every delivery done")


async def _has(s: Survivor, party: str, at_least: int = 1) -> bool:
    data = await s.seen_by_citizen()
    count: int = sum(m["party"] == party for m in data["messages"])
    return count >= at_least


async def _state_is(s: Survivor, state: str) -> bool:
    return await s.state() == state


async def _thread_exists(s: Survivor, thread: str) -> bool:
    return await s.desk_thread(thread) is not None


async def _desk_has(s: Survivor, thread: str, n: int) -> bool:
    return len(desk_messages(await s.desk_thread(thread))) >= n


async def _dead(s: Survivor) -> bool:
    return bool(await s.dead_letters())
