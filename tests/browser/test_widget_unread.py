"""A minimised widget does not let the citizen miss the agent: the launcher shows how many
messages came in since, in a badge that is visible and announced once, and it still does
after a navigation. The button that hides the panel says what it does: minimise."""

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


async def test_minimised_while_queued_the_launcher_counts_the_agents_messages(
    system: System, browser: Any, axe_source: str
) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    page = await context.new_page()
    await page.goto(system.page_url + "/")
    await page.get_by_role("button", name="Chat openen").click()
    await page.get_by_role("button", name="Praat met een medewerker").click()
    await expect(page.locator(".hw-status")).to_contain_text("wachtrij", timeout=WAIT_MS)

    minimise = page.get_by_role("button", name="Minimaliseren", exact=True)
    await expect(minimise).to_have_attribute("title", "Minimaliseren")
    await minimise.click()
    launcher = page.locator(".hw-launcher")
    await expect(launcher).to_be_focused()
    badge = page.locator(".hw-badge")
    await expect(badge).to_be_hidden()

    conversation_id = await page.evaluate(
        "JSON.parse(Object.entries(sessionStorage).find(([k]) => k.startsWith('handover:'))[1])"
        ".conversation_id")
    thread = await system.thread_of(conversation_id)
    before = await page.locator(".hw-msg:not(.hw-msg--citizen)").count()
    await system.desk("POST", f"/threads/{thread}/join", {"agent_name": "Sanne"})
    await system.desk("POST", f"/threads/{thread}/messages",
                      {"message_id": "u1", "text": "Goedemiddag, ik ben Sanne."})
    await system.desk("POST", f"/threads/{thread}/messages",
                      {"message_id": "u2", "text": "Waarmee kan ik u helpen?"})
    await expect(page.locator(".hw-msg--agent")).to_have_count(2, timeout=WAIT_MS)
    new = await page.locator(".hw-msg:not(.hw-msg--citizen)").count() - before
    assert new >= 2

    # Visible on the launcher, in its name for screen readers, and announced once.
    await expect(badge).to_be_visible()
    await expect(badge).to_contain_text(str(new))
    await expect(page.get_by_role("button", name=f"Chat openen {new} nieuwe berichten")).to_be_visible()
    announcer = page.locator(".hw-announcer")
    await expect(announcer).to_have_text(f"{new} nieuwe berichten", timeout=WAIT_MS)
    await assert_accessible(page, axe_source, "minimised with unread messages")
    await screenshot(page, "30-minimised-unread")

    # Another page of the site: the replayed history does not count again, the unread does.
    await page.get_by_role("link", name="Naar een andere pagina").click()
    await expect(page.locator(".hw-badge")).to_contain_text(str(new), timeout=WAIT_MS)

    # Opening reads them: the badge goes, and stays gone after the next page load.
    await page.locator(".hw-launcher").click()
    await expect(page.get_by_role("textbox", name="Uw bericht")).to_be_focused()
    await page.get_by_role("button", name="Minimaliseren").click()
    await expect(page.locator(".hw-badge")).to_be_hidden()
    await page.reload()
    await expect(page.locator(".hw-msg--agent")).to_have_count(2, timeout=WAIT_MS)
    await expect(page.locator(".hw-badge")).to_be_hidden()
    await screenshot(page, "31-minimised-read")
    await context.close()
