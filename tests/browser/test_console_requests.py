"""The console's "Contactverzoeken" in Chromium: an agent opens the list from the header
with the keyboard, claims a callback request, closes it with an outcome, and signing out
leaves nothing of the requests in the page. axe checks the page with the list open.

The daemon runs the demo configuration on loopback (see test_console_privacy); the
requests are handed to the console desk the way the core's outbox does. Screenshot:
tests/browser/screenshots/console-callbacks.png.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from adapters.console.adapter import ConsoleDesk
from handover.demo.config import DEMO_TENANT
from handover.sdk.registration import AddressKind, CallbackRequest
from tests.browser.conftest import LOOP
from tests.browser.test_console_privacy import (
    Console,
    console,  # noqa: F401  (the fixture)
    settled_screenshot,
    sign_in,
)
from tests.browser.test_demo_flow import assert_page_accessible

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope=LOOP)

PHONE_QUESTION = "Mijn container is al twee weken niet geleegd. Wilt u mij terugbellen?"
MAIL_QUESTION = "Kan ik de parkeervergunning ook per e-mail aanvragen?"


async def place(daemon_console: Console) -> ConsoleDesk:
    desk = cast(ConsoleDesk, daemon_console.daemon.adapters["console"])
    await desk.register_callback(CallbackRequest(
        request_id="1" * 32, reference="K7M2QP", tenant=DEMO_TENANT,
        conversation_id="conv-phone", channel="web", channel_type="web", language="nl",
        placed_at=datetime(2026, 3, 2, 18, 30, tzinfo=UTC), address_kind=AddressKind.PHONE,
        address="+31612345678", question=PHONE_QUESTION, name="Jan Jansen",
        topic="waste", topic_label="Afval", callback_text="Morgen tussen 09:00 en 12:00",
    ))
    await desk.register_callback(CallbackRequest(
        request_id="2" * 32, reference="P3XR9T", tenant=DEMO_TENANT,
        conversation_id="conv-mail", channel="whatsapp", channel_type="whatsapp",
        language="en", placed_at=datetime(2026, 3, 2, 19, 5, tzinfo=UTC),
        address_kind=AddressKind.EMAIL, address="a.vries@example.nl",
        question=MAIL_QUESTION,
    ))
    return desk


async def test_an_agent_claims_and_closes_a_callback_request_with_the_keyboard(
    console: Console, browser: Any, axe_source: str,  # noqa: F811
) -> None:
    desk = await place(console)
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await ctx.new_page()
    await sign_in(page, console)
    toggle = page.locator("#callbacks-toggle")
    await expect(toggle).to_have_text("Contactverzoeken (2)", timeout=WAIT_MS)
    await expect(page.locator("#callbacks")).to_be_hidden()

    # Open the list from the keyboard: the heading takes the focus.
    await toggle.focus()
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(page.locator("#callbacks-title")).to_be_focused()
    items = page.locator("#callbacks-list article")
    await expect(items).to_have_count(2)
    # Open requests first, the longest-waiting on top; a closed one moves below them.
    first = page.locator(f"#callbacks-list article[aria-labelledby='callback-{'1' * 32}']")
    await expect(items.nth(0)).to_have_attribute("aria-labelledby", f"callback-{'1' * 32}")
    await expect(first.locator("h3")).to_have_text("Referentie K7M2QP \u2013 Afval")
    await expect(first).to_contain_text("Chat op de website")
    await expect(first).to_contain_text("Jan Jansen")
    await expect(first).to_contain_text(PHONE_QUESTION)
    await expect(first).to_contain_text("Morgen tussen 09:00 en 12:00")
    await expect(first.locator("a[href='tel:+31612345678']")).to_have_text("+31612345678")
    second = items.nth(1)
    await expect(second).to_contain_text("WhatsApp")
    await expect(second).to_contain_text("Engels")
    await expect(second).to_contain_text("Niet opgegeven")
    await expect(second.locator("a[href='mailto:a.vries@example.nl']")).to_be_visible()
    await assert_page_accessible(page, axe_source, "the Contactverzoeken list")

    # Claim with the keyboard: Tab from the heading reaches the first request's button.
    await first.get_by_role("button", name="Oppakken").focus()
    await page.keyboard.press("Enter")
    await expect(first).to_contain_text("Opgepakt door", timeout=WAIT_MS)
    outcome = first.get_by_label("Uitkomst")
    await expect(outcome).to_be_focused()
    # Closing without an outcome says what is missing.
    await first.get_by_role("button", name="Afhandelen").click()
    await expect(first.locator("[role=alert]")).to_have_text("Kies eerst een uitkomst.")
    await outcome.select_option(label="Teruggebeld")

    # A new request reaches the open page at once (pushed, not at the next poll), and
    # the list drawn again leaves the agent's focus and chosen outcome where they were.
    await desk.register_callback(CallbackRequest(
        request_id="3" * 32, reference="W4NB7C", tenant=DEMO_TENANT,
        conversation_id="conv-new", channel="web", channel_type="web", language="nl",
        placed_at=datetime(2026, 3, 3, 8, 15, tzinfo=UTC), address_kind=AddressKind.PHONE,
        address="+31687654321", question="Wanneer wordt het grofvuil opgehaald?",
    ))
    await expect(toggle).to_have_text("Contactverzoeken (3)", timeout=5000)
    await expect(items).to_have_count(3)
    await expect(outcome).to_be_focused()
    await expect(outcome).to_have_value("called_back")

    await first.get_by_role("button", name="Afhandelen").click()
    await expect(first).to_contain_text("Afgehandeld: Teruggebeld", timeout=WAIT_MS)
    await expect(toggle).to_have_text("Contactverzoeken (2)")
    await expect(items.nth(2)).to_have_attribute("aria-labelledby", f"callback-{'1' * 32}")
    await expect(page.locator("#callbacks-announcer")).to_have_text(
        "Contactverzoek K7M2QP afgehandeld.")
    await assert_page_accessible(page, axe_source, "a request closed")
    await settled_screenshot(page, "console-callbacks")

    # A request handled elsewhere (here through the API, as a colleague's page would)
    # shows as handled at once, pushed over the live socket.
    other = page.locator(f"#callbacks-list article[aria-labelledby='callback-{'2' * 32}']")
    await console.agent("POST", f"callbacks/{'2' * 32}/claim", {})
    await console.agent("POST", f"callbacks/{'2' * 32}/close", {"outcome": "mailed"})
    await expect(other).to_contain_text("Afgehandeld: Gemaild", timeout=5000)
    await expect(toggle).to_have_text("Contactverzoeken (1)")

    # Escape closes the list and returns to its button.
    await page.locator("#callbacks-title").focus()
    await page.keyboard.press("Escape")
    await expect(page.locator("#callbacks")).to_be_hidden()
    await expect(toggle).to_be_focused()

    # Signing out leaves nothing of the requests in the page, hidden nodes included.
    await page.locator("#signout").click()
    await expect(page.locator("#signin-form")).to_be_visible()
    await expect(toggle).to_be_hidden()
    html = await page.content()
    for secret in (PHONE_QUESTION, MAIL_QUESTION, "+31612345678", "a.vries@example.nl",
                   "Jan Jansen", "K7M2QP", "+31687654321", "grofvuil"):
        assert secret not in html, secret
    await ctx.close()
