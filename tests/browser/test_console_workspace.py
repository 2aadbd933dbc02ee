"""The console as an agent's workspace for a whole day: one screen at 1280x800, several
chats at once with unread counts, Enter to send, focus where the next action is, a
confirmed close with a chosen outcome, a tone and a desktop notification (spied in the
page) for what needs the agent, and list items that say what an agent scans for.

The daemon runs the demo configuration on loopback (see test_console_privacy); citizens
come in over its REST channel. Screenshots: tests/browser/screenshots/console-workspace-*.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from handover.config.load import parse_config
from handover.daemon.app import Daemon
from handover.demo.config import DEMO_TENANT, TOKEN_ENV, demo_document
from tests.browser.conftest import LOOP, _site, assert_accessible
from tests.browser.test_console_privacy import (
    Citizen,
    Console,
    console,  # noqa: F401  (the fixture)
    open_thread,
    pick_up,
    settled_screenshot,
    sign_in,
)

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope="session")

# Added before the page's scripts: a Notification that records instead of showing (its
# permission not asked yet), and an AudioContext that counts the tones it starts. What
# asked for permission is recorded with whether a user gesture was under way.
SPY_ALERTS = """
(() => {
  const spy = window.__alerts = {notifications: [], tones: 0, asked: []};
  class SpyNotification {
    constructor(title, options) { spy.notifications.push({title, options: options || {}}); }
    close() {}
    static requestPermission() {
      spy.asked.push(navigator.userActivation.isActive);
      SpyNotification.permission = 'granted';
      return Promise.resolve('granted');
    }
  }
  SpyNotification.permission = 'default';
  window.Notification = SpyNotification;
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    createOscillator() {
      const osc = super.createOscillator();
      const start = osc.start.bind(osc);
      osc.start = (...args) => { spy.tones += 1; return start(...args); };
      return osc;
    }
  };
})();
"""


async def alerts(page: Any) -> dict[str, Any]:
    found: dict[str, Any] = await page.evaluate("window.__alerts")
    return found


async def assert_console_accessible(page: Any, axe_source: str, state: str) -> None:
    """axe on the whole console page, undecided contrast included."""
    await assert_accessible(page, axe_source, state, selector="html")


async def ask_via_bot(desk: Console, name: str, first_words: str) -> Citizen:
    """A citizen who asks the demo bot about something and then, in words, for a person:
    the bot's handover signal carries the topic."""
    url = f"https://www.voorbeeld.nl/{name}/{uuid.uuid4().hex[:8]}"
    async with desk.http.post(desk.base + "/rest/conversations", json={
        "tenant": DEMO_TENANT, "language": "nl", "context": {"url": url, "title": name},
    }) as resp:
        assert resp.status == 201, await resp.text()
        opened = await resp.json()
    c = Citizen(opened["conversation_id"], opened["token"], url, [])
    await desk.say(c, first_words)
    await desk.say(c, "Ik wil een medewerker spreken")
    c.thread_id = await waiting(desk, c)
    return c


async def waiting(desk: Console, c: Citizen) -> str:
    for _ in range(200):
        for t in (await desk.agent("GET", "threads"))["threads"]:
            if t["conversation_id"] == c.conversation_id and t["status"] == "queued":
                return str(t["thread_id"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no waiting thread for {c.said}")


async def fits_one_screen(page: Any) -> None:
    """List, transcript and reply box in the viewport; the page itself does not scroll."""
    sizes = await page.evaluate("""() => {
        const box = id => { const r = document.getElementById(id).getBoundingClientRect();
                            return {top: r.top, bottom: r.bottom, height: r.height}; };
        return {page: document.documentElement.scrollHeight, view: innerHeight,
                threads: box('threads'), transcript: box('transcript'),
                reply: box('reply-text'), send: box('reply-send')};
    }""")
    assert sizes["page"] <= sizes["view"], sizes
    for part in ("threads", "transcript", "reply", "send"):
        assert sizes[part]["height"] > 0, (part, sizes)
        assert sizes[part]["top"] >= 0 and sizes[part]["bottom"] <= sizes["view"], (part, sizes)


async def focused_id(page: Any) -> str:
    found: str = await page.evaluate("document.activeElement && document.activeElement.id")
    return found


async def test_two_chats_at_once_on_one_screen_with_unread_alerts_and_a_confirmed_close(
    console: Console, browser: Any, axe_source: str  # noqa: F811
) -> None:
    a = await ask_via_bot(console, "a", "Wanneer wordt het afval opgehaald?")
    b = await console.citizen("b", "Ik wil mijn paspoort ophalen, het is dringend.")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    await ctx.add_init_script(SPY_ALERTS)
    page = await ctx.new_page()

    # Signed in, the agent lands on the list: the first waiting conversation.
    await sign_in(page, console)
    item_a, item_b = page.locator(f"#thread-item-{a.thread_id}"), page.locator(
        f"#thread-item-{b.thread_id}")
    await expect(item_a).to_be_focused(timeout=WAIT_MS)
    # What an agent scans for: municipality, channel, waiting time, the topic in words,
    # the last message. Not the topic's key, no consent that nobody asked for.
    await expect(item_a).to_contain_text("App (REST)")
    await expect(item_a).to_contain_text("Wacht ")
    await expect(item_a.locator(".topic")).to_have_text("Afval")
    await expect(item_a.locator(".snippet")).to_have_text(
        "Inwoner: Ik wil een medewerker spreken", timeout=WAIT_MS)
    await expect(item_b.locator(".topic")).to_have_text("Inwoner vroeg om een medewerker")
    await expect(item_b.locator(".snippet")).to_contain_text("paspoort ophalen",
                                                             timeout=WAIT_MS)
    assert "Toestemming" not in await item_a.inner_text()
    await expect(page).to_have_title("(2 wachtend) Agentconsole")
    # The waiting time counts on by itself.
    first_wait = await item_b.locator(".wait").inner_text()
    await expect(item_b.locator(".wait")).not_to_have_text(first_wait, timeout=WAIT_MS)
    await assert_console_accessible(page, axe_source, "signed in, two waiting")
    await settled_screenshot(page, "console-workspace-01-signed-in")

    # Desktop notifications: asked on the agent's click, then never again.
    enable = page.locator("#notify-enable")
    await expect(enable).to_be_visible()
    await enable.click()
    await expect(enable).to_be_hidden()
    assert (await alerts(page))["asked"] == [True]

    # Pick-up puts the agent in the reply box; Enter sends, Shift+Enter breaks the line.
    await pick_up(page, a)
    await expect(page.locator("#reply-text")).to_be_focused()
    await expect(page.locator("#detail-topic")).to_have_text("Afval")
    await expect(page.locator("#detail-consent")).to_have_text("Niet gevraagd")
    await page.keyboard.type("Goedemiddag,")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("ik kijk het voor u na.")
    await expect(page.locator("#reply-text")).to_have_value(
        "Goedemiddag,\nik kijk het voor u na.")
    await page.keyboard.press("Enter")
    await console.stored(a, "Goedemiddag,\nik kijk het voor u na.")
    await expect(page.locator("#reply-text")).to_have_value("")
    # A long conversation scrolls inside its pane; the page stays one screen.
    for n in range(18):
        await console.agent("POST", f"threads/{a.thread_id}/messages",
                            {"message_id": f"long-{n}", "text": f"Stap {n + 1} van de uitleg."})
    await page.locator(f"#thread-item-{a.thread_id}").click()
    await expect(page.locator("#transcript li[data-party=agent]")).to_have_count(
        19, timeout=WAIT_MS)
    assert await page.evaluate(
        "(() => { const t = document.getElementById('transcript');"
        " return t.scrollHeight > t.clientHeight; })()")
    await fits_one_screen(page)

    # A second chat at once; the first one's citizen writes meanwhile.
    await pick_up(page, b)
    before = (await alerts(page))["tones"]
    await console.say(a, "Het gaat om de grijze container.")
    await console.say(a, "Die is vandaag niet geleegd.")
    await expect(item_a.locator(".unread")).to_have_text("2 nieuwe berichten", timeout=WAIT_MS)
    await expect(item_a.locator(".snippet")).to_contain_text("niet geleegd")
    await expect(page).to_have_title("(2 nieuw) Agentconsole")
    spied = await alerts(page)
    assert spied["tones"] > before
    assert [n["title"] for n in spied["notifications"]] == ["Nieuw bericht", "Nieuw bericht"]
    await fits_one_screen(page)
    await assert_console_accessible(page, axe_source, "two chats, one with unread messages")
    await settled_screenshot(page, "console-workspace-02-two-chats-unread")

    # A new waiting chat: heard, notified, counted in the title.
    c = await console.citizen("c", "Mijn buren maken al weken overlast.")
    await expect(page.locator(f"#thread-item-{c.thread_id}")).to_be_visible(timeout=WAIT_MS)
    await expect(page).to_have_title("(1 wachtend, 2 nieuw) Agentconsole")
    await expect(page.locator(f"#thread-item-{c.thread_id} .snippet")).to_have_text(
        "Inwoner: Mijn buren maken al weken overlast.", timeout=WAIT_MS)
    spied = await alerts(page)
    assert spied["notifications"][-1]["title"] == "Nieuw gesprek wacht"
    # Nothing of any citizen goes to the operating system's notifications.
    for shown in spied["notifications"]:
        assert shown["title"] in ("Nieuw bericht", "Nieuw gesprek wacht"), shown
        assert not shown["options"].get("body"), shown

    # Opening the chat reads its messages.
    await open_thread(page, a)
    await expect(item_a.locator(".unread")).to_have_count(0)
    await expect(page).to_have_title("(1 wachtend) Agentconsole")

    # Closing needs an outcome of the agent's choice, and a confirmation.
    await page.locator("#close-thread").click()
    await expect(page.locator("#thread-error")).to_have_text(
        "Kies eerst een uitkomst voor dit gesprek.")
    await expect(page.locator("#close-outcome")).to_be_focused()
    await expect(page.locator("#close-dialog")).to_be_hidden()
    await page.locator("#close-outcome").select_option("resolved")
    await page.locator("#close-thread").click()
    dialog = page.locator("#close-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Opgelost")
    await expect(page.locator("#close-cancel")).to_be_focused()
    await assert_console_accessible(page, axe_source, "the close confirmation")
    await settled_screenshot(page, "console-workspace-03-close-confirm")
    # Escape (or "Annuleren") leaves the chat as it was.
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#close-thread")).to_be_focused()
    await expect(page.locator("#detail-status")).to_have_text("In behandeling")
    await page.locator("#close-thread").click()
    await page.locator("#close-confirm").click()
    # Closed: on to the agent's other chat.
    await expect(page.locator(f"#list-closed #thread-item-{a.thread_id}")).to_have_count(
        1, timeout=WAIT_MS)
    await expect(item_b).to_have_attribute("aria-current", "true", timeout=WAIT_MS)
    await expect(page.locator("#thread")).to_be_focused()
    await expect(page.locator("#close-outcome")).to_have_value("")
    assert "resolved" in str(await console.daemon.store.get_conversation(a.conversation_id))
    await settled_screenshot(page, "console-workspace-04-closed-next-chat")

    # The last own chat closed: back to the list, on the chat that waits.
    await page.locator("#close-outcome").select_option("referred")
    await page.locator("#close-thread").click()
    await page.locator("#close-confirm").click()
    await expect(page.locator(f"#list-closed #thread-item-{b.thread_id}")).to_have_count(
        1, timeout=WAIT_MS)
    await expect(page.locator(f"#thread-item-{c.thread_id}")).to_be_focused(timeout=WAIT_MS)
    await assert_console_accessible(page, axe_source, "both chats closed")
    await settled_screenshot(page, "console-workspace-05-back-to-the-list")
    await ctx.close()


async def test_enter_can_be_set_to_break_the_line_and_the_choice_is_kept(
    console: Console, browser: Any, axe_source: str  # noqa: F811
) -> None:
    a = await console.citizen("a", "Hoe vraag ik een parkeervergunning aan?")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    await ctx.add_init_script(SPY_ALERTS)
    page = await ctx.new_page()
    await sign_in(page, console)
    await pick_up(page, a)

    await page.locator("#settings-toggle").click()
    await expect(page.locator("#settings-toggle")).to_have_attribute("aria-expanded", "true")
    sends = page.get_by_label("Enter verstuurt (Shift+Enter: nieuwe regel)")
    await expect(sends).to_be_checked()
    await assert_console_accessible(page, axe_source, "settings open")
    await settled_screenshot(page, "console-workspace-06-settings")
    await sends.uncheck()
    await expect(page.locator("#reply-hint")).to_have_text(
        "Ctrl+Enter verstuurt, Enter begint een nieuwe regel.")
    await page.locator("#settings-toggle").click()
    await expect(page.locator("#settings")).to_be_hidden()

    reply = page.locator("#reply-text")
    await reply.click()
    await page.keyboard.type("Regel een")
    await page.keyboard.press("Enter")
    await page.keyboard.type("regel twee")
    await expect(reply).to_have_value("Regel een\nregel twee")
    await page.keyboard.press("Control+Enter")
    await console.stored(a, "Regel een\nregel twee")
    await expect(reply).to_have_value("")

    # The choice is this agent's way of working, kept over a reload (no citizen data).
    await page.reload()
    await expect(page.locator("#connection-status")).to_have_text("Verbonden", timeout=WAIT_MS)
    await expect(page.locator("#setting-enter-sends")).not_to_be_checked()
    stored = await page.evaluate("localStorage.getItem('handover.console.settings')")
    assert stored is not None and "enterSends" in stored
    await ctx.close()


# --- consent, when the tenant's policy asks for it -----------------------------------------


@pytest_asyncio.fixture(loop_scope=LOOP)
async def consent_console(tmp_path: Path) -> AsyncIterator[Console]:
    """The demo, with the daemon asking each citizen's consent before a handover."""
    data = tmp_path / "data"
    data.mkdir()
    doc = demo_document(data, "127.0.0.1", 8080)
    doc["tenants"][DEMO_TENANT]["handover"]["consent"] = "daemon"
    token = "consent-agent-token-0123456789"
    daemon = Daemon(parse_config(doc, base_dir=data, env={**os.environ, TOKEN_ENV: token}))
    runner, port = await _site(daemon.build_app())
    c = Console(daemon, f"http://127.0.0.1:{port}", token)
    try:
        yield c
    finally:
        await c.http.close()
        await runner.cleanup()


async def test_consent_shows_as_given_only_when_it_was_asked(
    consent_console: Console, browser: Any, axe_source: str
) -> None:
    desk = consent_console
    url = "https://www.voorbeeld.nl/toestemming"
    async with desk.http.post(desk.base + "/rest/conversations", json={
        "tenant": DEMO_TENANT, "language": "nl", "context": {"url": url, "title": "t"},
    }) as resp:
        opened = await resp.json()
    c = Citizen(opened["conversation_id"], opened["token"], url, [])
    await desk.say(c, "Ik wil een medewerker spreken")
    # The daemon asks first; the citizen says yes.
    for _ in range(100):
        if any("medewerker kan dan dit gesprek" in t for t in await desk.texts(c)):
            break
        await asyncio.sleep(0.05)
    await desk.say(c, "ja")
    c.thread_id = await waiting(desk, c)

    ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = await ctx.new_page()
    await sign_in(page, desk)
    item = page.locator(f"#thread-item-{c.thread_id}")
    await expect(item).to_contain_text("Toestemming: Ja", timeout=WAIT_MS)
    await item.click()
    await expect(page.locator("#detail-consent")).to_have_text("Ja", timeout=WAIT_MS)
    await assert_console_accessible(page, axe_source, "consent asked and given")
    await settled_screenshot(page, "console-workspace-07-consent-given")
    await ctx.close()
