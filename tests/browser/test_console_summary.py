"""The console's close dialog asks for an optional summary where the tenant registers
one with the finished contact: the field is labelled, has a hint, takes the focus, and
what the agent types reaches the registration together with the agent's id. axe checks
the page with the dialog open. Screenshot: tests/browser/screenshots/console-close-summary.png.
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
from handover.demo.config import DEMO_TENANT, TOKEN_ENV, demo_document
from handover.sdk.testing import MemoryRegistry
from tests.browser.conftest import LOOP, _site, assert_accessible
from tests.browser.test_console_privacy import (
    Console,
    console,  # noqa: F401  (the fixture)
    pick_up,
    settled_screenshot,
    sign_in,
)

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 8000
pytestmark = pytest.mark.asyncio(loop_scope=LOOP)

SUMMARY = "Nieuwe container besteld, levering binnen vijf werkdagen."


@pytest_asyncio.fixture(loop_scope=LOOP)
async def summary_console(tmp_path: Path) -> AsyncIterator[Console]:
    data = tmp_path / "data"
    data.mkdir()
    doc = demo_document(data, "127.0.0.1", 8080)
    doc["adapters"]["console"]["summary_tenants"] = [DEMO_TENANT]
    doc["adapters"]["register"] = {"type": "memory_registry"}
    doc["tenants"][DEMO_TENANT].update(registries=["register"],
                                       registration={"content": "summary"})
    token = "summary-agent-token-0123456789"
    daemon = Daemon(parse_config(doc, base_dir=data, env={**os.environ, TOKEN_ENV: token}))
    runner, port = await _site(daemon.build_app())
    c = Console(daemon, f"http://127.0.0.1:{port}", token)
    try:
        yield c
    finally:
        await c.http.close()
        await runner.cleanup()


async def test_the_close_dialog_asks_an_optional_summary_that_is_registered(
    summary_console: Console, browser: Any, axe_source: str,
) -> None:
    c = await summary_console.citizen("a", "Mijn container is kapot.")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await ctx.new_page()
    await sign_in(page, summary_console)
    await pick_up(page, c)
    await page.locator("#close-outcome").select_option("resolved")
    await page.locator("#close-thread").click()
    dialog = page.locator("#close-dialog")
    await expect(dialog).to_be_visible()
    summary = page.get_by_role("textbox", name="Samenvatting (niet verplicht)")
    await expect(summary).to_be_focused()
    await expect(summary).to_have_attribute("maxlength", "1000")
    await expect(page.locator("#close-summary-hint")).to_contain_text("De inwoner ziet het niet")
    await assert_accessible(page, axe_source, "the close dialog with a summary", selector="body")
    await summary.fill(SUMMARY)
    await settled_screenshot(page, "console-close-summary")
    await page.locator("#close-confirm").click()
    await expect(page.locator(f"#list-closed #thread-item-{c.thread_id}")).to_have_count(
        1, timeout=WAIT_MS)
    # Nothing of the chat stays behind in the dialog.
    await expect(page.locator("#close-summary")).to_have_value("")

    registry = cast(MemoryRegistry, summary_console.daemon.adapters["register"])
    await registry.wait_for(lambda: bool(registry.contacts))
    [record] = registry.contacts.values()
    assert (record.content, record.agent_id, record.outcome) == (SUMMARY, "sanne", "resolved")
    await ctx.close()


async def test_without_a_registered_summary_the_dialog_asks_none(
    console: Console, browser: Any,  # noqa: F811
) -> None:
    """The demo console lists no summary tenants: no field, the safe choice focused."""
    c = await console.citizen("b", "Waar haal ik mijn paspoort?")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await ctx.new_page()
    await sign_in(page, console)
    await pick_up(page, c)
    await page.locator("#close-outcome").select_option("resolved")
    await page.locator("#close-thread").click()
    await expect(page.locator("#close-dialog")).to_be_visible()
    await expect(page.locator("#close-summary-field")).to_be_hidden()
    await expect(page.locator("#close-cancel")).to_be_focused()
    await page.locator("#close-confirm").click()
    await expect(page.locator(f"#list-closed #thread-item-{c.thread_id}")).to_have_count(
        1, timeout=WAIT_MS)
    await ctx.close()
