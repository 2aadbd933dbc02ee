"""The widget in real municipal house styles: Rotterdam's and Utrecht's published design
tokens, installed from npm at test time (never committed or shipped), loaded by the
embedding page with the theme class on <body>, as a municipality's site does.

Every colour of the widget must then come from the municipality's tokens (no half-themed
widget), and each text colour must sit on the background its token pairs with: axe-core
checks the contrast of the buttons and quick replies, and a contrast axe cannot decide
(white on white is reported that way) fails the test as a violation does.
"""

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

# What a token resolves to on <body>, where the page put the theme class.
TOKEN_ON_BODY = """(token) => {
    const probe = document.createElement('div');
    probe.style.color = `var(${token})`;
    document.body.appendChild(probe);
    const value = getComputedStyle(probe).color;
    probe.remove();
    return value;
}"""


async def token(page: Any, name: str) -> str:
    value: str = await page.evaluate(TOKEN_ON_BODY, name)
    return value


async def style(page: Any, selector: str, prop: str) -> str:
    value: str = await page.locator(selector).first.evaluate(
        "(el, prop) => getComputedStyle(el).getPropertyValue(prop)", prop)
    return value.strip()


@pytest.mark.parametrize("municipality", ["rotterdam", "utrecht"])
async def test_theme_class_on_body_themes_the_whole_widget_with_readable_buttons(
    system: System, browser: Any, axe_source: str, municipal_tokens: dict[str, Any],
    municipality: str,
) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    page = await context.new_page()
    await page.goto(f"{system.page_url}/municipal/{municipality}")
    launcher = page.get_by_role("button", name="Chat openen")
    await expect(launcher).to_be_visible(timeout=WAIT_MS)
    primary_bg = await token(page, "--utrecht-button-primary-action-background-color")
    assert primary_bg != "rgb(0, 0, 0)", "the municipality's token stylesheet did not load"
    await page.wait_for_function(
        "bg => getComputedStyle(document.querySelector('.hw-launcher')).backgroundColor === bg",
        arg=primary_bg, timeout=WAIT_MS)
    assert await style(page, ".hw-launcher", "color") == await token(
        page, "--utrecht-button-primary-action-color")
    await assert_accessible(page, axe_source, f"{municipality} closed")

    await launcher.click()
    textbox = page.get_by_role("textbox", name="Uw bericht")
    await textbox.fill("Hallo")
    await textbox.press("Enter")
    quick_reply = page.locator(".hw-msg--bot .hw-choice")
    await expect(quick_reply.first).to_be_visible(timeout=WAIT_MS)

    # Every part of the widget follows the tokens from <body>: none of the neutral theme.
    expected = {
        (".hw-panel", "background-color"): "--utrecht-document-background-color",
        (".hw-panel", "color"): "--utrecht-document-color",
        (".hw-header", "background-color"): "--utrecht-button-primary-action-background-color",
        (".hw-title", "color"): "--utrecht-button-primary-action-color",
        (".hw-send", "background-color"): "--utrecht-button-primary-action-background-color",
        (".hw-send", "color"): "--utrecht-button-primary-action-color",
        (".hw-request-agent", "color"): "--utrecht-button-secondary-action-color",
        (".hw-request-agent", "background-color"):
            "--utrecht-button-secondary-action-background-color",
        (".hw-choice", "color"): "--utrecht-button-secondary-action-color",
        (".hw-choice", "background-color"): "--utrecht-button-secondary-action-background-color",
    }
    for (selector, prop), name in expected.items():
        assert await style(page, selector, prop) == await token(page, name), (
            municipality, selector, prop, name)
    # The finding of issue 20: the secondary text colour never lands on another background.
    for selector in (".hw-request-agent", ".hw-choice"):
        assert await style(page, selector, "color") != await style(
            page, selector, "background-color"), (municipality, selector)

    await assert_accessible(page, axe_source, f"{municipality} bot with quick replies")
    await screenshot(page, f"20-tokens-{municipality}-quick-replies")
    await page.close()
    await context.close()
