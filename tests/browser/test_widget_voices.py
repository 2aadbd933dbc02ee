"""Who speaks in the widget, and what a screen reader is told: a greeting instead of an
empty log, the bot marked as a computer and the agent by name (visibly and in words),
and each queue and agent notice said once."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.browser.conftest import (
    RECORD_ANNOUNCEMENTS,
    announcements,
    assert_accessible,
    screenshot,
)
from tests.browser.test_demo_flow import Demo, demo  # noqa: F401  (the fixture)
from tests.browser.test_widget_session import conversation_id

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def console_api(site: Demo, method: str, path: str, body: Any = None) -> Any:
    """The agent's side, through the console's API (the demo's agent is Sanne)."""
    async with aiohttp.ClientSession() as http, http.request(
            method, site.console_url + "api/" + path, json=body,
            headers={"Authorization": f"Bearer {site.token}"}) as resp:
        assert resp.status < 300, (resp.status, await resp.text())
        return await resp.json()


async def waiting_thread(site: Demo, conversation: str) -> str:
    for _ in range(100):
        for t in (await console_api(site, "GET", "threads"))["threads"]:
            if t["conversation_id"] == conversation and t["status"] == "queued":
                return str(t["thread_id"])
        await asyncio.sleep(0.05)
    raise AssertionError("no waiting thread in the console")


async def test_greeting_speakers_and_each_notice_said_once(
    demo: Demo, browser: Any, axe_source: str  # noqa: F811
) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 768},
                                        bypass_csp=True)
    await context.add_init_script(RECORD_ANNOUNCEMENTS)
    page = await context.new_page()
    await page.goto(demo.citizen_url + "/")
    await page.get_by_role("button", name="Chat openen").click()

    # Not an empty white log: the catalogue's greeting says who answers first.
    greeting = page.locator(".hw-greeting")
    await expect(greeting).to_contain_text("digitale assistent, een computerprogramma")
    await assert_accessible(page, axe_source, "greeting")
    await screenshot(page, "voices-01-greeting")

    textbox = page.get_by_role("textbox", name="Uw bericht")
    await textbox.fill("Wanneer wordt het afval opgehaald?")
    await textbox.press("Enter")
    bot = page.locator(".hw-msg--bot").first
    await expect(bot).to_be_visible(timeout=WAIT_MS)
    # The bot: named as the digital assistant, tagged as a computer (text, not colour only).
    await expect(bot.locator(".hw-sender")).to_have_text("Digitale assistent")
    await expect(bot.locator(".hw-role")).to_have_text("computer")

    await page.get_by_role("button", name="Praat met een medewerker").click()
    await expect(page.locator(".hw-status")).to_contain_text("Aantal mensen voor u: 0",
                                                             timeout=WAIT_MS)
    thread = await waiting_thread(demo, await conversation_id(page))
    await console_api(demo, "POST", f"threads/{thread}/pickup")
    await console_api(demo, "POST", f"threads/{thread}/messages",
                      {"message_id": "s1", "text": "Goedemiddag, ik ben Sanne."})
    agent = page.locator(".hw-msg--agent")
    await expect(agent).to_have_count(1, timeout=WAIT_MS)
    await expect(agent.locator(".hw-sender")).to_have_text("Sanne")
    await expect(agent.locator(".hw-role")).to_have_text("medewerker")
    await assert_accessible(page, axe_source, "bot and agent")
    await screenshot(page, "voices-02-bot-and-agent")

    said = await announcements(page)
    queue = [s for s in said if "Aantal mensen voor u: 0" in s]
    assert len(queue) == 1, said
    joined = [s for s in said if "Sanne helpt u verder" in s or "U chat met Sanne" in s]
    assert len(joined) == 1, said
    assert len([s for s in said if "Goedemiddag, ik ben Sanne." in s]) == 1, said
    await context.close()


async def test_the_agent_sees_at_once_that_the_citizen_ended_the_chat(
    demo: Demo, browser: Any, axe_source: str  # noqa: F811
) -> None:
    citizen_ctx = await browser.new_context(viewport={"width": 1024, "height": 768},
                                            bypass_csp=True)
    agent_ctx = await browser.new_context(viewport={"width": 1280, "height": 800},
                                          bypass_csp=True)
    citizen, agent = await citizen_ctx.new_page(), await agent_ctx.new_page()
    await citizen.goto(demo.citizen_url + "/")
    await citizen.get_by_role("button", name="Chat openen").click()
    textbox = citizen.get_by_role("textbox", name="Uw bericht")
    await textbox.fill("Mijn container is niet geleegd.")
    await textbox.press("Enter")
    await expect(citizen.locator(".hw-msg--bot").first).to_be_visible(timeout=WAIT_MS)
    await citizen.get_by_role("button", name="Praat met een medewerker").click()
    thread = await waiting_thread(demo, await conversation_id(citizen))

    await agent.goto(demo.console_url)
    await agent.locator("#token").fill(demo.token)
    await agent.locator("#signin-submit").click()
    await agent.locator(f"#thread-item-{thread}").click()
    await agent.locator("#pickup").click()
    await expect(agent.locator("#reply-form")).to_be_visible(timeout=WAIT_MS)
    await expect(citizen.locator(".hw-status")).to_contain_text("U chat met", timeout=WAIT_MS)

    await citizen.get_by_role("button", name="Gesprek beëindigen").click()
    await citizen.get_by_role("button", name="Ja, beëindigen").click()
    # The console, live: the thread is closed because the citizen left, and no reply
    # box invites an answer into a finished chat.
    item = agent.locator(f"#list-closed #thread-item-{thread}")
    await expect(item).to_contain_text("inwoner is weg", timeout=WAIT_MS)
    await expect(agent.locator("#detail-status")).to_contain_text("inwoner is weg")
    await expect(agent.locator("#reply-form")).to_be_hidden()
    await expect(agent.locator("#transcript")).to_contain_text(
        "De inwoner heeft het gesprek verlaten.")
    await screenshot(agent, "voices-03-console-citizen-left")
    await citizen_ctx.close()
    await agent_ctx.close()
