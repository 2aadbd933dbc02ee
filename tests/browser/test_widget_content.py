"""What the chat shows: links from the agent clickable and safe (widget and console),
right-to-left text, times, the bot's old buttons spent once a person has taken over, a
paste over the length limit said out loud, the 0-10 scale in balanced rows with a visible
choice, and the newest message kept in view when the layout changes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import System, assert_accessible, screenshot
from tests.browser.test_console_privacy import Console, console, open_thread, sign_in

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope="session")
__all__ = ["console"]  # the console fixture, used by name

ARABIC = "مرحبا، أريد تجديد جواز سفري."
WITH_LINKS = ("Kijk op https://www.voorbeeld.nl/afval/kalender. Of javascript:alert(1) "
              "en data:text/html,<b>x</b> (https://www.voorbeeld.nl/a?b=1)")
LINKS = ["https://www.voorbeeld.nl/afval/kalender", "https://www.voorbeeld.nl/a?b=1"]


async def at_end(page: Any) -> bool:
    result: bool = await page.eval_on_selector(
        ".hw-messages", "r => r.scrollHeight - r.scrollTop - r.clientHeight < 2")
    return result


async def test_agent_links_rtl_times_spent_bot_buttons_paste_and_the_scale(
    system: System, browser: Any, axe_source: str
) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    page = await context.new_page()
    await page.goto(system.page_url + "/")
    await page.get_by_role("button", name="Chat openen").click()
    textbox = page.get_by_role("textbox", name="Uw bericht")
    await textbox.fill("Hallo")
    await textbox.press("Enter")
    quick = page.locator(".hw-msg--bot .hw-choice")
    await expect(quick.first).to_be_enabled(timeout=WAIT_MS)

    # A paste longer than the limit: the citizen is told, not silently cut.
    limit = await textbox.evaluate("t => t.maxLength")
    await textbox.evaluate("""(t, n) => {
        const data = new DataTransfer();
        data.setData('text/plain', 'x'.repeat(n));
        t.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true,
                                                     cancelable: true}));
    }""", limit + 50)
    note = page.locator(".hw-note")
    await expect(note).to_contain_text(f"langer dan {limit} tekens")
    await screenshot(page, "50-paste-too-long")
    await textbox.fill(ARABIC)
    await textbox.press("Enter")
    await expect(note).to_be_hidden()

    await page.get_by_role("button", name="Praat met een medewerker").click()
    await expect(page.locator(".hw-status")).to_contain_text("wachtrij", timeout=WAIT_MS)
    conversation_id = await page.evaluate(
        "JSON.parse(Object.entries(sessionStorage).find(([k]) => k.startsWith('handover:'))[1])"
        ".conversation_id")
    thread = await system.thread_of(conversation_id)
    await system.desk("POST", f"/threads/{thread}/join", {"agent_name": "Sanne"})
    await system.desk("POST", f"/threads/{thread}/messages",
                      {"message_id": "l1", "text": WITH_LINKS})
    agent = page.locator(".hw-msg--agent").last
    await expect(agent).to_contain_text("Kijk op", timeout=WAIT_MS)

    # Only the two http(s) links are links, opened safely; the rest stays text.
    anchors = agent.locator(".hw-text a")
    await expect(anchors).to_have_count(2)
    for i, href in enumerate(LINKS):
        a = anchors.nth(i)
        await expect(a).to_have_attribute("href", href)
        await expect(a).to_have_attribute("target", "_blank")
        await expect(a).to_have_attribute("rel", "noopener noreferrer nofollow")
    assert await agent.locator(".hw-text").text_content() == WITH_LINKS
    assert await agent.locator(".hw-text b").count() == 0

    # Message text runs in its own direction, and every message has its time.
    mine = page.locator(".hw-msg--citizen", has_text=ARABIC)
    await expect(mine.locator(".hw-text")).to_have_attribute("dir", "auto")
    assert await mine.locator(".hw-text").evaluate(
        "e => getComputedStyle(e).direction") == "rtl"
    times = await page.eval_on_selector_all(".hw-msg", "els => els.map(e => "
                                            "e.querySelector('time.hw-time')?.textContent)")
    assert all(t and len(t) == 5 and t[2] == ":" for t in times), times

    # A person has taken over: the bot's old buttons are spent.
    for i in range(await quick.count()):
        await expect(quick.nth(i)).to_be_disabled()
    await assert_accessible(page, axe_source, "agent with links")
    await screenshot(page, "51-agent-links-rtl")

    # The agent closes: the scale in two balanced rows, 10 under 5 at the right end.
    await system.desk("POST", f"/threads/{thread}/close", {"outcome": "solved"})
    scale = page.locator(".hw-scale")
    await expect(scale).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator(".hw-request-agent")).to_be_visible()
    boxes = await scale.locator(".hw-scale-choice").evaluate_all(
        "bs => bs.map(b => b.getBoundingClientRect().toJSON())")
    rows = sorted({round(b["y"]) for b in boxes})
    assert len(rows) in (1, 2), rows
    if len(rows) == 2:
        first = [b for b in boxes if round(b["y"]) == rows[0]]
        assert len(first) == 6, "two balanced rows: 0-5 over 6-10"
        assert abs(boxes[10]["right"] - boxes[5]["right"]) < 1
    ends = await scale.locator(".hw-scale-ends > span").evaluate_all(
        "s => s.map(e => e.getBoundingClientRect().toJSON())")
    assert abs(ends[0]["left"] - boxes[0]["left"]) < 1
    assert abs(ends[1]["right"] - boxes[10]["right"]) < 1
    # The "talk to a person" button came back: the newest message is still in view.
    await page.wait_for_function("""() => {
        const r = document.querySelector('.hw-messages');
        return r.scrollHeight - r.scrollTop - r.clientHeight < 2; }""", timeout=WAIT_MS)
    await assert_accessible(page, axe_source, "survey")
    await screenshot(page, "52-survey-scale")

    await scale.get_by_role("button", name="8", exact=True).click()
    eight = scale.locator(".hw-scale-choice").nth(8)
    await expect(eight).to_have_attribute("aria-pressed", "true")
    await expect(eight).to_have_accessible_name("8, gekozen")
    assert await eight.evaluate("b => getComputedStyle(b).opacity") == "1"
    await expect(page.locator(".hw-msg--system .hw-choice").last).to_be_visible(timeout=WAIT_MS)
    assert await at_end(page)
    await screenshot(page, "53-survey-chosen")
    await context.close()


async def test_console_transcript_links_and_direction(console: Console, browser: Any) -> None:
    c = await console.citizen("rtl", ARABIC)
    await console.say(c, WITH_LINKS)
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await sign_in(page, console)
    await open_thread(page, c)
    item = page.locator("#transcript li[data-party=citizen]", has_text="Kijk op")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    anchors = item.locator(".text a")
    await expect(anchors).to_have_count(2)
    for i, href in enumerate(LINKS):
        await expect(anchors.nth(i)).to_have_attribute("href", href)
        await expect(anchors.nth(i)).to_have_attribute("rel", "noopener noreferrer nofollow")
    assert await item.locator(".text").text_content() == WITH_LINKS
    rtl = page.locator("#transcript li[data-party=citizen] .text").first
    await expect(rtl).to_have_attribute("dir", "auto")
    assert await rtl.evaluate("e => getComputedStyle(e).direction") == "rtl"
    await screenshot(page, "54-console-links-rtl")
    await ctx.close()
