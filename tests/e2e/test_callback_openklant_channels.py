"""The callback request with Open Klant on WhatsApp and on the phone, the daemon as a
subprocess (see openklant_stack).

WhatsApp: signed Meta-format webhooks to the daemon, the fake Graph API for what the
citizen is sent; the citizen types everything, an invalid e-mail address is asked again
with a clear text. Phone: the fake VoiceAI Connect gateway; the caller's own number
(from the call's start event) is offered and accepted. Either way Open Klant holds one
request, linked as the standard requires, and the console lists it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from yarl import URL

from tests.e2e.openklant_stack import Stack, linked_once, openklant_stack
from tests.e2e.scaleout_support import VOICE_BOT_TOKEN
from tests.fakes.voiceai_gateway import FakeGateway

pytestmark = pytest.mark.slow

CITIZEN = "31687654321"


async def whatsapp_says(s: Stack, text: str, expect: str) -> str:
    """The citizen sends `text`; returns the first text sent after it containing `expect`."""
    before = len(s.graph.texts())
    status, _ = await s.graph.say(CITIZEN, text)
    assert status == 200

    def answered() -> bool:
        return any(expect in t for t in s.graph.texts()[before:])

    await s.until(answered, f"an answer with {expect!r}")
    return next(t for t in s.graph.texts()[before:] if expect in t)


async def test_whatsapp_callback_request_by_e_mail(tmp_path: Path) -> None:
    async with openklant_stack(tmp_path) as s:
        await whatsapp_says(s, "Ik wil een medewerker spreken", "contact met u opneemt")
        await whatsapp_says(s, "ja", "telefoonnummer of e-mailadres")
        asked_again = await whatsapp_says(s, "jan.jansen@example", "geen telefoonnummer")
        assert "naam@voorbeeld.nl" in asked_again
        await whatsapp_says(s, "Jan.Jansen@Example.NL", "Wat is uw naam")
        await whatsapp_says(s, "Jan Jansen", "Wat is uw vraag")
        question = "Wanneer wordt mijn container geleegd?"
        await whatsapp_says(s, question, "bewaard met nummer")
        await s.until(lambda: len(s.openklant.all("internetaken")) == 1, "the task")
        await s.wait_idle()
        [task] = s.openklant.all("internetaken")
        reference = task["toelichting"].split()[1].rstrip(".")
        assert any(f"nummer {reference}" in t for t in s.graph.texts())
        linked_once(s, address=("email", "Jan.Jansen@example.nl"), kanaal="whatsapp",
                    question=question, reference=reference)
        [betrokkene] = s.openklant.all("betrokkenen")
        assert betrokkene["contactnaam"]["achternaam"] == "Jan Jansen"
        [listed] = await s.console_requests()
        assert (listed["reference"], listed["address_kind"], listed["channel_type"]) == (
            reference, "email", "whatsapp")


async def test_phone_callback_request_on_the_callers_own_number(tmp_path: Path) -> None:
    async with openklant_stack(tmp_path) as s:
        gateway = FakeGateway(s.http, URL(f"{s.daemon.url}/phone/bots/demo"), VOICE_BOT_TOKEN)
        call = await gateway.call()
        await call.start(caller="0612345678")
        offer = await call.say("Ik wil een medewerker spreken")
        assert "contact met u opneemt" in " ".join(offer.texts), offer.texts
        own = await call.say("ja")
        assert "eindigt op 78" in " ".join(own.texts), own.texts
        named = await call.say("ja")
        assert "Wat is uw naam" in " ".join(named.texts), named.texts
        await call.say("Jan")
        question = "Ik wil een parkeervergunning aanvragen"
        done = await call.say(question)
        spoken = " ".join(done.texts)
        assert "bewaard met nummer" in spoken, done.texts
        await s.until(lambda: len(s.openklant.all("internetaken")) == 1, "the task")
        await s.wait_idle()
        [task] = s.openklant.all("internetaken")
        reference = task["toelichting"].split()[1].rstrip(".")
        # Spelled out, one character at a time, for the speech synthesiser.
        assert f"nummer {' '.join(reference)}." in spoken, spoken
        linked_once(s, address=("telefoonnummer", "+31612345678"), kanaal="telefoon",
                    question=question, reference=reference)
        [listed] = await s.console_requests()
        assert (listed["reference"], listed["address"], listed["channel_type"]) == (
            reference, "+31612345678", "voiceai")
        assert (await call.hang_up()).status == 200
