"""A callback request in the widget, in Chromium: outside opening hours the citizen who
asks for a person is offered one; while the daemon asks its questions the status line
says it is a callback request (not the digital assistant) and "talk to a person" is
hidden. axe checks the widget in that state; screenshots:
tests/browser/screenshots/callback-offer.png and callback-done.png.

The tenant here is always outside opening hours, takes callback requests and registers
them at a memory target, so what the citizen gave can be checked where it went.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio

from handover.config.load import parse_config
from handover.daemon.app import Daemon
from handover.sdk.registration import AddressKind
from handover.sdk.testing import MemoryRegistry
from tests.browser.conftest import (
    LOOP,
    TENANT,
    CuttableProxy,
    System,
    _site,
    assert_accessible,
    page_app,
    screenshot,
)

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope=LOOP)


@pytest_asyncio.fixture(loop_scope=LOOP)
async def closed_system(tmp_path: Path) -> AsyncIterator[System]:
    holder: dict[str, str] = {}
    page_runner, page_port = await _site(page_app(holder))
    page_origin = f"http://127.0.0.1:{page_port}"
    doc = {
        "store": {"path": str(tmp_path / "handover.db")},
        "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.01,
                     "backoff_cap_seconds": 0.1},
        "adapters": {
            "web": {"type": "web", "tenants": {TENANT: {"origins": [page_origin]}}},
            "gem": {"type": "demo_bot"},
            "desk": {"type": "demo_desk"},
            "kcc-register": {"type": "memory_registry"},
        },
        "tenants": {TENANT: {
            "name": "Gemeente Voorbeeld", "channels": ["web"], "bot": "gem", "desk": "desk",
            "languages": ["nl", "en"], "handover": {"phone": "14 0000"},
            # No open interval on any day: always outside opening hours.
            "hours": {"timezone": "Europe/Amsterdam", "holidays": ""},
            "registries": ["kcc-register"], "callback": {"enabled": True},
        }},
    }
    daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=os.environ))
    runner, port = await _site(daemon.build_app())
    proxy = CuttableProxy(port)
    await proxy.start()
    holder["widget"] = f"http://127.0.0.1:{proxy.port}/web/widget.js"
    system = System(daemon, proxy, page_origin, f"http://127.0.0.1:{port}")
    try:
        yield system
    finally:
        await system.http.close()
        await proxy.close()
        await runner.cleanup()
        await page_runner.cleanup()


async def test_the_status_line_says_callback_request_while_the_daemon_asks(
    closed_system: System, browser: Any, axe_source: str,
) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    page = await context.new_page()
    await page.goto(closed_system.page_url + "/")
    await page.get_by_role("button", name="Chat openen").click()
    textbox = page.get_by_role("textbox", name="Uw bericht")
    await textbox.fill("Mijn container is niet geleegd")
    await textbox.press("Enter")
    await expect(page.locator(".hw-msg--bot").first).to_be_visible(timeout=WAIT_MS)
    status = page.locator(".hw-status")
    await expect(status).to_have_text("U chat met de digitale assistent.")

    person = page.get_by_role("button", name="Praat met een medewerker")
    await person.click()
    await expect(page.locator(".hw-root")).to_have_attribute("data-state", "callback",
                                                             timeout=WAIT_MS)
    await expect(status).to_have_text("Terugbelverzoek. Stoppen kan altijd: typ 'stop'.")
    await expect(person).to_be_hidden()
    await expect(page.get_by_role("button", name="Ja, graag")).to_be_visible()
    await assert_accessible(page, axe_source, "callback")
    await screenshot(page, "callback-offer")

    await page.get_by_role("button", name="Ja, graag").click()
    await textbox.fill("06 1234")
    await textbox.press("Enter")
    system_notes = page.locator(".hw-msg--system .hw-text")
    await expect(system_notes.last).to_contain_text("geen telefoonnummer", timeout=WAIT_MS)
    await textbox.fill("06 12345678")
    await textbox.press("Enter")
    await page.get_by_role("button", name="Overslaan").click()
    await page.get_by_role("button", name="Deze vraag").click()
    await expect(system_notes.last).to_contain_text("Uw verzoek is bewaard", timeout=WAIT_MS)
    # Done: the assistant again, and a person can be asked for again.
    await expect(page.locator(".hw-root")).to_have_attribute("data-state", "bot")
    await expect(status).to_have_text("U chat met de digitale assistent.")
    await expect(person).to_be_visible()
    await screenshot(page, "callback-done")

    registry = cast(MemoryRegistry, closed_system.daemon.adapters["kcc-register"])
    [request] = registry.callbacks.values()
    assert (request.address_kind, request.address) == (AddressKind.PHONE, "+31612345678")
    assert request.question == "Mijn container is niet geleegd" and request.name is None
    await context.close()


async def test_in_english_the_status_line_says_callback_request(
    closed_system: System, browser: Any,
) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    page = await context.new_page()
    await page.goto(closed_system.page_url + "/?lang=en")
    await page.get_by_role("button", name="Open chat").click()
    textbox = page.get_by_role("textbox", name="Your message")
    await textbox.fill("My bin was not emptied")
    await textbox.press("Enter")
    await expect(page.locator(".hw-msg--bot").first).to_be_visible(timeout=WAIT_MS)
    await page.get_by_role("button", name="Talk to a person").click()
    await expect(page.locator(".hw-status")).to_have_text(
        "Callback request. You can stop at any time: type 'stop'.", timeout=WAIT_MS)
    # "stop" ends it: nothing stored, the assistant again.
    await textbox.fill("stop")
    await textbox.press("Enter")
    await expect(page.locator(".hw-status")).to_have_text(
        "You are chatting with the digital assistant.", timeout=WAIT_MS)
    registry = cast(MemoryRegistry, closed_system.daemon.adapters["kcc-register"])
    assert registry.callbacks == {}
    await context.close()
