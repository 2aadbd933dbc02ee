"""The real daemon as a subprocess with the Rasa adapter in callback mode: the route is
mounted by the daemon at /gem/, its secret comes from the environment, and the fake
Rasa posts the bot's messages to it over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.daemon_process import Agent, Citizen, DaemonProcess
from tests.fakes.rasa_server import FakeRasa

pytestmark = pytest.mark.slow

TOKEN = "callback-token-for-the-subprocess"

CONFIG = """
[server]
host = "127.0.0.1"
port = {port}
drain_seconds = 5

[store]
path = "{data}/handover.db"

[delivery]
poll_seconds = 0.1
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.5

[adapters.rest]
type = "rest"

[adapters.gem]
type = "rasa"
url = "{rasa}"
mode = "callback"
callback_token = "${{GEM_CALLBACK_TOKEN}}"
api = true
handback = "intent"

[adapters.desk]
type = "demo_desk"

[tenants.demo]
name = "Gemeente Voorbeeld"
channels = ["rest"]
bot = "gem"
desk = "desk"

[tenants.demo.handover]
phone = "14 0000"

[tenants.demo.survey]
enabled = false
"""


@pytest.fixture
async def daemon(
    tmp_path: Path, fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[DaemonProcess]:
    monkeypatch.setenv("GEM_CALLBACK_TOKEN", TOKEN)
    d = DaemonProcess(tmp_path / "data")
    d.config.write_text(CONFIG.format(port=d.port, data=d.data, rasa=fake_rasa.url))
    fake_rasa.callback_url = f"{d.url}/gem/callback?token={TOKEN}"
    await d.start()
    try:
        yield d
    finally:
        d.terminate()


def bot_texts(data: dict[str, Any]) -> list[str]:
    return [m["content"]["text"] for m in data["messages"] if m["party"] == "bot"]


async def test_callback_mode_over_real_http(daemon: DaemonProcess, fake_rasa: FakeRasa) -> None:
    async with aiohttp.ClientSession() as http:
        citizen, agent = Citizen(http, daemon.url), Agent(http, daemon.url)
        await citizen.open(context={"url": "https://voorbeeld.nl/afval"})
        await citizen.say("Hallo")
        await citizen.wait_for(lambda d: bot_texts(d) == ["gem: Hallo"])
        (turn,) = fake_rasa.received
        assert turn.channel == "callback"
        assert turn.metadata["context"] == {"url": "https://voorbeeld.nl/afval"}

        fake_rasa.answer_next([
            {"recipient_id": citizen.id, "text": "Ik verbind u door."},
            {"recipient_id": citizen.id, "custom": {"handover": {"topic": "afval"}}},
        ])
        await citizen.say("Ik wil iemand spreken")
        thread = f"{citizen.id}-1"
        opened = await agent.wait_thread(thread)
        assert opened["signal"]["topic"] == "afval"
        said = [(e["party"], e["content"]["text"]) for e in opened["transcript"]]
        assert ("bot", "Ik verbind u door.") in said

        fake_rasa.intent_answers["livechat_ended"] = [{"text": "Welkom terug."}]
        assert await agent.post(thread, "join", {"agent_name": "Sanne"}) == 202
        assert await agent.post(thread, "close", {"outcome": "solved"}) == 202
        await citizen.wait_for(lambda d: "Welkom terug." in bot_texts(d))
        assert fake_rasa.intents_triggered == [(citizen.id, "livechat_ended",
                                                {"outcome": "solved"})]

        # A post with a wrong token is refused by the mounted route.
        async with http.post(f"{daemon.url}/gem/callback?token=wrong",
                             json={"recipient_id": citizen.id, "text": "nep"}) as resp:
            assert resp.status == 401
    # The callback secret never reaches the log (the access log names the route, not
    # the path and query), and neither does what the citizen or the bot said.
    log = daemon.log.read_text()
    assert '"route": "/gem/callback"' in log
    for secret in (TOKEN, "wrong", "Ik wil iemand spreken", "Ik verbind u door", "Welkom terug"):
        assert secret not in log
