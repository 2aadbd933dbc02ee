"""A ConformanceCase for every built-in adapter: the minimal configuration and, where the
adapter has them, how to build a valid inbound request and a fake of its upstream."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from adapters.console.adapter import ConsoleDesk
from adapters.demo_bot.adapter import DemoBot
from adapters.demo_desk.adapter import DemoDesk
from adapters.obi4wan.adapter import Obi4wanDesk
from adapters.openklant.adapter import OpenKlantRegistry
from adapters.rasa.adapter import RasaBot
from adapters.rest.adapter import RestChannel
from adapters.socketio.adapter import SocketIOChannel
from adapters.voiceai.adapter import VoiceAiChannel
from adapters.web.adapter import WebChannel
from adapters.whatsapp.adapter import WhatsAppChannel
from handover.sdk.conformance import ConformanceCase
from handover.sdk.testing import TENANT
from tests.conformance import hooks

#: Files the adapters keep (WhatsApp media): one directory per test process.
SCRATCH = Path(tempfile.gettempdir()) / f"handover-conformance-{os.getpid()}"
ORIGIN = "https://www.voorbeeld.nl"

REST = ConformanceCase(RestChannel, inbound=hooks.RestMessage())
DEMO_BOT = ConformanceCase(DemoBot)
DEMO_DESK = ConformanceCase(DemoDesk)
CONSOLE = ConformanceCase(ConsoleDesk, {
    "agents": [{"id": "sanne", "name": "Sanne", "token": "console-token-0123456789abcdef"}],
})
RASA = ConformanceCase(RasaBot, {"url": "http://127.0.0.1:9"}, upstream=hooks.RasaTurn())
OBI4WAN = ConformanceCase(
    Obi4wanDesk, hooks.OBI4WAN_CONFIG, inbound=hooks.Obi4wanWebhook(),
    upstream=hooks.Obi4wanIngest(),
)
WEB = ConformanceCase(WebChannel, {"tenants": {TENANT: {"origins": [ORIGIN]}}})
SOCKETIO = ConformanceCase(SocketIOChannel, {"tenants": {TENANT: {"origins": [ORIGIN]}}})
WHATSAPP = ConformanceCase(WhatsAppChannel, {
    "access_token": "graph-token-0123456789",
    "app_secret": "app-secret-0123456789",
    "verify_token": "verify-token-0123456789",
    "public_url": "https://handover.test/wa",
    "media_dir": str(SCRATCH / "whatsapp-media"),
    "tenants": {TENANT: {"phone_number_id": "1234567890", "template_name": "agent_reply",
                         "template_language": "nl"}},
})
VOICEAI = ConformanceCase(VoiceAiChannel, {
    "bot_token": "voice-bot-token-0123456789",
    "transcript_token": "voice-transcript-token-0123456789",
    "reference_secret": "voice-reference-secret-0123456789",
    "tenants": {TENANT: {"transfer_target": "sip:kcc@pbx.example.nl"}},
})
OPENKLANT = ConformanceCase(OpenKlantRegistry, {
    "base_url": "http://127.0.0.1:9/klantinteracties/api/v1",
    "token": hooks.OPENKLANT_TOKEN,
    "task_actor": hooks.OPENKLANT_ACTOR,
}, upstream=hooks.OpenKlantCallback())
