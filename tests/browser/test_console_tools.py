"""The agent's tools in the console, in Chromium: canned responses, internal notes (which
the citizen's widget never shows), transfer to a colleague or a team, the chat limit,
the away status, a silent agent's chat offered back, and the idle sign-out.

The daemon runs the demo configuration with a second agent and the tools configured;
citizens come in over the widget on the demo page (notes) or the REST channel. axe runs
at every step; screenshots: tests/browser/screenshots/console-tools-*.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from handover.config.load import parse_config
from handover.daemon.app import Daemon
from handover.demo.config import DEMO_TENANT, TOKEN_ENV, demo_document
from handover.demo.page import add_demo_page
from tests.browser.conftest import LOOP, CuttableProxy, _site
from tests.browser.test_console_privacy import Console, open_thread, pick_up, settled_screenshot
from tests.browser.test_console_workspace import SPY_ALERTS, alerts, assert_console_accessible
from tests.browser.test_widget_flow import messages

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope="session")

SANNE = "sanne-tools-token-0123456789"
AHMED = "ahmed-tools-token-0123456789"
CANNED = [
    {"shortcut": "tijden", "title": "Openingstijden",
     "text": "Het Stadskantoor van {municipality} is open van 9 tot 17 uur. Groet, {agent}"},
    {"shortcut": "bedankt", "title": "Bedankt", "text": "Bedankt voor uw geduld."},
]


class Desk(Console):
    """The demo daemon with two agents; `ahmed` calls the API as Ahmed."""

    def __init__(self, daemon: Daemon, base: str, proxy: CuttableProxy) -> None:
        super().__init__(daemon, base, SANNE)
        self.proxy = proxy
        self.ahmed = Console(daemon, base, AHMED)


MakeDesk = Callable[..., Awaitable[Desk]]


@pytest_asyncio.fixture(loop_scope=LOOP)
async def make_desk(tmp_path: Path) -> AsyncIterator[MakeDesk]:
    """Builds the demo daemon with console options of the test's choosing."""
    made: list[tuple[Desk, Any]] = []

    async def make(**options: Any) -> Desk:
        proxy = CuttableProxy(0)
        await proxy.start()
        data = tmp_path / "data"
        data.mkdir()
        doc = demo_document(data, "127.0.0.1", proxy.port)
        console = doc["adapters"]["console"]
        console["agents"] = [
            {"id": "sanne", "name": "Sanne", "token": "${" + TOKEN_ENV + "}"},
            {"id": "ahmed", "name": "Ahmed", "token": "${CONSOLE_TOKEN_AHMED}"},
        ]
        console["tenants"] = {DEMO_TENANT: {"canned": {"nl": CANNED}}}
        console["teams"] = [{"id": "vergunningen", "name": "Vergunningen"}]
        console.update(options)
        env = {**os.environ, TOKEN_ENV: SANNE, "CONSOLE_TOKEN_AHMED": AHMED}
        daemon = Daemon(parse_config(doc, base_dir=data, env=env))
        app = daemon.build_app()
        add_demo_page(app)
        runner, port = await _site(app)
        proxy.target_port = port
        desk = Desk(daemon, f"http://127.0.0.1:{port}", proxy)
        made.append((desk, runner))
        return desk

    try:
        yield make
    finally:
        for desk, runner in made:
            await desk.http.close()
            await desk.ahmed.http.close()
            await desk.proxy.close()
            await runner.cleanup()


async def signed_in(browser: Any, desk: Desk, token: str, init: str = "") -> tuple[Any, Any]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    if init:
        await ctx.add_init_script(init)
    page = await ctx.new_page()
    await page.goto(desk.console_url)
    await page.locator("#token").fill(token)
    await page.locator("#signin-submit").click()
    await expect(page.locator("#connection-status")).to_have_text("Verbonden", timeout=WAIT_MS)
    return ctx, page


async def test_canned_responses_and_internal_notes_the_widget_never_shows(
    make_desk: MakeDesk, browser: Any, axe_source: str
) -> None:
    desk = await make_desk()
    # The citizen on the demo page, in the widget, asks for a person.
    citizen_ctx = await browser.new_context(viewport={"width": 1024, "height": 768},
                                            bypass_csp=True)
    citizen = await citizen_ctx.new_page()
    await citizen.goto(f"http://127.0.0.1:{desk.proxy.port}/")
    await citizen.get_by_role("button", name="Chat openen").click()
    textbox = citizen.get_by_role("textbox", name="Uw bericht")
    await textbox.fill("Wanneer is het stadskantoor open?")
    await textbox.press("Enter")
    await expect(citizen.locator(".hw-msg--bot").first).to_be_visible(timeout=WAIT_MS)
    await citizen.get_by_role("button", name="Praat met een medewerker").click()
    await expect(citizen.locator(".hw-status")).to_contain_text("wachtrij", timeout=WAIT_MS)

    ctx, page = await signed_in(browser, desk, SANNE)
    waiting = page.locator("#list-waiting button.thread-item")
    await expect(waiting).to_have_count(1, timeout=WAIT_MS)
    await waiting.first.click()
    await page.locator("#pickup").click()
    reply = page.locator("#reply-text")
    await expect(reply).to_be_focused(timeout=WAIT_MS)
    await expect(page.locator("#canned-open")).to_be_visible(timeout=WAIT_MS)

    # "/tijden" says what Enter will insert; Enter inserts (placeholders filled), sends
    # nothing.
    await page.keyboard.type("Goedemiddag! /tijden")
    await expect(page.locator("#canned-hint")).to_have_text(
        "Enter voegt het standaardantwoord “Openingstijden” in.")
    await assert_console_accessible(page, axe_source, "a shortcut typed")
    await settled_screenshot(page, "console-tools-01-shortcut-typed")
    await page.keyboard.press("Enter")
    filled = ("Goedemiddag! Het Stadskantoor van Gemeente Voorbeeld is open van 9 tot 17 uur. "
              "Groet, Sanne")
    await expect(reply).to_have_value(filled)
    await expect(page.locator("#canned-hint")).to_have_text("")
    # The picker, by keyboard: Alt+S, filter, arrow down, Enter.
    await page.keyboard.press("Alt+S")
    dialog = page.locator("#canned-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#canned-filter")).to_be_focused()
    await expect(page.locator("#canned-list .canned-item")).to_have_count(2)
    await page.keyboard.type("geduld")
    await expect(page.locator("#canned-list .canned-item")).to_have_count(1)
    await expect(page.locator("#canned-count")).to_have_text("1 antwoord")
    await assert_console_accessible(page, axe_source, "the canned responses picker")
    await settled_screenshot(page, "console-tools-02-picker")
    await page.keyboard.press("ArrowDown")
    await expect(page.locator("#canned-list .canned-item").first).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(reply).to_be_focused()
    await expect(reply).to_have_value(filled + " Bedankt voor uw geduld.")
    # Nothing was sent so far; now the agent sends it.
    assert not [m for m in await messages(citizen) if "9 tot 17" in m["text"]]
    await page.keyboard.press("Enter")
    await expect(citizen.locator(".hw-msg--agent")).to_have_count(1, timeout=WAIT_MS)
    await expect(citizen.locator(".hw-msg--agent .hw-text")).to_contain_text("9 tot 17 uur")

    # An internal note: shown in the thread, marked as internal.
    secret = "Intern: inwoner belde gisteren ook al over zaak Z-4711"
    await page.locator("#note-open").click()
    await expect(page.locator("#note-text")).to_be_focused()
    await page.keyboard.type(secret)
    await assert_console_accessible(page, axe_source, "writing an internal note")
    await settled_screenshot(page, "console-tools-03-note-dialog")
    await page.locator("#note-save").click()
    await expect(page.locator("#note-dialog")).to_be_hidden()
    internal = page.locator("#transcript li[data-party=internal]")
    await expect(internal).to_have_count(1, timeout=WAIT_MS)
    await expect(internal).to_contain_text(secret)
    await expect(internal).to_contain_text("Interne notitie Sanne")
    await expect(internal).to_contain_text("Niet zichtbaar voor de inwoner")
    await expect(page.locator("#note-open")).to_be_focused()
    await assert_console_accessible(page, axe_source, "an internal note in the thread")
    await settled_screenshot(page, "console-tools-04-note-shown")

    # Ahmed, on his own page, sees it too.
    ahmed_ctx, ahmed = await signed_in(browser, desk, AHMED)
    await ahmed.locator("#list-active button.thread-item").first.click()
    await expect(ahmed.locator("#transcript li[data-party=internal]")).to_contain_text(
        secret, timeout=WAIT_MS)

    # The citizen never gets it: not in the widget (also after a reload, which replays
    # the conversation from the store), not in the stored transcript.
    await page.locator("#reply-text").fill("Ik zoek het voor u uit.")
    await page.locator("#reply-text").press("Enter")
    await expect(citizen.locator(".hw-msg--agent")).to_have_count(2, timeout=WAIT_MS)
    assert not [m for m in await messages(citizen) if "Z-4711" in m["text"]]
    await citizen.reload()
    await expect(citizen.locator(".hw-msg--agent")).to_have_count(2, timeout=WAIT_MS)
    assert not [m for m in await messages(citizen) if "Z-4711" in m["text"]]
    assert "Z-4711" not in await citizen.content()
    conversation_id = (await desk.agent("GET", "threads"))["threads"][0]["conversation_id"]
    stored = await desk.daemon.store.transcript(conversation_id)
    assert not [e for e in stored if "Z-4711" in (e.content.text or "")]
    for c in (ctx, ahmed_ctx, citizen_ctx):
        await c.close()


async def test_transfer_chat_limit_and_away_status(
    make_desk: MakeDesk, browser: Any, axe_source: str
) -> None:
    desk = await make_desk(max_chats=1)
    a = await desk.citizen("a", "Mijn parkeervergunning is verlopen.")
    b = await desk.citizen("b", "Ik wil een dakkapel bouwen.")
    ctx, sanne = await signed_in(browser, desk, SANNE)
    ahmed_ctx, ahmed = await signed_in(browser, desk, AHMED, SPY_ALERTS)
    await expect(sanne.locator("#agent-status")).to_have_text("Beschikbaar · 0 van 1 gesprekken")

    # At the limit: a second chat is refused with a clear message.
    await pick_up(sanne, a)
    await expect(sanne.locator("#agent-status")).to_have_text("Beschikbaar · 1 van 1 gesprekken",
                                                              timeout=WAIT_MS)
    await open_thread(sanne, b)
    await sanne.locator("#pickup").click()
    await expect(sanne.locator("#thread-error")).to_have_text(
        "Het maximum aantal gesprekken tegelijk is bereikt. Sluit eerst een gesprek af.",
        timeout=WAIT_MS)
    await assert_console_accessible(sanne, axe_source, "pick-up refused at the limit")
    await settled_screenshot(sanne, "console-tools-05-at-limit")

    # Ahmed is away: no new chats for him, and not offered as a colleague.
    away = ahmed.locator("#away-toggle")
    await away.click()
    await expect(away).to_have_attribute("aria-pressed", "true", timeout=WAIT_MS)
    await expect(ahmed.locator("#agent-status")).to_have_text("Afwezig · 0 van 1 gesprekken")
    await expect(ahmed.locator("#tool-notice")).to_contain_text("U staat op afwezig")
    await assert_console_accessible(ahmed, axe_source, "an away agent")
    await settled_screenshot(ahmed, "console-tools-06-away")
    await open_thread(ahmed, b)
    await ahmed.locator("#pickup").click()
    await expect(ahmed.locator("#thread-error")).to_contain_text("U staat op afwezig",
                                                                 timeout=WAIT_MS)
    # A new chat comes in: no tone for an agent who is away (it is listed all the same).
    tones = (await alerts(ahmed))["tones"]
    c = await desk.citizen("c", "Waar kan ik mijn grofvuil kwijt?")
    await expect(ahmed.locator(f"#thread-item-{c.thread_id}")).to_be_visible(timeout=WAIT_MS)
    await ahmed.wait_for_timeout(500)
    assert (await alerts(ahmed))["tones"] == tones
    await open_thread(sanne, a)
    await sanne.locator("#transfer-open").click()
    await expect(sanne.locator("#transfer-dialog")).to_be_visible(timeout=WAIT_MS)
    await expect(sanne.locator("#transfer-to")).to_be_focused()
    await expect(sanne.locator("#transfer-none")).to_contain_text("Geen collega")
    await sanne.keyboard.press("Escape")
    await expect(sanne.locator("#transfer-open")).to_be_focused()
    # The status holds over a reload (it is kept on the server).
    await ahmed.reload()
    await expect(ahmed.locator("#connection-status")).to_have_text("Verbonden", timeout=WAIT_MS)
    await expect(ahmed.locator("#away-toggle")).to_have_attribute("aria-pressed", "true",
                                                                  timeout=WAIT_MS)
    await ahmed.locator("#away-toggle").click()
    await expect(ahmed.locator("#agent-status")).to_have_text("Beschikbaar · 0 van 1 gesprekken",
                                                              timeout=WAIT_MS)

    # Sanne hands chat A to Ahmed with a note; his page alerts him.
    await sanne.locator("#transfer-open").click()
    await expect(sanne.locator("#transfer-to option[value='agent:ahmed']")).to_have_count(1)
    await sanne.locator("#transfer-to").select_option("agent:ahmed")
    await sanne.locator("#transfer-note").fill("Vergunning P-2231 verlopen op 1 december.")
    await assert_console_accessible(sanne, axe_source, "the transfer dialog")
    await settled_screenshot(sanne, "console-tools-07-transfer-dialog")
    await sanne.locator("#transfer-confirm").click()
    await expect(sanne.locator("#transfer-dialog")).to_be_hidden(timeout=WAIT_MS)
    await expect(sanne.locator(f"#thread-item-{a.thread_id}")).to_be_focused(timeout=WAIT_MS)
    await expect(sanne.locator("#tool-notice")).to_have_text("Gesprek overgedragen: Ahmed.")
    await expect(ahmed.locator("#tool-notice")).to_have_text(
        "Sanne heeft een gesprek aan u overgedragen.", timeout=WAIT_MS)
    item = ahmed.locator(f"#list-active #thread-item-{a.thread_id}")
    await expect(item).to_contain_text("Bij Ahmed", timeout=WAIT_MS)
    await item.click()
    await expect(ahmed.locator("#reply-form")).to_be_visible(timeout=WAIT_MS)
    note = ahmed.locator("#transcript li[data-party=internal]")
    await expect(note).to_contain_text("Overgedragen aan Ahmed.", timeout=WAIT_MS)
    await expect(note).to_contain_text("P-2231")
    await assert_console_accessible(ahmed, axe_source, "a chat transferred to this agent")
    await settled_screenshot(ahmed, "console-tools-08-received")
    # The citizen heard the new name, nothing of the note.
    said = await desk.stored(a, "Ahmed helpt u verder.")
    assert not [t for t in said if "P-2231" in t]

    # Ahmed passes it on to a team: it waits again, marked for the team.
    await ahmed.locator("#transfer-open").click()
    await ahmed.locator("#transfer-to").select_option("team:vergunningen")
    await ahmed.locator("#transfer-confirm").click()
    waiting = sanne.locator(f"#list-waiting #thread-item-{a.thread_id}")
    await expect(waiting).to_contain_text("Team Vergunningen", timeout=WAIT_MS)
    await expect(sanne.locator("#tool-notice")).to_have_text(
        "Een gesprek wacht weer in de wachtrij.")
    await expect(waiting).to_contain_text("Teruggezet door Ahmed")
    await expect(sanne.locator("#agent-status")).to_have_text("Beschikbaar · 0 van 1 gesprekken",
                                                              timeout=WAIT_MS)
    await assert_console_accessible(sanne, axe_source, "a chat waiting for a team")
    await settled_screenshot(sanne, "console-tools-09-team-queue")
    for c in (ctx, ahmed_ctx):
        await c.close()


async def test_a_silent_agents_chat_goes_back_to_the_queue(
    make_desk: MakeDesk, browser: Any, axe_source: str
) -> None:
    desk = await make_desk(reoffer_after_seconds=2)
    a = await desk.citizen("a", "Ik heb een vraag over mijn aanslag.")
    ctx, sanne = await signed_in(browser, desk, SANNE)
    await pick_up(sanne, a)
    await desk.say(a, "Hallo? Bent u er nog?")
    await expect(sanne.locator("#tool-notice")).to_contain_text(
        "teruggezet in de wachtrij", timeout=WAIT_MS)
    waiting = sanne.locator(f"#list-waiting #thread-item-{a.thread_id}")
    await expect(waiting).to_contain_text("Geen antwoord van Sanne", timeout=WAIT_MS)
    # Shown as waiting again, with its history and why.
    await expect(sanne.locator("#pickup")).to_be_visible(timeout=WAIT_MS)
    await expect(sanne.locator("#reply-form")).to_be_hidden()
    await expect(sanne.locator("#transcript li[data-party=citizen]").last).to_contain_text(
        "Hallo? Bent u er nog?", timeout=WAIT_MS)
    await expect(sanne.locator("#transcript li[data-party=internal]")).to_contain_text(
        "Teruggezet in de wachtrij")
    await assert_console_accessible(sanne, axe_source, "a chat offered back")
    await settled_screenshot(sanne, "console-tools-10-offered-back")
    await ctx.close()


async def test_an_idle_page_warns_then_signs_out_and_clears(
    make_desk: MakeDesk, browser: Any, axe_source: str
) -> None:
    desk = await make_desk(idle_signout_seconds=6, idle_warning_seconds=4)
    a = await desk.citizen("a", "Mijn BSN-brief is zoek, kenmerk K-99812.")
    ctx, sanne = await signed_in(browser, desk, SANNE)
    await pick_up(sanne, a)
    await sanne.locator("#reply-text").fill("Concept over K-99812")
    # Left alone: the warning comes, with a button to stay.
    dialog = sanne.locator("#idle-dialog")
    await expect(dialog).to_be_visible(timeout=WAIT_MS)
    await expect(sanne.locator("#idle-text")).to_contain_text("seconden afgemeld")
    await expect(sanne.locator("#idle-stay")).to_be_focused()
    await assert_console_accessible(sanne, axe_source, "the idle warning")
    await settled_screenshot(sanne, "console-tools-11-idle-warning")
    await sanne.locator("#idle-stay").click()
    await expect(dialog).to_be_hidden()
    await expect(sanne.locator("#workspace")).to_be_visible()
    # Left alone again (no mouse over the page): signed out and cleared.
    await sanne.mouse.move(0, 0)
    await expect(sanne.locator("#signin")).to_be_visible(timeout=12000)
    await expect(sanne.locator("#signin-error")).to_contain_text("niets in de console deed")
    await expect(sanne.locator("#workspace")).to_be_hidden()
    html = await sanne.content()
    assert "K-99812" not in html and "BSN-brief" not in html
    assert await sanne.evaluate("sessionStorage.getItem('handover.console.token')") is None
    await assert_console_accessible(sanne, axe_source, "signed out after idling")
    await settled_screenshot(sanne, "console-tools-12-idle-signed-out")
    await ctx.close()
