"""Sending to the citizen: message shapes, once-only sends and their reconciliation,
statuses in any order, the 24-hour window and the template fallback."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

import pytest

from adapters.whatsapp.sends import next_state
from handover import events as ev
from handover.model import Attachment, Button, Content, Conversation, Party, State
from handover.sdk.contracts import OutboundMessage
from handover.sdk.errors import AuthError, PermanentError, TransientError
from tests.adapters.whatsapp.conftest import CITIZEN, Channel
from tests.fakes.whatsapp_server import Fault

_seq = itertools.count(10)


def out(content: Content | str, party: Party = Party.BOT, message_id: str | None = None
        ) -> OutboundMessage:
    seq = next(_seq)
    if isinstance(content, str):
        content = Content(text=content)
    return OutboundMessage(seq=seq, message_id=message_id or f"m{seq}", party=party,
                           content=content, sender_name="Sanne")


async def citizen(c: Channel, text: str = "Hallo") -> Conversation:
    await c.fake.say(CITIZEN, text)
    return await c.conversation()


async def test_text_buttons_lists_and_attachments_take_whatsapps_shapes(channel: Channel) -> None:
    c = channel
    conv = await citizen(c)
    await c.adapter.deliver(conv, out("Goedemorgen"))
    three = out(Content("Kies", buttons=(
        Button("Ja", "/ja"), Button("Nee", "/nee"),
        Button("Een medewerker spreken alstublieft", "/mens"))))
    await c.adapter.deliver(conv, three)
    five = out(Content("Waarover?", buttons=tuple(
        Button(f"Onderwerp nummer {i} met een lange titel", f"/o{i}") for i in range(5))))
    await c.adapter.deliver(conv, five)
    await c.adapter.deliver(conv, out(Content("Zie bijlagen", attachments=(
        Attachment("https://gemeente.test/kaart.png", "kaart.png", "image/png"),
        Attachment("https://gemeente.test/regels.pdf", "regels.pdf", "application/pdf"))),
        party=Party.AGENT))
    text, buttons, listing, body, image, document = c.fake.sent
    assert text["to"] == CITIZEN and text["text"]["body"] == "Goedemorgen"
    action = buttons["interactive"]["action"]["buttons"]
    assert [b["reply"]["id"] for b in action] == [f"c:{three.seq}:{i}" for i in range(3)]
    assert action[2]["reply"]["title"] == "Een medewerker spre…"
    rows = listing["interactive"]["action"]["sections"][0]["rows"]
    assert listing["interactive"]["type"] == "list" and len(rows) == 5
    assert rows[0]["description"] == "Onderwerp nummer 0 met een lange titel"
    assert body["text"]["body"] == "Zie bijlagen"
    assert image["type"] == "image" and image["image"]["link"] == "https://gemeente.test/kaart.png"
    assert document["document"] == {"link": "https://gemeente.test/regels.pdf",
                                    "filename": "regels.pdf"}


async def test_a_long_question_with_choices_is_sent_as_text_then_the_choices(channel: Channel) -> None:
    c = channel
    conv = await citizen(c)
    long = "Uitleg. " * 200
    await c.adapter.deliver(conv, out(Content(long, buttons=(Button("Ja", "/ja"),))))
    first, second = c.fake.sent
    assert first["text"]["body"] == long
    assert second["interactive"]["body"]["text"] == "Maak een keuze:"


async def test_a_message_delivered_again_after_a_crash_is_not_sent_twice(channel: Channel) -> None:
    c = channel
    conv = await citizen(c)
    msg = out("Eén keer", party=Party.AGENT)
    await c.adapter.deliver(conv, msg)
    await c.adapter.deliver(conv, msg)
    assert c.fake.texts() == ["Eén keer"]


async def test_a_lost_answer_is_reconciled_through_the_status_webhook(channel: Channel) -> None:
    c = channel
    conv = await citizen(c)
    msg = out("Komt dit aan?", party=Party.AGENT)
    c.fake.fail_next("send", Fault.lost())
    with pytest.raises(TransientError) as raised:
        await c.adapter.deliver(conv, msg)
    assert raised.value.retry_after == pytest.approx(30.0)
    # The worker retries before any status came: still not sent again.
    c.clock.advance(5)
    with pytest.raises(TransientError):
        await c.adapter.deliver(conv, msg)
    assert len(c.fake.sent) == 1
    # Meta reports the message it did take; the next retry finds it out already.
    status, _ = await c.fake.post(c.fake.batch(c.fake.value(
        statuses=[c.fake.status_of(c.fake.sent[0], "delivered")])))
    assert status == 200
    await c.adapter.deliver(conv, msg)
    assert c.fake.texts() == ["Komt dit aan?"]


async def test_an_ambiguous_send_without_any_status_is_given_up_not_sent_twice(
    channel: Channel,
) -> None:
    """Meta took the message but never reported it: sending again after the wait would
    show it twice, so the part is given up (PermanentError: the agent is told)."""
    c = channel
    conv = await citizen(c)
    msg = out("Eén keer", party=Party.AGENT)
    c.fake.fail_next("send", Fault.lost())
    with pytest.raises(TransientError):
        await c.adapter.deliver(conv, msg)
    c.clock.advance(31)
    with pytest.raises(PermanentError, match="no status"):
        await c.adapter.deliver(conv, msg)
    assert c.fake.texts() == ["Eén keer"]


async def test_with_unconfirmed_resend_a_send_without_any_status_goes_again(
    channel_factory: Callable[..., Awaitable[Channel]],
) -> None:
    c = await channel_factory(unconfirmed="resend")
    conv = await citizen(c)
    msg = out("Tweede poging")
    c.fake.fail_next("send", Fault.lost())
    with pytest.raises(TransientError):
        await c.adapter.deliver(conv, msg)
    c.fake.sent.clear()  # Meta lost it after all: no status will ever come
    c.clock.advance(31)
    await c.adapter.deliver(conv, msg)
    assert c.fake.texts() == ["Tweede poging"]


async def test_refusals_are_classified_and_leave_nothing_to_reconcile(channel: Channel) -> None:
    c = channel
    conv = await citizen(c)
    msg = out("Hallo")
    c.fake.fail_next("send", Fault.error(429, 130429, retry_after=7))
    with pytest.raises(TransientError) as raised:
        await c.adapter.deliver(conv, msg)
    assert raised.value.retry_after == 7
    c.fake.fail_next("send", Fault.error(401, 190))
    with pytest.raises(AuthError):
        await c.adapter.deliver(conv, msg)
    c.fake.fail_next("send", Fault.error(503, 131016))
    with pytest.raises(TransientError):
        await c.adapter.deliver(conv, msg)
    c.fake.fail_next("send", Fault.error(400, 131026))  # undeliverable
    with pytest.raises(PermanentError):
        await c.adapter.deliver(conv, msg)
    # None of these went out, so the next attempt sends at once (no reconcile wait).
    await c.adapter.deliver(conv, msg)
    assert c.fake.texts() == ["Hallo"]


def test_statuses_only_move_forward_whatever_their_order() -> None:
    assert next_state("read", "sent") == "read"
    assert next_state("sending", "read") == "read"
    assert next_state("sent", "failed") == "failed"
    assert next_state("delivered", "failed") == "delivered"
    assert next_state("failed", "sent") == "failed"
    assert next_state("accepted", "delivered") == "delivered"


async def test_a_failed_status_tells_the_agent_not_the_bot(channel: Channel) -> None:
    c = channel
    conv = await citizen(c)
    await c.adapter.deliver(conv, out("Van de bot"))
    await c.adapter.deliver(conv, out("Van de medewerker", party=Party.AGENT))
    bot_sent, agent_sent = c.fake.sent
    fake = c.fake
    # Out of order: read before sent, failed after sent, and each one twice.
    statuses = [fake.status_of(bot_sent, "read"), fake.status_of(bot_sent, "sent"),
                fake.status_of(agent_sent, "sent"),
                fake.status_of(agent_sent, "failed", codes=(131026,)),
                fake.status_of(bot_sent, "failed", codes=(131026,))]
    for _ in range(2):
        status, answer = await fake.post(fake.batch(fake.value(statuses=statuses)))
        assert status == 200 and answer["statuses"] == 5
    (failed,) = c.ctx.events_of(ev.DeliveryFailed)
    assert failed.kind == "citizen.message" and failed.payload["party"] == "agent"
    assert failed.source_id == f"status-failed:{agent_sent['_wamid']}"
    assert (await c.adapter.sends.get(bot_sent["biz_opaque_callback_data"])).state == "read"  # type: ignore[union-attr]


async def test_outside_the_window_an_agent_reply_goes_as_the_template(channel: Channel) -> None:
    c = channel
    conv = await citizen(c)
    c.ctx.set_state(conv.id, State.AGENT, "Sanne")
    c.clock.advance(25 * 3600)
    reply = out(Content("Uw vergunning is verleend.\nGroet, Sanne", attachments=(
        Attachment("https://gemeente.test/besluit.pdf", "besluit.pdf", "application/pdf"),)),
        party=Party.AGENT)
    await c.adapter.deliver(conv, reply)
    (sent,) = c.fake.sent
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "agent_reply"
    assert sent["template"]["language"] == {"code": "nl"}
    assert c.fake.texts() == ["template:agent_reply:Uw vergunning is verleend. Groet, Sanne "
                              "besluit.pdf: https://gemeente.test/besluit.pdf"]
    (notice,) = c.ctx.events_of(ev.ChannelNotice)
    assert notice.kind == "template_fallback"
    # A bot or system text has no template: it cannot go out, and says why.
    with pytest.raises(PermanentError, match="24-hour window"):
        await c.adapter.deliver(conv, out("Hoe tevreden bent u?", party=Party.SYSTEM))
    # The citizen writes again: the window is open and ordinary messages flow.
    await c.fake.say(CITIZEN, "Dank u")
    await c.adapter.deliver(conv, out("Graag gedaan", party=Party.AGENT))
    assert c.fake.texts()[-1] == "Graag gedaan"


async def test_when_meta_says_the_window_closed_the_agent_reply_still_arrives(
    channel: Channel,
) -> None:
    c = channel
    conv = await citizen(c)
    # Meta's record is older than ours (our clock and theirs disagree).
    c.fake.last_inbound[CITIZEN] = c.clock.now().replace(year=2025)
    await c.adapter.deliver(conv, out("Laat antwoord", party=Party.AGENT))
    assert c.fake.texts() == ["template:agent_reply:Laat antwoord"]


async def test_a_queued_citizen_is_told_before_the_window_closes_once(channel: Channel) -> None:
    c = channel
    conv = await citizen(c)
    other = c.ctx.add_conversation(channel="wa", channel_key="31600000000")
    await c.adapter.sends.inbound(other.id, c.clock.now())
    c.ctx.set_state(conv.id, State.QUEUED)
    c.clock.advance(21 * 3600)
    await c.adapter.check_windows()
    assert c.ctx.events_of(ev.ChannelNotice) == []  # 3 hours left: not yet
    c.clock.advance(1.5 * 3600)
    await c.adapter.check_windows()
    await c.adapter.check_windows()
    (notice,) = c.ctx.events_of(ev.ChannelNotice)
    assert notice.kind == "window_closing" and notice.conversation_id == conv.id
