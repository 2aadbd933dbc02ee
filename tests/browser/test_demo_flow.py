"""The demo, whole, in two browsers: a citizen on the mock municipal page, an agent in
the console. Bot answer, handover, pick-up, replies both ways, a cut connection and a
reload mid-chat, close, NPS. axe-core checks the page and the console on the way;
screenshots of both go to tests/browser/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from handover.daemon.app import Daemon
from handover.demo.config import demo_config
from handover.demo.page import add_demo_page
from tests.browser.conftest import LOOP, CuttableProxy, _site, assert_accessible, screenshot
from tests.browser.test_widget_flow import assert_each_once, messages

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Demo:
    daemon: Daemon
    proxy: CuttableProxy
    citizen_url: str  # through the proxy, which the test can cut
    console_url: str  # straight to the daemon
    token: str


@pytest_asyncio.fixture(loop_scope=LOOP)
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    # The proxy's port is the demo's public port: the widget's origin allowlist names it.
    proxy = CuttableProxy(0)
    await proxy.start()
    config, token = demo_config(tmp_path / "data", "127.0.0.1", proxy.port, env={})
    daemon = Daemon(config)
    app = daemon.build_app()
    add_demo_page(app)
    runner, port = await _site(app)
    proxy.target_port = port
    try:
        yield Demo(daemon, proxy, f"http://127.0.0.1:{proxy.port}",
                   f"http://127.0.0.1:{port}/console/", token)
    finally:
        await proxy.close()
        await runner.cleanup()


async def assert_page_accessible(page: Any, axe_source: str, state: str) -> None:
    """axe-core on the whole page: no serious or critical WCAG 2.1 A/AA violation."""
    await page.evaluate("Promise.all(document.getAnimations().map(a => a.finished))")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=axe_source)
    result = await page.evaluate("""async () => {
        const r = await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
        });
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.html).slice(0, 3)}));
    }""")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert bad == [], f"axe on {state}: {bad}"


async def test_demo_citizen_and_agent_from_bot_to_survey(
    demo: Demo, browser: Any, axe_source: str
) -> None:
    # bypass_csp: the pages forbid inline scripts, and axe-core is injected as one.
    citizen_ctx = await browser.new_context(viewport={"width": 1024, "height": 768},
                                            bypass_csp=True)
    agent_ctx = await browser.new_context(viewport={"width": 1280, "height": 900},
                                          bypass_csp=True)
    citizen, agent = await citizen_ctx.new_page(), await agent_ctx.new_page()

    # The mock municipal page with the widget, exactly as a municipality embeds it.
    await citizen.goto(demo.citizen_url + "/")
    await expect(citizen.get_by_role("heading", level=1)).to_have_text(
        "Welkom bij Gemeente Voorbeeld")
    await assert_page_accessible(citizen, axe_source, "the demo page")
    await citizen.get_by_role("button", name="Chat openen").click()
    textbox = citizen.get_by_role("textbox", name="Uw bericht")
    await textbox.fill("Wanneer wordt het afval opgehaald?")
    await textbox.press("Enter")
    await expect(citizen.locator(".hw-msg--bot").first).to_be_visible(timeout=WAIT_MS)
    await citizen.get_by_role("button", name="Praat met een medewerker").click()
    status = citizen.locator(".hw-status")
    await expect(status).to_contain_text("wachtrij", timeout=WAIT_MS)
    await screenshot(citizen, "demo-01-citizen-queued")

    # The agent signs in with the demo's token and sees the waiting conversation.
    await agent.goto(demo.console_url)
    await assert_page_accessible(agent, axe_source, "the console's sign-in")
    await agent.locator("#token").fill(demo.token)
    await agent.locator("#signin-submit").click()
    waiting = agent.locator("#list-waiting button.thread-item")
    await expect(waiting).to_have_count(1, timeout=WAIT_MS)
    await waiting.first.click()
    await expect(agent.locator("#detail-page-url")).to_have_text(demo.citizen_url + "/")
    await expect(agent.locator("#detail-page-title")).to_contain_text("Gemeente Voorbeeld")
    transcript = agent.locator("#transcript")
    await expect(transcript.locator("li[data-party=citizen]").first).to_contain_text(
        "Wanneer wordt het afval opgehaald?")
    await expect(transcript.locator("li[data-party=bot]").first).to_be_visible()
    await assert_page_accessible(agent, axe_source, "the console, a waiting conversation")
    await screenshot(agent, "demo-02-console-waiting")

    # Pick up: the citizen sees the agent's name; replies go both ways.
    await agent.locator("#pickup").click()
    await expect(status).to_contain_text("U chat met Sanne", timeout=WAIT_MS)
    await agent.locator("#reply-text").fill("Goedemiddag, u spreekt met Sanne.")
    await agent.locator("#reply-send").click()
    from_agent = citizen.locator(".hw-msg--agent")
    await expect(from_agent).to_have_count(1, timeout=WAIT_MS)
    await expect(from_agent.locator(".hw-sender")).to_have_text("Sanne")
    await textbox.fill("Mijn container is niet geleegd.")
    await textbox.press("Enter")
    await expect(transcript.locator("li[data-party=citizen]")).to_have_count(2,
                                                                             timeout=WAIT_MS)
    await assert_page_accessible(agent, axe_source, "the console, an active conversation")
    await screenshot(agent, "demo-03-console-active")

    # The citizen's connection drops; both go on writing; it comes back.
    demo.proxy.refusing = True
    demo.proxy.cut()
    await expect(citizen.locator(".hw-root")).to_have_attribute(
        "data-state", "reconnecting", timeout=WAIT_MS)
    await agent.locator("#reply-text").fill("Welk adres is het?")
    await agent.locator("#reply-send").click()
    await textbox.fill("Dorpsstraat 1.")
    await textbox.press("Enter")
    demo.proxy.refusing = False
    await expect(from_agent).to_have_count(2, timeout=20000)
    await expect(transcript.locator("li[data-party=citizen]", has_text="Dorpsstraat 1."))\
        .to_have_count(1, timeout=WAIT_MS)
    assert_each_once(await messages(citizen))

    # A reload mid-chat: the same messages, once each, in order.
    before = [(m["party"], m["text"]) for m in await messages(citizen)]
    await citizen.reload()
    await expect(citizen.locator(".hw-msg")).to_have_count(len(before), timeout=WAIT_MS)
    after = await messages(citizen)
    assert [(m["party"], m["text"]) for m in after] == before
    assert_each_once(after)
    await screenshot(citizen, "demo-04-citizen-with-agent")

    # The agent closes with an outcome (chosen, and confirmed): the citizen gets the NPS
    # question.
    await agent.locator("#close-outcome").select_option("resolved")
    await agent.locator("#close-thread").click()
    await agent.locator("#close-confirm").click()
    await expect(agent.locator("#list-closed button.thread-item")).to_have_count(
        1, timeout=WAIT_MS)
    await assert_page_accessible(agent, axe_source, "the console, a closed conversation")
    await screenshot(agent, "demo-05-console-closed")
    scale = citizen.get_by_role("group", name=re.compile("Kies een cijfer"))
    await expect(scale).to_be_visible(timeout=WAIT_MS)
    await assert_accessible(citizen, axe_source, "survey")
    await scale.get_by_role("button", name="9", exact=True).click()
    skip = citizen.locator(".hw-msg--system .hw-choice").last
    await expect(skip).to_be_visible(timeout=WAIT_MS)
    await skip.click()
    await expect(citizen.locator(".hw-msg--system").last).to_contain_text(
        "Bedankt", timeout=WAIT_MS)
    await screenshot(citizen, "demo-06-citizen-thanks")

    # What the store kept: the answer, and every message once.
    answers = await demo.daemon.store.survey_answers("demo")
    assert [a.score for a in answers] == [9]
    conv_id = await citizen.evaluate(
        "JSON.parse(Object.entries(sessionStorage).find(([k]) => k.startsWith('handover:'))[1])"
        ".conversation_id")
    said = [e.content.text for e in await demo.daemon.store.transcript(conv_id)]
    for text in ("Mijn container is niet geleegd.", "Dorpsstraat 1.", "Welk adres is het?"):
        assert said.count(text) == 1, (text, said)
    await citizen_ctx.close()
    await agent_ctx.close()


async def test_the_demo_page_is_served_only_by_the_demo(demo: Demo, tmp_path: Path) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(demo.citizen_url + "/") as resp:
        assert resp.status == 200
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert '<script src="/web/widget.js" data-tenant="demo" defer>' in await resp.text()
    # A configured daemon (no demo page added) has nothing at `/`.
    config, _ = demo_config(tmp_path / "other", "127.0.0.1", 1, env={})
    app = Daemon(config).build_app()
    assert not any(
        isinstance(r.resource, web.PlainResource) and r.resource.canonical == "/"
        for r in app.router.routes()
    )
