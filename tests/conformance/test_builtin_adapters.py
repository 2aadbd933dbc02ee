"""The conformance suite over every built-in adapter (see tests/conformance/cases.py)."""

from __future__ import annotations

from handover.sdk.conformance import conformance_tests
from tests.conformance import cases

TestRestConformance = conformance_tests(cases.REST)
TestDemoBotConformance = conformance_tests(cases.DEMO_BOT)
TestDemoDeskConformance = conformance_tests(cases.DEMO_DESK)
TestConsoleConformance = conformance_tests(cases.CONSOLE)
TestRasaConformance = conformance_tests(cases.RASA)
TestObi4wanConformance = conformance_tests(cases.OBI4WAN)
TestWebConformance = conformance_tests(cases.WEB)
TestSocketIOConformance = conformance_tests(cases.SOCKETIO)
TestWhatsAppConformance = conformance_tests(cases.WHATSAPP)
TestVoiceAiConformance = conformance_tests(cases.VOICEAI)
TestOpenKlantConformance = conformance_tests(cases.OPENKLANT)
