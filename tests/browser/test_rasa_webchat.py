"""The real rasa-webchat widget (npm package `rasa-webchat`, its browser bundle) in
Chromium, pointed at the daemon's socket.io channel with nothing but its socket URL:
a bot turn, the handover, the agent's reply, the close and the NPS question, a cut
connection with a message sent meanwhile, and a reload.

The agent's side is driven through the demo desk's HTTP API. Screenshots are saved
under tests/browser/screenshots/ (rasa-webchat-*.png).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from handover.config.load import parse_config
from handover.daemon.app import Daemon
from tests.browser.conftest import HERE, LOOP, CuttableProxy, _site, screenshot

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="SKIPPED LOUDLY: the playwright package is not installed"
)
expect = playwright_api.expect

WAIT_MS = 10000
pytestmark = pytest.mark.asyncio(loop_scope="session")
BUNDLE = HERE / "node_modules" / "rasa-webchat" / "lib" / "index.js"
TENANT = "demo"

# A municipal page embedding rasa-webchat the way its README shows; only `socketUrl`
# points at the daemon (with the tenant in its query), `socketPath` is the default.
PAGE = """<!doctype html>
<html lang="nl">
<head><meta charset="utf-8"><title>Afval</title></head>
<body>
<h1>Afval</h1><p>Informatie over afval.</p>
<div id="webchat"></div>
<script src="/rasa-webchat.js"></script>
<script>
  WebChat.default({
    socketUrl: "%(socket_url)s",
    socketPath: "/socket.io/",
    customData: {language: "nl", tenant: "%(tenant)s", url: location.href, title: document.title},
    title: "Gemeente Voorbeeld",
    subtitle: "Digitale assistent",
    inputTextFieldHint: "Typ uw bericht...",
    params: {storage: "session"},
  }, null);
</script>
</body>
</html>
"""


def _ensure_bundle() -> str | None:
    """rasa-webchat's bundle from tests/browser/package.json (npm ci when missing)."""
    if BUNDLE.exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is missing: cannot install rasa-webchat"
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0 or not BUNDLE.exists():
        return f"npm ci failed: {done.stderr[-500:]}"
    return None


@dataclass
class Rig:
    daemon: Daemon
    proxy: CuttableProxy
    page_url: str
    daemon_url: str
    http: aiohttp.ClientSession

    async def desk(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, f"{self.daemon_url}/desk{path}", json=body) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json()

    async def thread(self) -> str:
        for _ in range(100):
            live = [t for t in await self.desk("GET", "/threads") if t["status"] != "closed"]
            if live:
                return str(live[0]["thread_id"])
            await asyncio.sleep(0.05)
        raise AssertionError("no desk thread")


@pytest_asyncio.fixture(loop_scope=LOOP)
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    problem = _ensure_bundle()
    if problem:
        pytest.skip(f"SKIPPED LOUDLY: no rasa-webchat bundle: {problem}")
    holder: dict[str, str] = {}

    async def page(request: web.Request) -> web.Response:
        html = PAGE % {"socket_url": holder["socket_url"], "tenant": TENANT}
        return web.Response(text=html, content_type="text/html")

    async def bundle(request: web.Request) -> web.FileResponse:
        return web.FileResponse(BUNDLE)

    pages = web.Application()
    pages.add_routes([web.get("/", page), web.get("/rasa-webchat.js", bundle)])
    page_runner, page_port = await _site(pages)
    page_origin = f"http://127.0.0.1:{page_port}"
    doc = {
        "store": {"path": str(tmp_path / "handover.db")},
        "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.01,
                     "backoff_cap_seconds": 0.1},
        "adapters": {
            "sio": {"type": "socketio", "tenants": {TENANT: {"origins": [page_origin]}}},
            "gem": {"type": "demo_bot"},
            "desk": {"type": "demo_desk"},
        },
        "tenants": {TENANT: {"name": "Gemeente Voorbeeld", "channels": ["sio"], "bot": "gem",
                             "desk": "desk", "handover": {"phone": "14 0000"},
                             "survey": {"enabled": True, "ask_comment": False}}},
    }
    daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=os.environ))
    runner, port = await _site(daemon.build_app())
    proxy = CuttableProxy(port)
    await proxy.start()
    holder["socket_url"] = f"http://127.0.0.1:{proxy.port}/?tenant={TENANT}"
    async with aiohttp.ClientSession() as http:
        try:
            yield Rig(daemon, proxy, page_origin + "/", f"http://127.0.0.1:{port}", http)
        finally:
            await proxy.close()
            await runner.cleanup()
            await page_runner.cleanup()


async def texts(page: Any, selector: str) -> list[str]:
    result: list[str] = await page.eval_on_selector_all(
        selector, "els => els.map(e => e.textContent.trim())")
    return result


async def test_rasa_webchat_from_bot_to_agent_to_survey(rig: Rig, browser: Any) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 800})
    page = await context.new_page()
    await page.goto(rig.page_url)
    await page.locator(".rw-launcher").click()
    textbox = page.locator(".rw-new-message")
    await expect(textbox).to_be_visible(timeout=WAIT_MS)

    # A bot turn.
    await textbox.fill("Wanneer wordt het afval opgehaald?")
    await textbox.press("Enter")
    bot = page.locator(".rw-from-response")
    await expect(bot.first).to_be_visible(timeout=WAIT_MS)
    await screenshot(page, "rasa-webchat-01-bot")

    # The handover: the queue notice comes as a message.
    await textbox.fill("Ik wil een medewerker spreken")
    await textbox.press("Enter")
    await expect(bot.filter(has_text="wachtrij")).to_have_count(1, timeout=WAIT_MS)
    thread = await rig.thread()
    detail = await rig.desk("GET", f"/threads/{thread}")
    assert detail["context"]["url"] == rig.page_url
    await screenshot(page, "rasa-webchat-02-queued")

    # The agent joins and answers; the citizen answers back.
    await rig.desk("POST", f"/threads/{thread}/join", {"agent_name": "Sanne"})
    await rig.desk("POST", f"/threads/{thread}/messages",
                   {"message_id": "s1", "text": "Goedemiddag, ik ben Sanne."})
    await expect(bot.filter(has_text="Sanne: Goedemiddag, ik ben Sanne.")).to_have_count(
        1, timeout=WAIT_MS)
    await textbox.fill("Mijn container is niet geleegd.")
    await textbox.press("Enter")
    await screenshot(page, "rasa-webchat-03-agent")

    # The connection is cut; meanwhile the agent writes. After the widget reconnects
    # the message is there, once.
    rig.proxy.refusing = True
    rig.proxy.cut()
    await asyncio.sleep(0.5)
    await rig.desk("POST", f"/threads/{thread}/messages",
                   {"message_id": "s2", "text": "Ik heb een melding gemaakt."})
    await asyncio.sleep(0.3)
    rig.proxy.refusing = False
    await expect(bot.filter(has_text="Ik heb een melding gemaakt.")).to_have_count(
        1, timeout=20000)
    events = await rig.desk("GET", f"/threads/{thread}/events")
    said = [e["content"]["text"] for e in events["events"] if e["type"] == "message"]
    assert said.count("Mijn container is niet geleegd.") == 1

    # A reload: rasa-webchat shows its stored history, and nothing comes twice.
    before = await texts(page, ".rw-message")
    await page.reload()
    await page.wait_for_timeout(1500)
    if not await textbox.is_visible():
        await page.locator(".rw-launcher").click()
    await expect(page.locator(".rw-message")).to_have_count(len(before), timeout=WAIT_MS)
    assert await texts(page, ".rw-message") == before

    # The agent closes: the NPS question with its 0-10 quick replies.
    await rig.desk("POST", f"/threads/{thread}/close", {"outcome": "solved"})
    replies = page.locator(".rw-reply")
    await expect(replies).to_have_count(11, timeout=WAIT_MS)
    assert await texts(page, ".rw-reply") == [str(n) for n in range(11)]
    await screenshot(page, "rasa-webchat-04-survey")
    await replies.nth(8).click()
    for _ in range(100):
        answers = await rig.daemon.store.survey_answers(TENANT)
        if answers:
            break
        await asyncio.sleep(0.05)
    assert [a.score for a in answers] == [8]
    await expect(bot.last).to_be_visible()
    await screenshot(page, "rasa-webchat-05-after-survey")
    await context.close()
