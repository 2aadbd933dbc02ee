"""The widget on a phone and at 200 % zoom: the open chat fills the screen and keeps the
focus inside (Tab and Shift+Tab cycle, Escape minimises); closed, it is only the launcher,
bottom right, and takes no taps meant for the page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import System, assert_accessible, screenshot

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope="session")

IN_PANEL = "() => !!document.activeElement.closest('.hw-panel')"


async def box(page: Any, selector: str) -> dict[str, float]:
    found: dict[str, float] | None = await page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


async def test_phone_closed_is_only_the_launcher_and_open_keeps_the_focus_inside(
    system: System, browser: Any, axe_source: str
) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 740},
                                        has_touch=True, is_mobile=True)
    page = await context.new_page()
    await page.goto(system.page_url + "/")
    launcher = page.get_by_role("button", name="Chat openen")
    await expect(launcher).to_be_visible(timeout=WAIT_MS)

    # Closed: the launcher bottom right, and nothing else of the widget over the page.
    at = await box(page, ".hw-launcher")
    assert at["x"] + at["width"] >= 360 - 16 and at["y"] + at["height"] >= 740 - 16, at
    root = await box(page, ".hw-root")
    assert root["width"] <= at["width"] + 1 and root["height"] <= at["height"] + 1, root
    for x, y in ((10, 720), (100, 730), (int(at["x"]) - 5, 730)):
        hit = await page.evaluate("([x, y]) => !!document.elementFromPoint(x, y)"
                                  ".closest('.hw-root')", [x, y])
        assert not hit, f"the closed widget takes a tap at {x},{y}"
    await assert_accessible(page, axe_source, "phone closed")
    await screenshot(page, "40-phone-closed")

    # Open: the whole screen, a modal dialog.
    await launcher.click()
    textbox = page.get_by_role("textbox", name="Uw bericht")
    await expect(textbox).to_be_focused()
    panel = await box(page, ".hw-panel")
    assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 360, 740), panel
    await expect(page.get_by_role("dialog")).to_have_attribute("aria-modal", "true")
    await textbox.fill("Hallo")
    await textbox.press("Enter")
    await expect(page.locator(".hw-msg--bot .hw-choice").first).to_be_visible(timeout=WAIT_MS)
    await assert_accessible(page, axe_source, "phone open")
    await screenshot(page, "41-phone-open")

    # Tab and Shift+Tab cycle inside the panel, past the last and the first stop.
    stops = await page.evaluate(
        "document.querySelectorAll('.hw-panel button:not([disabled]), .hw-panel textarea,"
        " .hw-panel [tabindex]').length")
    for key in ("Tab", "Shift+Tab"):
        for step in range(stops + 2):
            await page.keyboard.press(key)
            assert await page.evaluate(IN_PANEL), f"{key} x{step + 1} left the panel"
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_be_hidden()
    await expect(launcher).to_be_focused()
    await context.close()


async def test_200_percent_zoom_on_a_laptop_goes_full_screen_by_height(
    system: System, browser: Any, axe_source: str
) -> None:
    # 1280x800 at 200 %: 640x400 CSS pixels.
    context = await browser.new_context(viewport={"width": 640, "height": 400},
                                        device_scale_factor=2)
    page = await context.new_page()
    await page.goto(system.page_url + "/")
    await page.get_by_role("button", name="Chat openen").click()
    textbox = page.get_by_role("textbox", name="Uw bericht")
    await textbox.fill("Hallo")
    await textbox.press("Enter")
    await expect(page.locator(".hw-msg--bot")).to_have_count(1, timeout=WAIT_MS)
    panel = await box(page, ".hw-panel")
    assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 640, 400), panel
    messages = await box(page, ".hw-messages")
    assert messages["height"] >= 120, messages
    # Dynamic viewport units, with the static ones before them as the fallback.
    href = await page.evaluate(
        "[...document.querySelectorAll('link')].map(l => l.href).find(h => h.endsWith('/widget.css'))")
    heights = await (await context.request.get(href)).text()
    assert "100dvh" in heights
    await assert_accessible(page, axe_source, "zoom 200 open")
    await screenshot(page, "42-zoom200-open")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    assert await page.evaluate(IN_PANEL)
    await context.close()
