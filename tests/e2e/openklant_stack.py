"""The callback request end to end with Open Klant: the real daemon as a subprocess, the
fake Klantinteracties API, the fake Graph API and the fake VoiceAI Connect gateway in
the test process, all on loopback ports chosen at start.

Two tenants share the daemon. `demo` is always outside opening hours and takes
callback requests on the web widget, WhatsApp and the phone, registered in Open Klant
and in the console's "Contactverzoeken". `open` is always open: its finished livechats
(console desk) are registered in Open Klant as contacts, with the summary the agent
wrote when closing as their content.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.daemon_process import COMMON_SECTIONS, DaemonProcess
from tests.e2e.scaleout_support import CONSOLE_TOKENS, VOICEAI, voiceai_env
from tests.fakes.openklant_server import FakeOpenKlant
from tests.fakes.whatsapp_server import FakeGraph

ORIGIN = "https://www.gemeente.example"
#: How long a test waits for something the daemon does at once (a few hundred ms).
WAIT_SECONDS = 10.0

# Formatted by DaemonProcess (`port`, `data`); a `{{` is a brace, `${{X}}` an env reference.
TEMPLATE = COMMON_SECTIONS + """
[adapters.web]
type = "web"
[adapters.web.tenants.demo]
origins = ["https://www.gemeente.example"]

[adapters.rest]
type = "rest"

[adapters.wa]
type = "whatsapp"
graph_url = "${{WA_URL}}"
api_version = "v21.0"
access_token = "${{WA_TOKEN}}"
app_secret = "${{WA_SECRET}}"
verify_token = "${{WA_VERIFY}}"
public_url = "https://handover.test/wa"
media_dir = "{data}/media"
request_timeout_seconds = 2
[adapters.wa.tenants.demo]
phone_number_id = "${{WA_NUMBER}}"
template_name = "agent_reply"
template_language = "nl"

""" + VOICEAI + """
[adapters.gem]
type = "demo_bot"

[adapters.desk]
type = "console"
agents = [{{ id = "sanne", name = "Sanne", token = "${{CONSOLE_TOKEN_SANNE}}" }}]
summary_tenants = ["open"]

[adapters.openklant]
type = "openklant"
base_url = "${{OPENKLANT_URL}}"
token = "${{OPENKLANT_TOKEN}}"
task_actor = "${{OPENKLANT_TASK_ACTOR}}"
daemon_actor = "${{OPENKLANT_DAEMON_ACTOR}}"
timeout_seconds = 5

[tenants.demo]
name = "Gemeente Voorbeeld"
channels = ["web", "wa", "phone"]
bot = "gem"
desk = "desk"
registries = ["openklant", "desk"]

[tenants.demo.handover]
phone = "14 0000"

[tenants.demo.hours]
# No open interval on any day: the KCC is closed whenever the test runs.
timezone = "Europe/Amsterdam"

[tenants.demo.callback]
enabled = true

[tenants.open]
name = "Gemeente Altijd Open"
channels = ["rest"]
bot = "gem"
desk = "desk"
registries = ["openklant"]

[tenants.open.handover]
phone = "14 0001"

[tenants.open.registration]
content = "summary"
"""


@dataclass
class Stack:
    """The daemon and the fakes around it."""

    daemon: DaemonProcess
    openklant: FakeOpenKlant
    graph: FakeGraph
    http: aiohttp.ClientSession

    async def restart(self) -> None:
        """Start the daemon again on the same data and port (after a kill)."""
        await self.daemon.start()

    def counts(self) -> dict[str, int]:
        """How many of each object Open Klant holds."""
        return {r: len(self.openklant.all(r)) for r in (
            "klantcontacten", "betrokkenen", "digitaleadressen", "internetaken",
            "onderwerpobjecten", "actorklantcontacten")}

    async def until(self, done: Callable[[], bool], what: str,
                    timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"never happened: {what}")
            await asyncio.sleep(0.05)

    async def console(self, path: str, body: Any = None, method: str = "GET") -> Any:
        """The console's API as agent Sanne."""
        headers = {"Authorization": f"Bearer {CONSOLE_TOKENS['sanne']}"}
        async with self.http.request(method, f"{self.daemon.url}/desk/api/{path}",
                                     json=body, headers=headers) as resp:
            assert resp.status == 200, (resp.status, await resp.text())
            return await resp.json()

    async def console_requests(self) -> list[dict[str, Any]]:
        listed = await self.console("callbacks")
        requests: list[dict[str, Any]] = listed["requests"]
        return requests

    async def wait_idle(self) -> None:
        await self.daemon.wait_idle(timeout=WAIT_SECONDS)


@contextlib.asynccontextmanager
async def openklant_stack(tmp: Path) -> AsyncIterator[Stack]:
    async with contextlib.AsyncExitStack() as stack:
        openklant = FakeOpenKlant()
        await openklant.start()
        stack.push_async_callback(openklant.stop)
        graph = FakeGraph()
        await graph.start()
        stack.push_async_callback(graph.stop)
        graph.auto_status = True
        env = {
            "OPENKLANT_URL": openklant.url, "OPENKLANT_TOKEN": openklant.token,
            "OPENKLANT_TASK_ACTOR": openklant.kcc, "OPENKLANT_DAEMON_ACTOR": openklant.daemon,
            "WA_URL": graph.url, "WA_TOKEN": graph.token, "WA_SECRET": graph.app_secret,
            "WA_VERIFY": graph.verify_token, "WA_NUMBER": graph.phone_number_id,
            "CONSOLE_TOKEN_SANNE": CONSOLE_TOKENS["sanne"], **voiceai_env(),
        }
        daemon = DaemonProcess(tmp / "daemon", template=TEMPLATE, env=env)
        await daemon.start()
        stack.callback(daemon.terminate)
        graph.webhook_url = f"{daemon.url}/wa/webhook"
        http = await stack.enter_async_context(aiohttp.ClientSession())
        yield Stack(daemon, openklant, graph, http)


def phone_gateway_url(daemon: DaemonProcess) -> str:
    return f"{daemon.url}/phone/bots/demo"


def reference_in(text: str) -> str:
    """The 6-character reference the citizen was told."""
    found = re.search(r"\b[A-Z0-9]{6}\b", text)
    assert found, text
    return found.group(0)


def linked_once(s: Stack, *, address: tuple[str, str], kanaal: str, question: str,
                reference: str) -> None:
    """Open Klant holds exactly one callback request, linked as the standard requires."""
    ok = s.openklant
    assert s.counts() == {"klantcontacten": 1, "betrokkenen": 1, "digitaleadressen": 1,
                          "internetaken": 1, "onderwerpobjecten": 1,
                          "actorklantcontacten": 0}, s.counts()
    [contact] = ok.all("klantcontacten")
    [betrokkene] = ok.all("betrokkenen")
    [digital] = ok.all("digitaleadressen")
    [task] = ok.all("internetaken")
    assert (contact["kanaal"], contact["inhoud"]) == (kanaal, question)
    assert betrokkene["hadKlantcontact"]["uuid"] == contact["uuid"]
    assert betrokkene["rol"] == "klant" and betrokkene["initiator"] is True
    assert digital["verstrektDoorBetrokkene"]["uuid"] == betrokkene["uuid"]
    assert (digital["soortDigitaalAdres"], digital["adres"]) == address
    assert task["aanleidinggevendKlantcontact"]["uuid"] == contact["uuid"]
    assert [a["uuid"] for a in task["toegewezenAanActoren"]] == [ok.kcc]
    assert task["status"] == "te_verwerken"
    assert task["toelichting"].startswith(f"Referentie {reference}"), task["toelichting"]
    # The klantcontact points at both: what KISS shows an agent.
    assert [b["uuid"] for b in contact["hadBetrokkenen"]] == [betrokkene["uuid"]]
    assert [t["uuid"] for t in contact["leiddeTotInterneTaken"]] == [task["uuid"]]
