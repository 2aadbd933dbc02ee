"""The console's sign-in does not invite a password manager to keep the agent's token:
no password field, autocomplete off, the token masked by CSS."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_console_privacy import Console, console, sign_in

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

pytestmark = pytest.mark.asyncio(loop_scope="session")
__all__ = ["console"]  # the console fixture, used by name


async def test_token_field_is_masked_but_no_password_field(console: Console, browser: Any) -> None:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    await page.goto(console.console_url)
    token = page.locator("#token")
    await expect(token).to_have_attribute("type", "text")
    await expect(token).to_have_attribute("autocomplete", "off")
    assert await page.locator("input[type=password]").count() == 0
    await token.fill(console.agent_token)
    assert await token.evaluate(
        "e => getComputedStyle(e).getPropertyValue('-webkit-text-security')") == "disc"
    await screenshot(page, "60-console-signin-masked")
    await sign_in(page, console, load=False)
    await ctx.close()
