"""The agent console on a shared workstation: a reply draft belongs to one conversation,
and signing out leaves nothing of any conversation in the page.

The daemon runs the demo configuration on loopback; citizens come in over its REST
channel (so each one's page context is known to the test), the agent works in Chromium.
Screenshots go to tests/browser/screenshots/ (console-draft-*, console-signed-out*).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from handover.daemon.app import Daemon
from handover.demo.config import DEMO_TENANT, demo_config
from tests.browser.conftest import LOOP, _site, screenshot
from tests.browser.test_demo_flow import assert_page_accessible

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Citizen:
    conversation_id: str
    token: str
    url: str
    said: list[str]
    thread_id: str = ""


class Console:
    """The demo daemon, straight on loopback, with a REST citizen and the agent's API."""

    def __init__(self, daemon: Daemon, base: str, agent_token: str) -> None:
        self.daemon = daemon
        self.base = base
        self.console_url = base + "/console/"
        self.agent_token = agent_token
        self.http = aiohttp.ClientSession()

    async def _call(self, method: str, url: str, token: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, url, json=body, headers=headers) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json()

    async def citizen(self, name: str, first_words: str) -> Citizen:
        """A citizen on a page of their own who writes and then asks for a person; returns
        once the console has the waiting thread."""
        url = f"https://www.voorbeeld.nl/{name}/aanvraag-{uuid.uuid4().hex[:8]}"
        async with self.http.post(self.base + "/rest/conversations", json={
            "tenant": DEMO_TENANT, "language": "nl",
            "context": {"url": url, "title": f"Aanvraag {name}"},
        }) as resp:
            assert resp.status == 201, await resp.text()
            opened = await resp.json()
        c = Citizen(opened["conversation_id"], opened["token"], url, [])
        await self.say(c, first_words)
        await self._call("POST", f"{self.base}/rest/conversations/{c.conversation_id}/actions",
                         c.token, {"action": "request_agent", "action_id": uuid.uuid4().hex})
        for _ in range(200):
            threads = (await self.agent("GET", "threads"))["threads"]
            for t in threads:
                if t["conversation_id"] == c.conversation_id and t["status"] == "queued":
                    c.thread_id = t["thread_id"]
                    return c
            await asyncio.sleep(0.05)
        raise AssertionError(f"no waiting thread for {name}")

    async def say(self, c: Citizen, text: str) -> None:
        await self._call("POST", f"{self.base}/rest/conversations/{c.conversation_id}/messages",
                         c.token, {"message_id": uuid.uuid4().hex, "text": text})
        c.said.append(text)

    async def agent(self, method: str, path: str, body: Any = None) -> Any:
        return await self._call(method, f"{self.console_url}api/{path}", self.agent_token, body)

    async def texts(self, c: Citizen) -> list[str]:
        """What the store holds as the conversation's transcript."""
        return [e.content.text or "" for e in await self.daemon.store.transcript(
            c.conversation_id)]

    async def stored(self, c: Citizen, text: str) -> list[str]:
        """The transcript, once it holds `text`."""
        for _ in range(200):
            if text in (texts := await self.texts(c)):
                return texts
            await asyncio.sleep(0.05)
        raise AssertionError(f"{text!r} never reached the store")


@pytest_asyncio.fixture(loop_scope=LOOP)
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    config, token = demo_config(tmp_path / "data", "127.0.0.1", 8080, env={})
    daemon = Daemon(config)
    runner, port = await _site(daemon.build_app())
    c = Console(daemon, f"http://127.0.0.1:{port}", token)
    try:
        yield c
    finally:
        await c.http.close()
        await runner.cleanup()


async def settled_screenshot(page: Any, name: str) -> None:
    """A screenshot once nothing moves any more (animations done, a frame painted)."""
    await page.evaluate("Promise.all(document.getAnimations().map(a => a.finished))")
    await page.wait_for_timeout(500)
    await screenshot(page, name)


async def sign_in(page: Any, console: Console, *, load: bool = True) -> None:
    if load:
        await page.goto(console.console_url)
    await page.locator("#token").fill(console.agent_token)
    await page.locator("#signin-submit").click()
    await expect(page.locator("#connection-status")).to_have_text("Verbonden", timeout=WAIT_MS)


async def open_thread(page: Any, c: Citizen) -> None:
    """Open a citizen's thread in the list and wait until the page shows it."""
    await page.locator(f"#thread-item-{c.thread_id}").click()
    await expect(page.locator(f"#thread-item-{c.thread_id}")).to_have_attribute(
        "aria-current", "true")
    await expect(page.locator("#detail-page-url")).to_have_text(c.url, timeout=WAIT_MS)
    await expect(page.locator("#transcript li[data-party=citizen]").first).to_contain_text(
        c.said[0], timeout=WAIT_MS)


async def pick_up(page: Any, c: Citizen) -> None:
    await open_thread(page, c)
    await page.locator("#pickup").click()
    await expect(page.locator("#reply-form")).to_be_visible(timeout=WAIT_MS)


async def test_a_reply_draft_stays_with_its_own_conversation(
    console: Console, browser: Any
) -> None:
    a = await console.citizen("a", "Mijn klachtnummer is KL-4821-A, er is niets gebeurd.")
    b = await console.citizen("b", "Ik wil mijn paspoort ophalen.")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await ctx.new_page()
    await sign_in(page, console)
    await pick_up(page, a)
    await pick_up(page, b)
    reply = page.locator("#reply-text")

    # A draft for A, with A's complaint number in it.
    draft_a = "Uw klacht KL-4821-A is doorgezet naar team Afval (concept 7731)."
    await open_thread(page, a)
    await reply.fill(draft_a)
    await settled_screenshot(page, "console-draft-1-typed-for-a")

    # Over to B: the reply box is empty, and neither Ctrl+Enter nor the button sends
    # anything of A's to B.
    await open_thread(page, b)
    await expect(page.locator("#reply-form")).to_be_visible()
    await expect(reply).to_have_value("")
    await settled_screenshot(page, "console-draft-2-b-empty")
    await reply.press("Control+Enter")
    await expect(page.locator("#reply-send")).to_be_enabled()
    await page.locator("#reply-send").click()
    await expect(page.locator("#reply-send")).to_be_enabled()
    # A real answer to B, after those: once it is stored, whatever the page sent before
    # it is stored too (the page sends one at a time).
    await reply.fill("Goedemiddag, uw paspoort ligt klaar.")
    await reply.press("Control+Enter")
    said_to_b = await console.stored(b, "Goedemiddag, uw paspoort ligt klaar.")
    assert not [t for t in said_to_b if "KL-4821-A" in t or "7731" in t], said_to_b
    await expect(page.locator("#transcript li[data-party=agent]")).to_have_count(
        1, timeout=WAIT_MS)
    await expect(reply).to_have_value("")

    # Back to A: A's draft is there again, and sending it reaches A only.
    await open_thread(page, a)
    await expect(reply).to_have_value(draft_a)
    await settled_screenshot(page, "console-draft-3-a-restored")
    await reply.press("Control+Enter")
    await expect(page.locator("#transcript li[data-party=agent]")).to_have_count(
        1, timeout=WAIT_MS)
    await expect(page.locator("#transcript li[data-party=agent]")).to_contain_text(draft_a)
    await expect(reply).to_have_value("")
    await console.stored(a, draft_a)
    assert not [t for t in await console.texts(b) if "7731" in t]
    await settled_screenshot(page, "console-draft-4-sent-to-a")

    # A sent draft is gone: neither thread offers it again.
    await open_thread(page, b)
    await expect(reply).to_have_value("")
    await open_thread(page, a)
    await expect(reply).to_have_value("")

    # A draft of a thread that is closed goes with it.
    await reply.fill("Nog een vraag over KL-4821-A (concept 9902)?")
    await open_thread(page, b)
    await open_thread(page, a)
    await expect(reply).to_have_value("Nog een vraag over KL-4821-A (concept 9902)?")
    await page.locator("#close-outcome").select_option("resolved")
    await page.locator("#close-thread").click()
    await page.locator("#close-confirm").click()
    await expect(page.locator(f"#list-closed #thread-item-{a.thread_id}")).to_have_count(
        1, timeout=WAIT_MS)
    # Closing moves on to the agent's next own chat (B) or back to the list: either
    # way A's draft is not in the box.
    await expect(reply).to_have_value("")
    await open_thread(page, b)
    await expect(reply).to_have_value("")
    assert not [t for t in await console.texts(a) + await console.texts(b) if "9902" in t]
    await ctx.close()


async def test_signing_out_leaves_nothing_of_any_conversation_in_the_page(
    console: Console, browser: Any, axe_source: str
) -> None:
    a = await console.citizen("a", "Mijn BSN staat op de brief van 3 maart, klacht KL-5550.")
    b = await console.citizen("b", "Waar kan ik een parkeervergunning aanvragen?")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await ctx.new_page()
    workspace = page.locator("#workspace")

    # Before anyone signs in, there is no workspace to see.
    await page.goto(console.console_url)
    await expect(page.locator("#signin-form")).to_be_visible()
    await expect(workspace).to_be_hidden()
    assert await workspace.bounding_box() is None
    await settled_screenshot(page, "console-signed-out-before-sign-in")

    # An agent at work: two threads, one picked up and answered, a draft half typed.
    await page.locator("#token").fill(console.agent_token)
    await page.locator("#signin-submit").click()
    await expect(page.locator("#connection-status")).to_have_text("Verbonden", timeout=WAIT_MS)
    await expect(workspace).to_be_visible()
    await pick_up(page, a)
    await page.locator("#reply-text").fill("Ik zoek KL-5550 voor u op.")
    await page.locator("#reply-send").click()
    await expect(page.locator("#transcript li[data-party=agent]")).to_have_count(
        1, timeout=WAIT_MS)
    await console.say(a, "Dank u, het gaat om de container.")
    await expect(page.locator("#transcript li[data-party=citizen]").last).to_contain_text(
        "container", timeout=WAIT_MS)
    await page.locator("#reply-text").fill("Concept: de container van adres 12 (KL-5550)")
    await open_thread(page, b)
    await open_thread(page, a)

    await page.locator("#signout").click()
    await expect(page.locator("#signin-form")).to_be_visible()
    await expect(page.locator("#connection-status")).to_have_text("Niet aangemeld")

    # What comes in afterwards reaches this page neither.
    await console.say(b, "Hallo? Is er nog iemand (KL-6660)?")
    c = await console.citizen("c", "Ik kom voor een uittreksel, KL-7770.")
    await page.wait_for_timeout(1000)

    await expect(workspace).to_be_hidden()
    assert await workspace.bounding_box() is None
    assert await page.title() == "Agentconsole"
    secrets = [
        *a.said, *b.said, *c.said, a.url, b.url, c.url, "Aanvraag a", "Aanvraag b",
        a.thread_id, b.thread_id, c.thread_id,
        a.conversation_id, b.conversation_id, c.conversation_id,
        console.agent_token, "Ik zoek KL-5550 voor u op.", "KL-5550", "Sanne",
    ]
    html = await page.content()  # the whole DOM, hidden nodes included
    left = [s for s in secrets if s in html]
    assert left == [], f"still in the page after signing out: {left}"
    # Nor in what the form fields hold (a value is not an attribute) or the storage.
    values = await page.evaluate("""() => JSON.stringify({
        fields: [...document.querySelectorAll('input, textarea, select')].map(e => e.value),
        session: {...sessionStorage}, local: {...localStorage}, url: location.href,
    })""")
    left = [s for s in secrets if s in values]
    assert left == [], f"still in the fields or storage after signing out: {left}"
    assert json.loads(values)["url"] == console.console_url

    await assert_page_accessible(page, axe_source, "the console after signing out")
    await settled_screenshot(page, "console-signed-out")

    # Signing in again on the same page works, and the draft did not survive the sign-out.
    await sign_in(page, console, load=False)
    await expect(page.locator("#list-waiting button.thread-item")).to_have_count(
        2, timeout=WAIT_MS)
    await open_thread(page, a)
    await expect(page.locator("#reply-form")).to_be_visible()
    await expect(page.locator("#reply-text")).to_have_value("")
    await ctx.close()
