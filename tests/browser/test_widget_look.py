"""The widget's look and operability: design tokens, keyboard and focus, narrow screens
and zoom, reduced motion, language, and the SiteImprove events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import System, assert_accessible, screenshot

# Without the playwright package the module is skipped (with the reason), not an error.
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def style(page: Any, selector: str, prop: str) -> str:
    value: str = await page.eval_on_selector(
        selector, "(el, prop) => getComputedStyle(el).getPropertyValue(prop)", prop)
    return value.strip()


async def test_the_fixture_token_stylesheet_drives_colours_font_and_radius(
    system: System, browser: Any
) -> None:
    page = await browser.new_page()
    await page.goto(system.page_url + "/tokens")
    launcher = page.get_by_role("button", name="Chat openen")
    await expect(launcher).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator(".hw-root.fixture-theme")).to_have_count(1)
    # The tenant's stylesheet (named in its configuration) has loaded.
    await page.wait_for_function(
        "getComputedStyle(document.querySelector('.hw-launcher')).backgroundColor"
        " === 'rgb(0, 90, 40)'", timeout=WAIT_MS)
    assert await style(page, ".hw-launcher", "color") == "rgb(255, 255, 255)"
    assert await style(page, ".hw-launcher", "border-radius") == "12px"
    assert "Courier New" in await style(page, ".hw-root", "font-family")
    await launcher.click()
    assert await style(page, ".hw-panel", "background-color") == "rgb(255, 250, 240)"
    assert await style(page, ".hw-status", "color") == "rgb(20, 20, 60)"
    # The focus ring follows the focus token.
    await page.keyboard.press("Shift+Tab")  # from the textbox back to the talk-to-a-person button
    assert await style(page, ".hw-request-agent", "outline-color") == "rgb(200, 0, 120)"
    await screenshot(page, "10-fixture-theme")
    await page.close()


async def test_keyboard_only_open_chat_and_close_with_focus_where_expected(
    system: System, browser: Any, axe_source: str
) -> None:
    page = await browser.new_page()
    await page.goto(system.page_url + "/")
    launcher = page.get_by_role("button", name="Chat openen")
    await expect(launcher).to_be_visible(timeout=WAIT_MS)
    # Without a house style of its own, the page gets the neutral default theme.
    await page.wait_for_function(
        "getComputedStyle(document.querySelector('.hw-launcher')).backgroundColor"
        " === 'rgb(29, 79, 124)'", timeout=WAIT_MS)
    assert "system-ui" in await style(page, ".hw-root", "font-family")
    # Tab from the page's own link reaches the launcher.
    await page.get_by_role("link").focus()
    await page.keyboard.press("Tab")
    await expect(launcher).to_be_focused()
    assert await style(page, ".hw-launcher", "outline-style") == "solid"  # visible focus
    await page.keyboard.press("Enter")
    textbox = page.get_by_role("textbox", name="Uw bericht")
    await expect(textbox).to_be_focused()
    await page.keyboard.type("Paspoort")
    await page.keyboard.press("Enter")
    await expect(page.locator(".hw-msg--bot")).to_have_count(1, timeout=WAIT_MS)
    # The bot's buttons are reachable and usable with the keyboard.
    choice = page.locator(".hw-msg--bot .hw-choice").first
    if await choice.count():
        await choice.focus()
        await page.keyboard.press("Enter")
        await expect(page.locator(".hw-msg--bot")).to_have_count(2, timeout=WAIT_MS)
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_be_hidden()
    await expect(launcher).to_be_focused()
    await assert_accessible(page, axe_source, "closed after chat")
    pushed = await page.evaluate("window._sz")
    assert ["event", "handover-widget", "opened", ""] in pushed
    await page.close()


async def test_usable_at_320_px_and_at_200_percent_zoom(
    system: System, browser: Any, axe_source: str
) -> None:
    # 320 CSS px wide (WCAG 1.4.10 reflow), and a 1280 px window at 200% zoom (640 CSS px).
    for name, viewport, scale in [("320px", {"width": 320, "height": 640}, 1),
                                  ("zoom200", {"width": 640, "height": 400}, 2)]:
        context = await browser.new_context(viewport=viewport, device_scale_factor=scale)
        page = await context.new_page()
        await page.goto(system.page_url + "/")
        await page.get_by_role("button", name="Chat openen").click()
        textbox = page.get_by_role("textbox", name="Uw bericht")
        await textbox.fill("Afval")
        await page.get_by_role("button", name="Versturen").click()
        await expect(page.locator(".hw-msg--bot")).to_have_count(1, timeout=WAIT_MS)
        width = viewport["width"]
        for selector in (".hw-panel", ".hw-send", ".hw-input", ".hw-close"):
            box = await page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (
                name, selector, box)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth")
        assert not overflow, f"horizontal scrolling at {name}"
        await assert_accessible(page, axe_source, name)
        await screenshot(page, f"11-{name}")
        await context.close()


async def test_english_page_reduced_motion_and_handover_reported(
    system: System, browser: Any
) -> None:
    context = await browser.new_context(reduced_motion="reduce")
    page = await context.new_page()
    await page.goto(system.page_url + "/?lang=en")
    await page.get_by_role("button", name="Open chat").click()
    await page.get_by_role("textbox", name="Your message").fill("When is the waste collected?")
    await page.keyboard.press("Enter")
    bot = page.locator(".hw-msg--bot").first
    await expect(bot.locator(".hw-sender")).to_have_text("Digital assistant", timeout=WAIT_MS)
    # The citizen asked for less motion: messages appear without the fade-in.
    assert await bot.evaluate("el => getComputedStyle(el).animationName") == "none"
    await page.get_by_role("button", name="Talk to a person").click()
    await expect(page.locator(".hw-status")).to_contain_text("queue", timeout=WAIT_MS)
    pushed = await page.evaluate("window._sz")
    actions = [e[2] for e in pushed]
    assert actions[:2] == ["opened", "handover_requested"]
    await context.close()
