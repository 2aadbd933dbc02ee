"""The callback request end to end on the web widget, with the daemon as a subprocess
and the fake Klantinteracties API (Open Klant) on loopback; see openklant_stack.

Outside opening hours a citizen on the widget (a real websocket client) asks for a
person, consents, gives an invalid phone number (asked again with a clear text) and a
valid one, skips the name and takes the offered question. Open Klant then holds one
klantcontact, betrokkene, digitaal adres and interne taak, linked as the standard
requires, with the reference the citizen was told in the task; the signed-in agent
sees the request in the console's list. The same holds when the daemon is SIGKILLed
right after Open Klant made the task and before the daemon heard so. A citizen who
declines stores nothing anywhere; a finished livechat is registered once, linked to
the daemon's actor and the agent's medewerker, with the agent's summary.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon_process import Citizen
from tests.e2e.openklant_stack import Stack, linked_once, openklant_stack, reference_in
from tests.e2e.scaleout_support import AgentPage, WebWidget

pytestmark = pytest.mark.slow

QUESTION = "Mijn paspoort is verlopen"


def text_with(part: str) -> Any:
    return lambda f: f["type"] == "message" and part in f["content"]["text"]


async def say(widget: WebWidget, text: str, expect: str, payload: str | None = None) -> str:
    """Send a message and return the text of the first message containing `expect`."""
    assert widget.ws is not None
    frame: dict[str, Any] = {"type": "message", "message_id": uuid.uuid4().hex, "text": text}
    if payload:
        frame["payload"] = payload
    await widget.ws.send_json(frame)
    got = await widget.until(text_with(expect))
    return str(got["content"]["text"])


async def up_to_the_question(s: Stack, widget: WebWidget) -> None:
    """From the first message to the question step, with one invalid number on the way."""
    await widget.connect(s.daemon)
    await say(widget, QUESTION, "")  # the bot's answer (or any message)
    assert widget.ws is not None
    await widget.ws.send_json({"type": "action", "action": "request_agent",
                               "action_id": uuid.uuid4().hex})
    offer = await widget.until(text_with("contact met u opneemt"))
    assert [b["payload"] for b in offer["content"]["buttons"]] == [
        "/callback_yes", "/callback_no"]
    await widget.until(lambda f: f["type"] == "state" and f["state"] == "callback")
    await say(widget, "Ja, graag", "telefoonnummer of e-mailadres", "/callback_yes")
    asked_again = await say(widget, "06 1234", "geen telefoonnummer of e-mailadres")
    assert "Typ bijvoorbeeld 06 12345678" in asked_again
    await say(widget, "06-12345678", "Wat is uw naam")
    await say(widget, "Overslaan", QUESTION, "/skip")


async def test_web_callback_request_lands_in_open_klant_once_and_in_the_console(
    tmp_path: Path,
) -> None:
    async with openklant_stack(tmp_path) as s:
        widget = WebWidget(s.http)
        await up_to_the_question(s, widget)
        confirmed = await say(widget, "Deze vraag", "bewaard met nummer", "/callback_same")
        reference = reference_in(confirmed)
        await s.until(lambda: len(s.openklant.all("internetaken")) == 1, "the task")
        await s.wait_idle()
        linked_once(s, address=("telefoonnummer", "+31612345678"), kanaal="chat",
                    question=QUESTION, reference=reference)

        [listed] = await s.console_requests()
        assert (listed["reference"], listed["address"], listed["question"]) == (
            reference, "+31612345678", QUESTION)
        assert (listed["status"], listed["channel_type"]) == ("open", "web")
        assert widget.ws is not None
        await widget.ws.close()


#: The first POST of a callback registration (klantcontact, betrokkene and marker at
#: once) and the last (the task).
KILL_AFTER = ["POST maak-klantcontact", "POST internetaken"]


@pytest.mark.parametrize("kill_after", KILL_AFTER)
async def test_killed_after_open_klant_made_it_still_one_of_each(
    tmp_path: Path, kill_after: str,
) -> None:
    async with openklant_stack(tmp_path) as s:
        killed: list[str] = []

        def kill_once(operation: str) -> None:
            # Open Klant has made it; the daemon dies before it hears so.
            if operation == kill_after and not killed:
                killed.append(operation)
                s.daemon.kill()

        s.openklant.on_processed = kill_once
        widget = WebWidget(s.http)
        await up_to_the_question(s, widget)
        assert widget.ws is not None
        await widget.ws.send_json({"type": "message", "message_id": "last",
                                   "text": "Deze vraag", "payload": "/callback_same"})
        await s.until(lambda: bool(killed), "the kill")
        await s.restart()
        # The widget comes back and is shown what it missed, the reference among it.
        await widget.connect(s.daemon)
        confirmed = await widget.until(text_with("bewaard met nummer"))
        reference = reference_in(confirmed["content"]["text"])
        await s.wait_idle()
        await asyncio.sleep(0.5)  # room for a second registration to show up
        linked_once(s, address=("telefoonnummer", "+31612345678"), kanaal="chat",
                    question=QUESTION, reference=reference)
        # Resumed, not redone: what was made was looked up (the klantcontact by its
        # marker, the rest through it), and each POST reached Open Klant once.
        made = [r for m, r, _, _ in s.openklant.requests if m == "POST"]
        assert sorted(made) == ["digitaleadressen", "internetaken", "maak-klantcontact"]
        assert [r["reference"] for r in await s.console_requests()] == [reference]
        await widget.ws.close()


async def test_a_citizen_who_declines_leaves_nothing_anywhere(tmp_path: Path) -> None:
    async with openklant_stack(tmp_path) as s:
        widget = WebWidget(s.http)
        await widget.connect(s.daemon)
        await say(widget, QUESTION, "")
        assert widget.ws is not None
        await widget.ws.send_json({"type": "action", "action": "request_agent",
                                   "action_id": uuid.uuid4().hex})
        await widget.until(text_with("contact met u opneemt"))
        declined = await say(widget, "Nee, dank u", "niets bewaard", "/callback_no")
        assert "digitale assistent" in declined
        await widget.until(lambda f: f["type"] == "state" and f["state"] == "bot")
        await s.wait_idle()
        assert sum(s.counts().values()) == 0
        assert not [r for r in s.openklant.requests if r[0] == "POST"]
        assert await s.console_requests() == []
        await widget.ws.close()


async def test_a_finished_livechat_is_registered_once_with_the_actors_and_summary(
    tmp_path: Path,
) -> None:
    async with openklant_stack(tmp_path) as s:
        # The agent as Open Klant knows her: a medewerker with her console id.
        medewerker = s.openklant.add_actor("medewerker", "Sanne", object_id="sanne",
                                           register="console")
        agent = AgentPage(s.http, s.daemon.url, "sanne")
        await agent.connect()  # signed in: the desk is available
        citizen = Citizen(s.http, s.daemon.url)
        await citizen.open(tenant="open")
        status, _ = await citizen.action("request_agent")
        assert status == 202
        thread = f"{citizen.id}-1"
        await agent.next(lambda e: e["type"] == "thread" and e["thread"]["thread_id"] == thread)
        assert (await agent.post(f"threads/{thread}/pickup"))[0] == 200
        await citizen.wait_for(lambda d: d["state"] == "agent")
        await citizen.say("Waar vind ik mijn aanslag?")
        status, _ = await agent.post(f"threads/{thread}/messages",
                                     {"message_id": "r1", "text": "In Mijn Loket."})
        assert status == 202
        summary = "Aanslag staat in Mijn Loket; uitgelegd waar."
        status, _ = await agent.post(f"threads/{thread}/close",
                                     {"outcome": "resolved", "summary": summary})
        assert status == 200
        await s.until(lambda: len(s.openklant.all("actorklantcontacten")) >= 2, "the contact")
        await s.wait_idle()
        await asyncio.sleep(0.5)  # room for a second registration to show up
        assert s.counts() == {"klantcontacten": 1, "betrokkenen": 1, "digitaleadressen": 0,
                              "internetaken": 0, "onderwerpobjecten": 1,
                              "actorklantcontacten": 2}, s.counts()
        [contact] = s.openklant.all("klantcontacten")
        links = s.openklant.all("actorklantcontacten")
        assert {link["klantcontact"]["uuid"] for link in links} == {contact["uuid"]}
        # The daemon as geautomatiseerde actor, and the agent as medewerker.
        assert sorted(link["actor"]["uuid"] for link in links) == sorted(
            [s.openklant.daemon, medewerker])
        assert contact["kanaal"] == "chat" and contact["indicatieContactGelukt"] is True
        assert contact["inhoud"] == summary
        [betrokkene] = s.openklant.all("betrokkenen")
        assert betrokkene["hadKlantcontact"]["uuid"] == contact["uuid"]
        assert "contactnaam" not in betrokkene or not betrokkene["contactnaam"]
        await agent.close()
